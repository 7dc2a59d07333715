package digitalocean

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/digitalocean/godo"

	"github.com/dflb/dflb/provider"
)

// Create returns the instance spec.Name once its droplet is active with a
// VPC address and DFM's /healthz returns 200. When a droplet with the
// instance's tag exists, Create waits for that one instead of creating
// another, without checking that it matches spec, and powers it on if it
// is off.
//
// A droplet that does not become ready in time is left running, so that a
// repeated Create continues with it and its logs can be read; Delete
// removes it.
func (p *Provider) Create(ctx context.Context, spec provider.Spec) (provider.Instance, error) {
	const op = "create"
	if err := p.validateSpec(spec); err != nil {
		return provider.Instance{}, opError(provider.KindPermanent, op, spec.Name, err)
	}

	d, err := p.ensureDroplet(ctx, spec)
	if err != nil {
		return provider.Instance{}, err
	}
	if d.Status == "off" {
		// An earlier run may have left the droplet powered off.
		p.log.Info("powering on the existing droplet", "instance", spec.Name, "droplet", d.ID)
		if err := p.runAction(ctx, d.ID, "power_on", p.cfg.ActionTimeout); err != nil {
			return provider.Instance{}, p.actionOpError(op, spec.Name, err)
		}
	}
	if d.Status != "active" || privateIPv4(d) == "" {
		d, err = p.waitActive(ctx, op, spec.Name, d.ID, p.cfg.CreateTimeout)
		if err != nil {
			return provider.Instance{}, err
		}
	}
	inst := p.instance(d)
	p.log.Info("droplet is active", "instance", spec.Name, "droplet", inst.ID, "address", inst.Address)

	if err := p.waitHealthy(ctx, op, inst); err != nil {
		return provider.Instance{}, err
	}
	inst.State = provider.StateActive
	return inst, nil
}

// ensureDroplet returns the droplet of spec.Name, creating it when no
// droplet has its instance tag. A create request whose outcome is unknown
// (a timeout, a lost response or a 5xx status) may have created the
// droplet, so the next attempt lists by the tag before it sends the
// request again.
func (p *Provider) ensureDroplet(ctx context.Context, spec provider.Spec) (*godo.Droplet, error) {
	const op = "create"
	vpcRange, err := p.vpcIPRange(ctx, op, spec.Name)
	if err != nil {
		return nil, err
	}
	userData, err := p.renderUserData(spec, vpcRange)
	if err != nil {
		return nil, opError(provider.KindPermanent, op, spec.Name, err)
	}

	var lastErr error
	for attempt := 0; attempt <= p.cfg.MaxRetries; attempt++ {
		if attempt > 0 {
			if err := p.sleep(ctx, backoff(attempt-1)); err != nil {
				return nil, opError(provider.KindTransient, op, spec.Name, fmt.Errorf("waiting to look for droplet %s again: %w (last error: %v)", p.dropletName(spec.Name), err, lastErr))
			}
		}
		d, created, err := p.findOrCreate(ctx, spec, userData)
		if err == nil {
			if !created && attempt > 0 {
				p.log.Info("found the droplet of a create request whose response was lost", "instance", spec.Name, "droplet", d.ID)
			}
			return d, nil
		}
		if !isAmbiguous(err) || ctx.Err() != nil {
			return nil, err
		}
		lastErr = err
		p.log.Warn("create request outcome unknown, listing by the instance tag before trying again",
			"instance", spec.Name, "droplet_name", p.dropletName(spec.Name), "attempt", attempt+1, "error", err.Error())
	}
	return nil, lastErr
}

// findOrCreate looks for the droplet by its instance tag and creates it
// when none has the tag. createMu makes the look-up, the MaxDroplets count
// and the create request one step within this process.
func (p *Provider) findOrCreate(ctx context.Context, spec provider.Spec, userData string) (*godo.Droplet, bool, error) {
	const op = "create"
	name := p.dropletName(spec.Name)
	p.createMu.Lock()
	defer p.createMu.Unlock()

	d, err := p.findInstance(ctx, spec.Name)
	if err != nil {
		return nil, false, apiOpError(op, spec.Name, fmt.Errorf("looking for droplet %s by tag %s: %w", name, p.instanceTag(spec.Name), err))
	}
	if d != nil {
		p.log.Info("droplet exists", "instance", spec.Name, "droplet", d.ID, "status", d.Status)
		return d, false, nil
	}

	if err := p.checkMaxDroplets(ctx, spec.Name, name); err != nil {
		return nil, false, err
	}
	d, err = p.createDroplet(ctx, spec, name, userData)
	if err != nil {
		return nil, false, err
	}
	return d, true, nil
}

