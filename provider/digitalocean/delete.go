package digitalocean

import (
	"context"
	"fmt"
	"strconv"

	"github.com/digitalocean/godo"

	"github.com/dflb/dflb/provider"
)

// Delete destroys the droplet with the given ID. An ID that is not a
// droplet ID and a droplet that is already gone return nil. A droplet
// without the cluster tag is not deleted, so that a wrong ID cannot
// destroy a droplet of another cluster or service. Delete never deletes
// by tag, which would take the whole cluster.
func (p *Provider) Delete(ctx context.Context, id string) error {
	const op = "delete"
	dropletID, ok := parseDropletID(id)
	if !ok {
		return nil
	}

	d, err := p.getDroplet(ctx, dropletID)
	if isNotFound(err) {
		p.log.Info("droplet already deleted", "droplet", dropletID)
		return nil
	}
	if err != nil {
		return apiOpError(op, id, fmt.Errorf("reading droplet %d: %w", dropletID, err))
	}
	if !p.inCluster(d) {
		return opError(provider.KindPermanent, op, id, fmt.Errorf("droplet %d (%s) is not tagged %s: not deleting a droplet outside this cluster", dropletID, d.Name, p.clusterTag()))
	}

	endpoint := "DELETE /v2/droplets/" + strconv.Itoa(dropletID)
	err = p.call(ctx, endpoint, true, func(ctx context.Context) (*godo.Response, error) {
		return p.api.Droplets.Delete(ctx, dropletID)
	})
	if isNotFound(err) {
		// A repeated DELETE whose first response was lost ends here.
		err = nil
	}
	if err != nil {
		return apiOpError(op, id, fmt.Errorf("deleting droplet %d (%s): %w", dropletID, d.Name, err))
	}
	p.log.Info("deleted droplet", "instance", p.instanceName(d), "droplet", dropletID, "droplet_name", d.Name)
	return nil
}
