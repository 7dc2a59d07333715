package controlplane

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dflb/dflb/dfmapi"
	"github.com/dflb/dflb/provider"
)

// createAttempts bounds the provider calls of one create.
const createAttempts = 6

// stepCreate creates op's instances through the provider. Create is
// idempotent by name, so a resumed step finds what an earlier attempt
// made instead of making a second instance.
func (c *Controller) stepCreate(ctx context.Context, op *Operation) error {
	for _, name := range op.Create {
		inst, err := c.create(ctx, name)
		if err != nil {
			return err
		}

		c.mu.Lock()
		if r, ok := c.state.Instances[name]; ok {
			r.ProviderID, r.Address, r.DFMURL = inst.ID, inst.Address, inst.DFMURL
		}
		err = c.save(nil)
		c.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// create calls Provider.Create and retries transient failures and rate
// limits with backoff, waiting as long as the provider requests.
func (c *Controller) create(ctx context.Context, name string) (provider.Instance, error) {
	spec := provider.Spec{Name: name, Image: c.Launcher.Image, Bootstrap: c.Launcher.Bootstrap}
	for attempt := 1; ; attempt++ {
		started := c.now()
		inst, err := c.Provider.Create(ctx, spec)
		if err == nil {
			c.logger().Info("instance created", "instance", name, "address", inst.Address, "attempt", attempt,
				"took", c.now().Sub(started).Round(time.Millisecond).String())
			return inst, nil
		}

		retryable, wait := provider.IsRetryable(err)
		if !retryable || attempt >= createAttempts || ctx.Err() != nil {
			return provider.Instance{}, fmt.Errorf("creating instance %s (attempt %d): %w", name, attempt, err)
		}
		wait = max(wait, backoff(attempt-1))
		c.logger().Warn("creating instance failed, retrying", "instance", name, "attempt", attempt,
			"retry_in", wait.String(), "error", err)
		if err := sleepCtx(ctx, wait); err != nil {
			return provider.Instance{}, err
		}
	}
}

// stepWiden has every instance that gains tenants serve them in addition
// to its own, and waits until its components confirm.
func (c *Controller) stepWiden(ctx context.Context, op *Operation) error {
	c.mu.Lock()
	plans := map[string][]string{}
	for _, name := range op.targets() {
		r, ok := c.state.Instances[name]
		if !ok {
			c.mu.Unlock()
			return fmt.Errorf("operation %d gives tenants to instance %s, which the state does not have", op.ID, name)
		}
		tenants := slices.Concat(r.serves(), op.Layout[name])
		slices.Sort(tenants)
		plans[name] = slices.Compact(tenants)
	}
	c.mu.Unlock()

	return c.startAll(ctx, plans)
}

// stepSwitch gives the affected instances their new tenants in the state
// and publishes the routes, in one table swap.
func (c *Controller) stepSwitch(op *Operation) error {
	c.mu.Lock()
	defer c.mu.Unlock()

	now := c.now()
	previous := c.state.clone()
	for name, tenants := range op.Layout {
		c.state.setTenants(name, tenants, now)
	}
	for _, name := range op.Create {
		if r, ok := c.state.Instances[name]; ok {
			r.Phase = PhaseReady
		}
	}
	for _, name := range op.Retire {
		if r, ok := c.state.Instances[name]; ok {
			r.Phase = PhaseRetiring
		}
		// The new table no longer has these backends, so the pool drops
		// them; the drain step counts their requests in flight here.
		c.retiring[name] = backendsOf(c.Pool, name, "")
	}
	if err := c.publish(); err != nil {
		// The routes did not change, so neither does the placement.
		previous.Op = c.state.Op
		c.state = previous
		return fmt.Errorf("publishing routes of operation %d: %w", op.ID, err)
	}

	c.state.Op.Switched = now
	op.Switched = now
	c.decide(Decision{Kind: "switch", Instance: firstOf(op.targets()), Op: op.ID,
		Decided: "routes switched: " + describeLayout(op.Layout),
		Took:    Duration(now.Sub(op.Started))})
	return nil
}

// describeLayout writes a layout as "i1: a, b; i2: c".
func describeLayout(layout map[string][]string) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(layout)) {
		parts = append(parts, name+": "+strings.Join(layout[name], ", "))
	}
	return strings.Join(parts, "; ")
}

// stepNarrow has every instance that lost tenants drop them.
func (c *Controller) stepNarrow(ctx context.Context, op *Operation) error {
	if err := sleepCtx(ctx, narrowDelay); err != nil {
		return err
	}
	return c.narrowAll(ctx, op.sources())
}

// narrowAll has each named instance serve exactly its state's tenants.
func (c *Controller) narrowAll(ctx context.Context, names []string) error {
	c.mu.Lock()
	plans := map[string][]string{}
	for _, name := range names {
		if r, ok := c.state.Instances[name]; ok && r.Phase != PhaseCreating {
			plans[name] = r.serves()
		}
	}
	c.mu.Unlock()
	return c.startAll(ctx, plans)
}

