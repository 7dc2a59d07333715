package controlplane

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/dflb/dflb/dfmapi"
)

// narrowDelay is the wait between publishing a table without some
// tenants on an instance and having its DFM drop them, so that requests
// picked from the previous table reach a component that still serves them.
const narrowDelay = 500 * time.Millisecond

// reconcileFailover keeps the tenants of each broken instance served by
// another one as guests, and ends that once their instance has stayed
// healthy for FailbackAfter. It acts on state, not on single events, so a
// lost notification is made up for by the next poll. The caller holds
// c.mu; the DFM calls run in goroutines.
func (c *Controller) reconcileFailover(ctx context.Context, now time.Time) {
	if c.busy == nil {
		c.busy = map[string]bool{}
	}
	if c.checksSuspect() {
		return
	}
	c.reconcileTenants(ctx, now)

	for _, name := range c.state.names() {
		r := c.state.Instances[name]
		o := c.observed[name]
		if r.Phase != PhaseReady || !o.isBroken() || len(r.Tenants) == 0 {
			continue
		}
		missing := slices.DeleteFunc(slices.Clone(r.Tenants), func(t string) bool {
			return c.state.servedElsewhere(t, name, c.healthy)
		})
		if len(missing) == 0 {
			continue
		}
		host := c.failoverHost(name)
		if host == "" {
			c.skip(name, o.brokenReason, "no other healthy instance to serve its tenants; they get 503 with Retry-After until it recovers")
			continue
		}
		if c.busy[host] {
			continue
		}
		c.busy[host] = true
		go c.failover(ctx, name, host, missing, o.brokenReason)
	}

	for _, host := range c.state.names() {
		r := c.state.Instances[host]
		if len(r.Guests) == 0 || c.busy[host] {
			continue
		}
		var back []string
		for _, g := range r.Guests {
			home, ok := c.state.placedOn(g)
			if !ok || home == host {
				back = append(back, g) // removed, or moved here meanwhile
				continue
			}
			o := c.observed[home]
			if o != nil && !o.broken && !o.healthySince.IsZero() && now.Sub(o.healthySince) >= c.Policy.FailbackAfter {
				back = append(back, g)
			}
		}
		if len(back) > 0 {
			c.busy[host] = true
			go c.failback(ctx, host, back)
		}
	}
}

// reconcileTenants has the DFM of each ready instance serve its state's
// tenants again when its status shows otherwise, as after a DFM that
// restarted without its tenant set. It leaves alone the instances of a
// running operation, whose tenant sets change on purpose. The caller
// holds c.mu.
func (c *Controller) reconcileTenants(ctx context.Context, now time.Time) {
	if c.state.Op != nil {
		return
	}
	for _, name := range c.state.names() {
		r := c.state.Instances[name]
		o := c.observed[name]
		// A status polled before the last apply, or while an apply runs
		// (busy), shows the previous tenant set and proves nothing.
		if r.Phase != PhaseReady || c.busy[name] || o == nil || now.Sub(o.polled) > signalFresh || !o.polled.After(o.applied) {
			continue
		}
		want := r.serves()
		if len(want) == 0 || !c.tenantsDiffer(o.status, want) {
			continue
		}
		c.busy[name] = true
		go func() {
			defer c.release(name)
			c.logger().Warn("instance serves other tenants than planned, applying them again", "instance", name,
				"tenants", strings.Join(want, ", "))
			if err := c.startOn(ctx, name, want); err != nil {
				c.logger().Warn("applying tenants again failed", "instance", name, "error", err)
			}
		}()
	}
}

// tenantsDiffer reports whether a component that status lists as up runs
// with other tenants than want, or a component is missing.
func (c *Controller) tenantsDiffer(status dfmapi.Status, want []string) bool {
	for _, name := range c.Components {
		comp, ok := status.Component(name)
		if !ok {
			return true
		}
		if comp.State == dfmapi.ComponentUp && !slices.Equal(slices.Sorted(slices.Values(comp.Tenants)), want) {
			return true
		}
	}
	return false
}