// findInstance returns the droplet with the instance tag of name, or nil.
// Of several such droplets, which only a bug or a second DFLB can make, it
// returns the oldest and logs the others.
func (p *Provider) findInstance(ctx context.Context, name string) (*godo.Droplet, error) {
	tag := p.instanceTag(name)
	droplets, err := p.listByTag(ctx, tag)
	if err != nil {
		return nil, err
	}
	droplets = slices.DeleteFunc(droplets, func(d godo.Droplet) bool { return !slices.Contains(d.Tags, tag) })
	if len(droplets) == 0 {
		return nil, nil
	}
	slices.SortFunc(droplets, func(a, b godo.Droplet) int { return a.ID - b.ID })
	if len(droplets) > 1 {
		var extra []int
		for _, d := range droplets[1:] {
			extra = append(extra, d.ID)
		}
		p.log.Error("several droplets have the same instance tag, using the oldest", "instance", name, "tag", tag,
			"droplet", droplets[0].ID, "duplicates", extra, "fix", "delete the duplicate droplets")
	}
	return &droplets[0], nil
}

// checkMaxDroplets fails when the cluster already has MaxDroplets
// droplets, so that a bug or a bad configuration cannot create droplets
// without limit.
func (p *Provider) checkMaxDroplets(ctx context.Context, instance, dropletName string) error {
	const op = "create"
	droplets, err := p.listByTag(ctx, p.clusterTag())
	if err != nil {
		return apiOpError(op, instance, fmt.Errorf("counting the droplets tagged %s: %w", p.clusterTag(), err))
	}
	if len(droplets) >= p.cfg.MaxDroplets {
		return opError(provider.KindPermanent, op, instance, fmt.Errorf(
			"not creating droplet %s: cluster %s already has %d droplets and max_droplets is %d: delete unused instances or raise provider.digitalocean.max_droplets",
			dropletName, p.cfg.Cluster, len(droplets), p.cfg.MaxDroplets))
	}
	return nil
}

// createDroplet sends the create request. It repeats the request only
// after a 429, which the API rejects before acting on it.
func (p *Provider) createDroplet(ctx context.Context, spec provider.Spec, name, userData string) (*godo.Droplet, error) {
	const op = "create"
	image := spec.Image
	if image == "" {
		image = p.cfg.Image
	}
	req := &godo.DropletCreateRequest{
		Name:     name,
		Region:   p.cfg.Region,
		Size:     p.cfg.Size,
		Image:    createImage(image),
		SSHKeys:  createSSHKeys(p.cfg.SSHKeys),
		UserData: userData,
		Tags:     p.dropletTags(spec),
		VPCUUID:  p.cfg.VPCUUID,
	}
	p.log.Info("creating droplet", "instance", spec.Name, "droplet_name", name, "region", req.Region, "size", req.Size, "image", image)

	var d *godo.Droplet
	const endpoint = "POST /v2/droplets"
	err := p.call(ctx, endpoint, false, func(ctx context.Context) (resp *godo.Response, err error) {
		d, resp, err = p.api.Droplets.Create(ctx, req)
		return resp, err
	})
	if err == nil && d == nil {
		err = &apiError{kind: provider.KindTransient, ambiguous: true, endpoint: endpoint, err: errors.New("the response contains no droplet")}
	}
	if err != nil {
		return nil, apiOpError(op, spec.Name, fmt.Errorf("creating droplet %s: %w", name, err))
	}
	p.log.Info("droplet created", "instance", spec.Name, "droplet", d.ID, "status", d.Status)
	return d, nil
}

// createImage reads a numeric image as an ID and anything else as a slug.
func createImage(image string) godo.DropletCreateImage {
	if id, err := strconv.Atoi(image); err == nil {
		return godo.DropletCreateImage{ID: id}
	}
	return godo.DropletCreateImage{Slug: image}
}

// createSSHKeys reads each numeric key as an ID and anything else as a
// fingerprint.
func createSSHKeys(keys []string) []godo.DropletCreateSSHKey {
	out := make([]godo.DropletCreateSSHKey, 0, len(keys))
	for _, key := range keys {
		if id, err := strconv.Atoi(key); err == nil {
			out = append(out, godo.DropletCreateSSHKey{ID: id})
		} else {
			out = append(out, godo.DropletCreateSSHKey{Fingerprint: key})
		}
	}
	return out
}
