package digitalocean

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/digitalocean/godo"

	"github.com/dflb/dflb/provider"
)

// maxListPages bounds one listing, so that a next link that never ends
// cannot loop forever. At 200 droplets a page it allows 100,000 droplets.
const maxListPages = 500

// Get returns the droplet with the given ID if it belongs to the cluster.
// An ID that is not a droplet ID, an unknown droplet and a droplet without
// the cluster tag are errors that match provider.ErrNotFound. The state
// comes from the droplet's status and, for an active droplet, one request
// to DFM's /healthz.
func (p *Provider) Get(ctx context.Context, id string) (provider.Instance, error) {
	const op = "get"
	d, err := p.clusterDroplet(ctx, op, id)
	if err != nil {
		return provider.Instance{}, err
	}
	return p.observe(ctx, p.instance(d)), nil
}

// List returns every droplet with the cluster tag, sorted by instance
// name, with states as Get reports them.
func (p *Provider) List(ctx context.Context) ([]provider.Instance, error) {
	const op = "list"
	droplets, err := p.listByTag(ctx, p.clusterTag())
	if err != nil {
		return nil, apiOpError(op, "", fmt.Errorf("listing droplets tagged %s: %w", p.clusterTag(), err))
	}

	// The health checks run in parallel, so that unresponsive droplets
	// cost one health_timeout in total instead of one each.
	instances := make([]provider.Instance, len(droplets))
	var wg sync.WaitGroup
	for i := range droplets {
		wg.Go(func() {
			instances[i] = p.observe(ctx, p.instance(&droplets[i]))
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, opError(provider.KindTransient, op, "", err)
	}
	slices.SortFunc(instances, func(a, b provider.Instance) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	return instances, nil
}

// clusterDroplet reads the droplet id and checks that it has the cluster
// tag. Every failure is a provider error of operation op.
func (p *Provider) clusterDroplet(ctx context.Context, op, id string) (*godo.Droplet, error) {
	dropletID, ok := parseDropletID(id)
	if !ok {
		return nil, opError(provider.KindNotFound, op, id, fmt.Errorf("%q is not a droplet ID", id))
	}
	d, err := p.getDroplet(ctx, dropletID)
	if isNotFound(err) {
		return nil, opError(provider.KindNotFound, op, id, fmt.Errorf("droplet %d does not exist: %w", dropletID, err))
	}
	if err != nil {
		return nil, apiOpError(op, id, fmt.Errorf("reading droplet %d: %w", dropletID, err))
	}
	if !p.inCluster(d) {
		return nil, opError(provider.KindNotFound, op, id, fmt.Errorf("droplet %d (%s) is not tagged %s, so it is not an instance of this cluster", dropletID, d.Name, p.clusterTag()))
	}
	return d, nil
}

// getDroplet reads one droplet. A missing droplet is an *apiError of
// kind not found.
func (p *Provider) getDroplet(ctx context.Context, id int) (*godo.Droplet, error) {
	var d *godo.Droplet
	endpoint := "GET /v2/droplets/" + strconv.Itoa(id)
	err := p.call(ctx, endpoint, true, func(ctx context.Context) (resp *godo.Response, err error) {
		d, resp, err = p.api.Droplets.Get(ctx, id)
		return resp, err
	})
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, &apiError{kind: provider.KindTransient, endpoint: endpoint, err: errors.New("the response contains no droplet")}
	}
	return d, nil
}

// listByTag returns every droplet with the tag, following the next links
// page by page. A droplet that moves between pages while the listing runs
// is returned once.
func (p *Provider) listByTag(ctx context.Context, tag string) ([]godo.Droplet, error) {
	var all []godo.Droplet
	seen := make(map[int]bool)
	page := 1
	for range maxListPages {
		opt := &godo.ListOptions{Page: page, PerPage: p.pageSize}
		endpoint := fmt.Sprintf("GET /v2/droplets?tag_name=%s&page=%d", tag, page)
		var droplets []godo.Droplet
		var links *godo.Links
		err := p.call(ctx, endpoint, true, func(ctx context.Context) (resp *godo.Response, err error) {
			droplets, resp, err = p.api.Droplets.ListByTag(ctx, tag, opt)
			if resp != nil {
				links = resp.Links
			}
			return resp, err
		})
		if err != nil {
			return nil, err
		}
		for _, d := range droplets {
			if !seen[d.ID] {
				seen[d.ID] = true
				all = append(all, d)
			}
		}

		next, err := nextPage(links, page)
		if err != nil {
			return nil, err
		}
		if next == 0 {
			return all, nil
		}
		page = next
	}
	return nil, fmt.Errorf("more than %d pages of droplets tagged %s", maxListPages, tag)
}

// nextPage returns the number of the page that the next link points to, or
// 0 on the last page. A listing that fits on one page may have no links
// at all.
func nextPage(links *godo.Links, current int) (int, error) {
	if links == nil || links.Pages == nil || links.Pages.Next == "" {
		return 0, nil
	}
	u, err := url.Parse(links.Pages.Next)
	if err != nil {
		return 0, fmt.Errorf("invalid next page link %q: %w", links.Pages.Next, err)
	}
	next, err := strconv.Atoi(u.Query().Get("page"))
	if err != nil || next <= current {
		return 0, fmt.Errorf("the next page link %q does not point past page %d", links.Pages.Next, current)
	}
	return next, nil
}

// instance converts a droplet into an Instance whose state comes from the
// droplet's status alone.
func (p *Provider) instance(d *godo.Droplet) provider.Instance {
	inst := provider.Instance{
		ID:    strconv.Itoa(d.ID),
		Name:  p.instanceName(d),
		Tags:  labels(d),
		State: dropletState(d.Status),
	}
	if inst.Name == "" {
		inst.Name = d.Name
	}
	if address := privateIPv4(d); address != "" {
		inst.Address = address
		inst.DFMURL = "http://" + net.JoinHostPort(address, strconv.Itoa(p.cfg.DFMPort))
	}
	if created, err := time.Parse(time.RFC3339, d.Created); err == nil {
		inst.Created = created
	}
	return inst
}

// observe sets the state of an active droplet from one /healthz request:
// active when DFM returns 200, unknown otherwise, which includes a DFM
// that is still starting on a new droplet.
func (p *Provider) observe(ctx context.Context, inst provider.Instance) provider.Instance {
	if inst.State != provider.StateActive {
		return inst
	}
	if inst.DFMURL == "" || p.probe(ctx, inst.DFMURL) != nil {
		inst.State = provider.StateUnknown
	}
	return inst
}

// dropletState maps a droplet status to an instance state.
func dropletState(status string) provider.State {
	switch status {
	case "new":
		return provider.StateNew
	case "active":
		return provider.StateActive
	case "off", "archive":
		return provider.StateOff
	default:
		return provider.StateUnknown
	}
}

// privateIPv4 returns the droplet's VPC address, or "" before the API
// has assigned one.
func privateIPv4(d *godo.Droplet) string {
	if d.Networks == nil {
		return ""
	}
	for _, v4 := range d.Networks.V4 {
		if v4.Type == "private" && net.ParseIP(v4.IPAddress) != nil {
			return v4.IPAddress
		}
	}
	return ""
}

// parseDropletID returns the droplet ID in id, which DigitalOcean numbers
// from 1.
func parseDropletID(id string) (int, bool) {
	n, err := strconv.Atoi(id)
	if err != nil || n < 1 || strconv.Itoa(n) != id {
		return 0, false
	}
	return n, true
}
