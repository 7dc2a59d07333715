package digitalocean

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/digitalocean/godo"

	"github.com/dflb/dflb/provider"
)

// Final action statuses of the API. An action in progress has the status
// "in-progress".
const (
	actionCompleted = "completed"
	actionErrored   = "errored"
)

// Errors of waitAction, for errors.Is.
var (
	errActionTimedOut = errors.New("action timed out")
	errActionErrored  = errors.New("action errored")
)

// errDeadline is the end of a wait by the provider's clock.
var errDeadline = errors.New("deadline passed")

// withDeadline bounds a wait of the given length twice: by a context for
// the requests, and by a deadline on the provider's clock for the polling
// loop, which tests advance without sleeping. Both end at the same time
// in production.
func (p *Provider) withDeadline(ctx context.Context, timeout time.Duration) (context.Context, time.Time, context.CancelFunc) {
	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	return waitCtx, p.now().Add(timeout), cancel
}

// pause waits one PollInterval before the next poll. It returns
// errDeadline once the deadline has passed, and ctx's error when ctx
// ends first.
func (p *Provider) pause(ctx context.Context, deadline time.Time) error {
	if !p.now().Before(deadline) {
		return errDeadline
	}
	return p.sleep(ctx, p.cfg.PollInterval)
}

// waitActive polls the droplet until it is active and has a VPC address,
// for at most timeout. It is written here instead of using godo's
// util.WaitForActive, which returns no error when its context ends while
// the droplet is still being created.
func (p *Provider) waitActive(ctx context.Context, op, name string, id int, timeout time.Duration) (*godo.Droplet, error) {
	waitCtx, deadline, cancel := p.withDeadline(ctx, timeout)
	defer cancel()

	status := "not read yet"
	for {
		d, err := p.getDroplet(waitCtx, id)
		switch {
		case err == nil:
			status = d.Status
			if d.Status == "active" && privateIPv4(d) != "" {
				return d, nil
			}
		case isNotFound(err):
			return nil, opError(provider.KindPermanent, op, name, fmt.Errorf("droplet %d disappeared while starting: %w", id, err))
		case waitCtx.Err() == nil:
			return nil, apiOpError(op, name, fmt.Errorf("waiting for droplet %d to become active: %w", id, err))
		}

		if err := p.pause(waitCtx, deadline); err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, opError(provider.KindTransient, op, name, fmt.Errorf("waiting for droplet %d to become active: %w (status %q)", id, ctxErr, status))
			}
			return nil, opError(provider.KindTransient, op, name, fmt.Errorf("droplet %d is not active with a VPC address after %s (status %q): check it in the control panel", id, timeout, status))
		}
	}
}

// waitHealthy polls DFM's /healthz until it returns 200, for at most
// ReadyTimeout.
func (p *Provider) waitHealthy(ctx context.Context, op string, inst provider.Instance) error {
	waitCtx, deadline, cancel := p.withDeadline(ctx, p.cfg.ReadyTimeout)
	defer cancel()

	for {
		err := p.probe(waitCtx, inst.DFMURL)
		if err == nil {
			p.log.Info("DFM is healthy", "instance", inst.Name, "droplet", inst.ID, "address", inst.Address)
			return nil
		}
		if sleepErr := p.pause(waitCtx, deadline); sleepErr != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return opError(provider.KindTransient, op, inst.Name, fmt.Errorf("waiting for DFM on droplet %s: %w (last probe: %v)", inst.ID, ctxErr, err))
			}
			return opError(provider.KindTransient, op, inst.Name, fmt.Errorf("DFM on droplet %s did not return 200 from %s/healthz within %s (last probe: %v): read /var/log/cloud-init-output.log and journalctl -u dfm.service on the droplet", inst.ID, inst.DFMURL, p.cfg.ReadyTimeout, err))
		}
	}
}

// probe sends one GET /healthz to DFM.
func (p *Provider) probe(ctx context.Context, dfmURL string) error {
	url := dfmURL + "/healthz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := p.health.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return nil
}

// waitAction polls a droplet action until it completes, for at most
// timeout. It returns an error that matches errActionErrored when the
// action failed and errActionTimedOut when time ran out.
func (p *Provider) waitAction(ctx context.Context, dropletID int, action *godo.Action, timeout time.Duration) error {
	waitCtx, deadline, cancel := p.withDeadline(ctx, timeout)
	defer cancel()

	for {
		switch action.Status {
		case actionCompleted:
			return nil
		case actionErrored:
			return fmt.Errorf("%s action %d on droplet %d: %w", action.Type, action.ID, dropletID, errActionErrored)
		}

		if err := p.pause(waitCtx, deadline); err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return fmt.Errorf("waiting for %s action %d on droplet %d: %w", action.Type, action.ID, dropletID, ctxErr)
			}
			return fmt.Errorf("%s action %d on droplet %d still %s after %s: %w", action.Type, action.ID, dropletID, action.Status, timeout, errActionTimedOut)
		}

		next, err := p.getAction(waitCtx, dropletID, action.ID)
		switch {
		case err == nil:
			action = next
		case waitCtx.Err() != nil:
			// The loop reports the timeout or ctx's end.
		default:
			return fmt.Errorf("reading %s action %d on droplet %d: %w", action.Type, action.ID, dropletID, err)
		}
	}
}

// getAction reads one action of a droplet.
func (p *Provider) getAction(ctx context.Context, dropletID, actionID int) (*godo.Action, error) {
	var action *godo.Action
	endpoint := "GET /v2/droplets/" + strconv.Itoa(dropletID) + "/actions/" + strconv.Itoa(actionID)
	err := p.call(ctx, endpoint, true, func(ctx context.Context) (resp *godo.Response, err error) {
		action, resp, err = p.api.DropletActions.Get(ctx, dropletID, actionID)
		return resp, err
	})
	if err != nil {
		return nil, err
	}
	if action == nil {
		return nil, &apiError{kind: provider.KindTransient, endpoint: endpoint, err: errors.New("the response contains no action")}
	}
	return action, nil
}
