package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dflb/dflb/alert"
	"github.com/dflb/dflb/balancer"
	"github.com/dflb/dflb/dfmapi"
	"github.com/dflb/dflb/provider"
)

// Controller is the control plane's reconciling loop. It holds the desired
// state (instances and the tenants placed on each) in a State persisted in
// a DB, compares it with what it observes (DFM's status and notifications,
// the data plane's rates, the provider's listing) and runs operations that
// close the gap: scale-out, scale-in, replacement, failover and failback.
//
// One operation runs at a time, step by step, each step journaled before
// the next starts; a DFLB restarted midway resumes it.
type Controller struct {
	Provider provider.Provider
	// Launcher starts components through DFM; its Image and Bootstrap are
	// used for every instance the controller creates.
	Launcher *Launcher
	DB       *DB
	Policy   Policy
	// Components are the components every instance runs.
	Components []string
	// Publish builds and swaps in the routing table for specs.
	Publish func(specs []balancer.InstanceSpec) error
	// Stats and Pool are the data plane's statistics and backends.
	Stats  *balancer.Stats
	Pool   *balancer.Pool
	Logger *slog.Logger
	// Now is DFLB's clock; every window and cooldown is measured on it.
	// Default time.Now.
	Now func() time.Time
	// Tick is the time between two passes. Default 1 s.
	Tick time.Duration
	// Alerts, when set, receives the alert conditions after every pass,
	// and ErrorRate is the threshold of the tenant error rate rule.
	Alerts    Alerter
	ErrorRate alert.ErrorRateRuleConfig
	// OnLimits, when set, receives the limits of every tenant that has any
	// whenever they change, under the controller's lock.
	OnLimits func(map[string]TenantLimits)

	mu         sync.Mutex
	state      *State
	decisions  []Decision
	onDecision []func(Decision)
	observed   map[string]*observation // by instance name
	load       loadTracker
	skipped    map[string]string // last reason logged per instance for not acting
	atMax      bool
	// scaleOutFailed describes the last scale-out that failed, until one
	// succeeds.
	scaleOutFailed string
	busy           map[string]bool // instances with a failover or failback under way
	// retiring holds the backends of each instance being removed, as they
	// were before the switch took them out of the pool.
	retiring map[string][]*balancer.Backend

	// running is set while an operation's goroutine runs; cancel ends its
	// context, which a scale-in honours until its shutdown step.
	running bool
	cancel  context.CancelFunc
	opDone  chan struct{}
	wake    chan struct{}
}

// observation is the controller's last view of one instance.
type observation struct {
	// polled is when DFM last responded to a status request, and status
	// is that response.
	polled time.Time
	status dfmapi.Status
	// healthySince is when DFM last started reporting every component up,
	// zero while it does not.
	healthySince time.Time
	// broken is set while DFM does not respond or a component is not up,
	// and unresponsive only in the first case.
	broken       bool
	unresponsive bool
	brokenReason string
	// applied is when DFLB last had DFM apply a tenant set; a status
	// polled before it still shows the previous set.
	applied time.Time
	// overloadNote and lowNote are when DFM last sent those notifications,
	// on DFLB's clock.
	overloadNote time.Time
	lowNote      time.Time
	abandoned    bool
}

// ErrNotCancellable is returned by Cancel for an operation past the point
// of no return, or when no operation runs.
var ErrNotCancellable = errors.New("no operation that can be cancelled")

func (c *Controller) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Controller) init() {
	c.Policy = c.Policy.withDefaults()
	if c.Tick <= 0 {
		c.Tick = time.Second
	}
	c.observed = map[string]*observation{}
	c.skipped = map[string]string{}
	c.retiring = map[string][]*balancer.Backend{}
	c.wake = make(chan struct{}, 1)
	c.load.init(c.Stats, c.Policy)
}

// State returns a copy of the current state.
func (c *Controller) State() *State {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == nil {
		return newState()
	}
	return c.state.clone()
}

// save persists the state, journaling op when it is not nil. The caller
// holds c.mu. A failed write is returned: the next step must not run on
// a state that a restart would not find.
func (c *Controller) save(op *Operation) error {
	if c.DB == nil {
		return nil
	}
	return c.DB.SaveState(c.state, op)
}

// publish swaps in the routing table of the current state. The caller
// holds c.mu, so tables are published in the order states change.
func (c *Controller) publish() error {
	return c.Publish(c.state.specs())
}