// startAll has the DFM of each instance in plans start its components with
// the tenants given, all at once, and records their addresses.
func (c *Controller) startAll(ctx context.Context, plans map[string][]string) error {
	errs := make([]error, 0, len(plans))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, tenants := range plans {
		wg.Go(func() {
			err := c.startOn(ctx, name, tenants)
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// startOn starts the components of one instance with tenants and records
// the addresses that DFM reports.
func (c *Controller) startOn(ctx context.Context, name string, tenants []string) error {
	c.mu.Lock()
	r, ok := c.state.Instances[name]
	if !ok {
		c.mu.Unlock()
		return fmt.Errorf("instance %s is not in the state", name)
	}
	inst := provider.Instance{ID: r.ProviderID, Name: r.Name, Address: r.Address, DFMURL: r.DFMURL}
	c.mu.Unlock()
	if inst.DFMURL == "" {
		return fmt.Errorf("instance %s has no DFM address yet", name)
	}

	spec, err := c.Launcher.start(ctx, inst, Plan{ID: name, Components: c.Components, Tenants: tenants}, c.now())
	if err != nil {
		return err
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.state.Instances[name]; ok {
		r.Components = spec.Components
	}
	c.observation(name).applied = c.now()
	return c.save(nil)
}

// stepDrain waits until the retired instances have no request in flight,
// or until DrainTimeout. Cancelling the operation ends the wait.
func (c *Controller) stepDrain(ctx context.Context, op *Operation) error {
	if !op.Graceful {
		return nil
	}
	deadline := c.now().Add(c.Policy.DrainTimeout)
	for _, name := range op.Retire {
		c.mu.Lock()
		backends, ok := c.retiring[name]
		c.mu.Unlock()
		if !ok {
			// Resumed after a restart: no request of this process can be
			// in flight on backends the pool no longer has.
			backends = backendsOf(c.Pool, name, "")
		}
		for {
			inflight := int64(0)
			for _, b := range backends {
				inflight += b.Inflight()
			}
			if inflight == 0 {
				break
			}
			if c.now().After(deadline) {
				c.logger().Warn("drain deadline passed with requests in flight", "instance", name, "inflight", inflight,
					"drain_timeout", c.Policy.DrainTimeout.String())
				break
			}
			if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
				return err
			}
		}
	}
	return nil
}

// stepShutdown requests a graceful shutdown from each retired instance's DFM
// and waits until it confirms, by its status or by no longer responding.
func (c *Controller) stepShutdown(ctx context.Context, op *Operation) error {
	if !op.Graceful {
		return nil
	}
	for _, name := range op.Retire {
		if err := c.shutdown(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

func (c *Controller) shutdown(ctx context.Context, name string) error {
	c.mu.Lock()
	r, ok := c.state.Instances[name]
	var url string
	if ok {
		url = r.DFMURL
	}
	c.mu.Unlock()
	if url == "" {
		return nil
	}

	client := &dfmapi.Client{BaseURL: url, Token: c.Launcher.Bootstrap.Secret}
	timeout := c.Policy.ShutdownTimeout
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := client.Shutdown(ctx, dfmapi.ShutdownRequest{Deadline: dfmapi.Duration(timeout / 2)}); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("instance %s did not accept the shutdown within %s: %w", name, timeout, err)
		}
		c.logger().Warn("shutdown request failed; deleting the instance ends it", "instance", name, "error", err)
		return nil
	}

	started := c.now()
	for {
		status, err := client.Status(ctx)
		if err != nil || status.State == dfmapi.InstanceStopped {
			c.logger().Info("instance shut down", "instance", name, "took", c.now().Sub(started).Round(time.Millisecond).String())
			return nil
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			c.logger().Warn("shutdown not confirmed in time; deleting the instance ends it", "instance", name, "timeout", timeout.String())
			return nil
		}
	}
}

// stepDelete deletes the retired instances and removes their records.
func (c *Controller) stepDelete(ctx context.Context, op *Operation) error {
	for _, name := range op.Retire {
		if err := c.deleteInstance(ctx, name); err != nil {
			return err
		}
		c.mu.Lock()
		delete(c.state.Instances, name)
		delete(c.observed, name)
		delete(c.retiring, name)
		err := c.save(nil)
		c.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// deleteInstance deletes the named instance through the provider, by its
// provider ID or, when that is not known yet, by finding its name.
func (c *Controller) deleteInstance(ctx context.Context, name string) error {
	c.mu.Lock()
	var id string
	if r, ok := c.state.Instances[name]; ok {
		id = r.ProviderID
	}
	c.mu.Unlock()

	if id == "" {
		listed, err := c.Provider.List(ctx)
		if err != nil {
			return fmt.Errorf("listing instances to delete %s: %w", name, err)
		}
		for _, inst := range listed {
			if inst.Name == name {
				id = inst.ID
			}
		}
		if id == "" {
			return nil
		}
	}
	if err := c.Provider.Delete(ctx, id); err != nil {
		return fmt.Errorf("deleting instance %s: %w", name, err)
	}
	c.logger().Info("instance deleted", "instance", name)
	return nil
}
