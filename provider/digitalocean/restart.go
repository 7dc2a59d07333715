package digitalocean

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/digitalocean/godo"

	"github.com/dflb/dflb/provider"
)

// Restart reboots the droplet through a reboot action, which shuts the
// system down gracefully, so systemd stops DFM and its components first.
// When the reboot does not complete within RebootTimeout, or errors,
// Restart power cycles the droplet. A droplet that is off is powered on.
// Then Restart waits until the droplet is active and DFM's /healthz
// returns 200.
func (p *Provider) Restart(ctx context.Context, id string) error {
	const op = "restart"
	d, err := p.clusterDroplet(ctx, op, id)
	if err != nil {
		return err
	}
	inst := p.instance(d)

	if d.Status == "off" {
		p.log.Info("powering on droplet", "instance", inst.Name, "droplet", d.ID)
		if err := p.runAction(ctx, d.ID, "power_on", p.cfg.ActionTimeout); err != nil {
			return p.actionOpError(op, id, err)
		}
	} else {
		if err := p.rebootOrPowerCycle(ctx, inst, d.ID); err != nil {
			return p.actionOpError(op, id, err)
		}
	}

	d, err = p.waitActive(ctx, op, id, d.ID, p.cfg.CreateTimeout)
	if err != nil {
		return err
	}
	return p.waitHealthy(ctx, op, p.instance(d))
}

// rebootOrPowerCycle reboots the droplet and falls back to a power cycle,
// which cuts the power without a shutdown, when the reboot does not
// complete.
func (p *Provider) rebootOrPowerCycle(ctx context.Context, inst provider.Instance, dropletID int) error {
	p.log.Info("rebooting droplet", "instance", inst.Name, "droplet", dropletID)
	err := p.runAction(ctx, dropletID, "reboot", p.cfg.RebootTimeout)
	if err == nil {
		return nil
	}
	if !errors.Is(err, errActionTimedOut) && !errors.Is(err, errActionErrored) {
		return err
	}

	// NOTE: the API may reject the power cycle with 422 while the reboot
	// is still in progress; the error then names that status and message.
	p.log.Warn("reboot did not complete, power cycling the droplet", "instance", inst.Name, "droplet", dropletID, "error", err.Error())
	return p.runAction(ctx, dropletID, "power_cycle", p.cfg.ActionTimeout)
}

// runAction starts a droplet action of the given type and waits up to
// timeout for it to complete. The action request is not repeated after a
// timeout or 5xx status, because a lost response may hide a started
// action.
func (p *Provider) runAction(ctx context.Context, dropletID int, actionType string, timeout time.Duration) error {
	start, ok := map[string]func(context.Context, int) (*godo.Action, *godo.Response, error){
		"reboot":      p.api.DropletActions.Reboot,
		"power_cycle": p.api.DropletActions.PowerCycle,
		"power_on":    p.api.DropletActions.PowerOn,
	}[actionType]
	if !ok {
		return fmt.Errorf("unsupported droplet action %q", actionType)
	}

	var action *godo.Action
	endpoint := "POST /v2/droplets/" + strconv.Itoa(dropletID) + "/actions (" + actionType + ")"
	err := p.call(ctx, endpoint, false, func(ctx context.Context) (resp *godo.Response, err error) {
		action, resp, err = start(ctx, dropletID)
		return resp, err
	})
	if err != nil {
		return fmt.Errorf("starting %s: %w", actionType, err)
	}
	if action == nil {
		return fmt.Errorf("starting %s on droplet %d: the response contains no action", actionType, dropletID)
	}
	return p.waitAction(ctx, dropletID, action, timeout)
}

// actionOpError classifies a failed action: an API error keeps its kind,
// and an action that errored or timed out may pass on a later try.
func (p *Provider) actionOpError(op, id string, err error) error {
	var e *apiError
	if errors.As(err, &e) {
		return apiOpError(op, id, err)
	}
	return opError(provider.KindTransient, op, id, err)
}