// Run drives the controller until ctx ends: it resumes the journaled
// operation, applies notes as they arrive and makes a pass every Tick.
// It returns after the running operation has stopped.
func (c *Controller) Run(ctx context.Context, notes <-chan dfmapi.Notification) {
	ticker := time.NewTicker(c.Tick)
	defer ticker.Stop()
	defer c.waitOp()

	for {
		c.pass(ctx)

		select {
		case <-ctx.Done():
			return
		case n, ok := <-notes:
			if !ok {
				notes = nil
				continue
			}
			c.notified(n)
		case <-ticker.C:
		case <-c.wake:
		}
	}
}

// pass makes one reconciling pass: sample rates, keep failovers in step
// with health, resume or start an operation.
func (c *Controller) pass(ctx context.Context) {
	now := c.now()
	c.load.sample(now)

	c.mu.Lock()
	if c.state == nil || ctx.Err() != nil {
		c.mu.Unlock()
		return
	}
	c.passLocked(ctx, now)
	conditions := c.alertConditions(now)
	c.mu.Unlock()

	c.syncAlerts(conditions)
}

// passLocked is the part of a pass that runs under c.mu.
func (c *Controller) passLocked(ctx context.Context, now time.Time) {

	c.reconcileFailover(ctx, now)
	if c.state.Op != nil {
		c.cancelOnOverload(now)
		c.startOp(ctx)
		return
	}
	if c.planTenants(now) {
		c.startOp(ctx)
		return
	}
	// Repair works with autoscaling off too.
	if c.Policy.Enabled {
		c.evaluate(now)
	} else {
		c.planReplace(now)
	}
	if c.state.Op != nil {
		c.startOp(ctx)
	}
}

// poke requests a pass soon, without waiting for the tick.
func (c *Controller) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// notified records the load and health that a notification reports.
func (c *Controller) notified(n dfmapi.Notification) {
	c.mu.Lock()
	defer c.mu.Unlock()

	o := c.observation(n.Instance)
	now := c.now()
	switch n.Kind {
	case dfmapi.KindOverload:
		o.overloadNote = now
	case dfmapi.KindLowUsage:
		o.lowNote = now
	case dfmapi.KindComponentDown, dfmapi.KindComponentFailed:
		o.markBroken(fmt.Sprintf("component %s %s: %s", n.Component, n.Kind, n.Reason))
	}
	c.poke()
}

func (c *Controller) observation(name string) *observation {
	o, ok := c.observed[name]
	if !ok {
		o = &observation{}
		c.observed[name] = o
	}
	return o
}

func (o *observation) markBroken(reason string) {
	o.broken = true
	o.brokenReason = reason
	o.healthySince = time.Time{}
}

// Observe records one poll of an instance's DFM: its status, or the error
// that the request met. The supervisor calls it after every poll.
func (c *Controller) Observe(name string, status dfmapi.Status, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()

	o := c.observation(name)
	now := c.now()
	if err != nil {
		o.markBroken("DFM does not respond: " + err.Error())
		o.unresponsive = true
		return
	}
	o.unresponsive = false
	o.polled = now
	o.status = status

	for _, comp := range status.Components {
		if comp.State != dfmapi.ComponentUp {
			o.markBroken(fmt.Sprintf("component %s is %s", comp.Name, comp.State))
			return
		}
	}
	if len(status.Components) == 0 {
		o.markBroken("no component runs")
		return
	}
	if o.broken || o.healthySince.IsZero() {
		o.broken = false
		o.brokenReason = ""
		o.healthySince = now
	}
	if status.Load.Overloaded {
		o.overloadNote = now
	}
	if status.Load.Low {
		o.lowNote = now
	}
}

// Abandoned records that an instance did not recover after the restarts
// the supervisor allows; the next pass replaces it.
func (c *Controller) Abandoned(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.observation(name).abandoned = true
	c.poke()
}

// Supervised reports whether the supervisor should poll and restart the
// instance: not while the controller creates or removes it.
func (c *Controller) Supervised(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == nil {
		return false
	}
	r, ok := c.state.Instances[name]
	return ok && r.Phase == PhaseReady
}

// Cancel cancels the running scale-in, which puts its tenants back, as
// long as it has not sent the shutdown command.
func (c *Controller) Cancel(reason string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cancelLocked(reason)
}

func (c *Controller) cancelLocked(reason string) error {
	op := c.state.Op
	if op == nil || op.Kind != OpScaleIn || op.Cancelled {
		return ErrNotCancellable
	}
	if !op.Step.cancellable() {
		return fmt.Errorf("operation %d is at step %s, past the shutdown command: %w", op.ID, op.Step, ErrNotCancellable)
	}
	op.Cancelled = true
	c.decide(Decision{Kind: "cancel", Instance: firstOf(op.Retire), Op: op.ID, Decided: "cancel the scale-in and put its tenants back", Reason: reason})
	if c.cancel != nil {
		c.cancel()
	}
	c.poke()
	return nil
}

func firstOf(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return names[0]
}