// checksSuspect reports whether more than half of the ready instances look
// broken at once: then the checks are more likely wrong than the
// instances, and routes stay as they are.
func (c *Controller) checksSuspect() bool {
	ready, broken := 0, 0
	for _, r := range c.state.Instances {
		if r.Phase != PhaseReady {
			continue
		}
		ready++
		if c.observed[r.Name].isBroken() {
			broken++
		}
	}
	return broken >= 2 && 2*broken > ready
}

// healthy reports whether the named instance is not known to be broken.
func (c *Controller) healthy(name string) bool {
	return !c.observed[name].isBroken()
}

// failoverHost returns the healthy ready instance other than broken with
// the fewest tenants, or "" when there is none.
func (c *Controller) failoverHost(broken string) string {
	best := ""
	for _, name := range c.state.names() {
		r := c.state.Instances[name]
		if name == broken || r.Phase != PhaseReady || c.observed[name].isBroken() || len(r.Components) == 0 {
			continue
		}
		if best == "" || len(r.serves()) < len(c.state.Instances[best].serves()) {
			best = name
		}
	}
	return best
}

// failover has host serve tenants as guests and then routes them there
// too; the broken instance's backends are already out of rotation.
func (c *Controller) failover(ctx context.Context, broken, host string, tenants []string, observed string) {
	started := c.now()
	defer c.release(host)

	c.mu.Lock()
	r, ok := c.state.Instances[host]
	if !ok {
		c.mu.Unlock()
		return
	}
	serves := r.serves()
	for _, t := range tenants {
		if !slices.Contains(serves, t) {
			serves = append(serves, t)
		}
	}
	slices.Sort(serves)
	c.mu.Unlock()

	if err := c.startOn(ctx, host, serves); err != nil {
		c.logger().Warn("failover could not start tenants on another instance", "instance", broken, "host", host, "error", err)
		return
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok = c.state.Instances[host]
	if !ok {
		return
	}
	for _, t := range tenants {
		if !slices.Contains(r.Guests, t) {
			r.Guests = append(r.Guests, t)
		}
	}
	slices.Sort(r.Guests)
	if err := c.save(nil); err != nil {
		c.logger().Warn("persisting failover failed", "error", err)
	}
	if err := c.publish(); err != nil {
		c.logger().Error("publishing failover routes failed", "instance", broken, "host", host, "error", err)
		return
	}
	c.decide(Decision{Kind: "failover", Instance: broken, Observed: observed,
		Decided: "route " + strings.Join(tenants, ", ") + " to " + host + " too while " + broken + " recovers",
		Reason:  "no tenant may be left without a healthy instance",
		Took:    Duration(c.now().Sub(started))})
}

// failback takes the guests in tenants off host once their own instance
// is healthy again: routes first, then DFM.
func (c *Controller) failback(ctx context.Context, host string, tenants []string) {
	defer c.release(host)

	c.mu.Lock()
	r, ok := c.state.Instances[host]
	if !ok {
		c.mu.Unlock()
		return
	}
	r.Guests = slices.DeleteFunc(r.Guests, func(g string) bool { return slices.Contains(tenants, g) })
	if err := c.save(nil); err != nil {
		c.logger().Warn("persisting failback failed", "error", err)
	}
	err := c.publish()
	if err == nil {
		c.decide(Decision{Kind: "failback", Instance: host,
			Decided: "route " + strings.Join(tenants, ", ") + " back to their own instance only",
			Reason:  "their instance stayed healthy for " + c.Policy.FailbackAfter.String()})
	}
	serves := r.serves()
	c.mu.Unlock()
	if err != nil {
		c.logger().Error("publishing failback routes failed", "host", host, "error", err)
		return
	}

	if sleepCtx(ctx, narrowDelay) != nil {
		return
	}
	if err := c.startOn(ctx, host, serves); err != nil {
		c.logger().Warn("dropping guest tenants on their failover host failed", "host", host, "error", err)
	}
}

func (c *Controller) release(host string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.busy, host)
}
