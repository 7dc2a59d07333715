package controlplane

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/dflb/dflb/provider"
)

// providerInstance is an instance as the provider lists it.
type providerInstance = provider.Instance

// Start brings the control plane up before DFLB serves. On a first start,
// with no saved state, it creates the instances of layout and places its
// tenants. Otherwise the saved state wins over layout: Start finds each
// saved instance through the provider (creating it again if it is gone),
// has its DFM serve the saved tenants, handles the instances that only
// the provider lists as Policy.Orphans sets, and publishes the routes. An
// operation that a previous DFLB left unfinished resumes in Run.
func (c *Controller) Start(ctx context.Context, layout []Plan) error {
	c.init()

	var saved *State
	if c.DB != nil {
		var err error
		if saved, err = c.DB.LoadState(); err != nil {
			return err
		}
	}

	c.mu.Lock()
	// A first start that was rolled back saved an empty state; the
	// configured layout still has to be applied.
	if saved == nil || len(saved.Instances) == 0 && saved.Op == nil {
		c.state = newState()
		op := layoutOp(c.state, nil, layout)
		op.Observed = "no saved state"
		c.plan(op, c.now(), OriginConfig)
		if c.state.Op == nil {
			c.mu.Unlock()
			return fmt.Errorf("journaling the first layout in %s failed; check that the data directory is writable", c.dbPath())
		}
		c.running = true
		c.opDone = make(chan struct{})
		c.mu.Unlock()
		return c.runPlanned(ctx)
	}
	c.state = saved
	c.mu.Unlock()

	if err := c.adopt(ctx); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.limitsChanged()
	return c.publish()
}

// adopt matches the saved instances with the provider's listing.
func (c *Controller) adopt(ctx context.Context) error {
	listed, err := c.Provider.List(ctx)
	if err != nil {
		return fmt.Errorf("listing instances to match the saved state: %w", err)
	}

	c.mu.Lock()
	known := map[string]bool{}
	var missing []string
	for _, name := range c.state.names() {
		r := c.state.Instances[name]
		known[name] = true
		idx := slices.IndexFunc(listed, func(i providerInstance) bool { return i.Name == name })
		switch {
		case idx >= 0:
			r.ProviderID, r.Address, r.DFMURL = listed[idx].ID, listed[idx].Address, listed[idx].DFMURL
		case r.Phase == PhaseReady:
			missing = append(missing, name)
		}
	}
	c.mu.Unlock()

	for _, name := range missing {
		c.logger().Warn("saved instance missing from the provider, creating it again", "instance", name)
		inst, err := c.create(ctx, name)
		if err != nil {
			return err
		}
		c.mu.Lock()
		r := c.state.Instances[name]
		r.ProviderID, r.Address, r.DFMURL = inst.ID, inst.Address, inst.DFMURL
		c.mu.Unlock()
	}

	for _, inst := range listed {
		if !known[inst.Name] {
			c.orphan(ctx, inst)
		}
	}

	c.mu.Lock()
	plans := map[string][]string{}
	for _, r := range c.state.Instances {
		if r.Phase == PhaseReady && len(r.serves()) > 0 {
			plans[r.Name] = r.serves()
		}
	}
	c.mu.Unlock()
	if err := c.startAll(ctx, plans); err != nil {
		// The saved addresses still route; health checks take a broken
		// instance out of rotation and repair it.
		c.logger().Warn("some saved instances did not confirm their tenants", "error", err)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	c.decide(Decision{Kind: "resume", Decided: fmt.Sprintf("resumed %d instances from %s", len(c.state.Instances), c.dbPath()),
		Reason: opSummary(c.state.Op)})
	return c.save(nil)
}

func opSummary(op *Operation) string {
	if op == nil {
		return "no operation was in progress"
	}
	return fmt.Sprintf("operation %d (%s) resumes at step %s", op.ID, op.Kind, op.Step)
}

func (c *Controller) dbPath() string {
	if c.DB == nil {
		return "memory"
	}
	return c.DB.Path()
}

// orphan handles an instance that the provider lists and the state does
// not contain, as Policy.Orphans sets.
func (c *Controller) orphan(ctx context.Context, inst providerInstance) {
	c.mu.Lock()
	defer c.mu.Unlock()

	switch c.Policy.Orphans {
	case OrphansAdopt:
		now := c.now()
		c.state.Instances[inst.Name] = &InstanceRecord{Name: inst.Name, ProviderID: inst.ID, Address: inst.Address,
			DFMURL: inst.DFMURL, Phase: PhaseReady, Origin: OriginConfig, Created: now, Changed: now}
		c.decide(Decision{Kind: "orphan", Instance: inst.Name, Decided: "adopted without tenants", Reason: "autoscale.orphans is adopt"})
	case OrphansDelete:
		c.mu.Unlock()
		err := c.Provider.Delete(ctx, inst.ID)
		c.mu.Lock()
		if err != nil {
			c.logger().Warn("deleting an orphaned instance failed", "instance", inst.Name, "error", err)
			return
		}
		c.decide(Decision{Kind: "orphan", Instance: inst.Name, Decided: "deleted", Reason: "autoscale.orphans is delete"})
	default:
		c.decide(Decision{Kind: "orphan", Instance: inst.Name, Decided: "left alone and not routed",
			Reason: "the state does not know it; set autoscale.orphans to adopt or delete to act"})
	}
}

// Apply moves from the layout old to next, as a reload of the
// configuration file requests: tenants the file adds or moves go where it
// places them, tenants it drops lose their routes, instances it adds are
// created and instances it drops are emptied and removed. Tenants that
// the file leaves in place stay where the control plane has put them.
// Apply waits for a running operation first, and returns after its own
// one ended; switched reports whether its routes were published.
func (c *Controller) Apply(ctx context.Context, old, next []Plan) (switched bool, err error) {
	for {
		c.mu.Lock()
		if !c.running && c.state.Op == nil {
			break
		}
		c.mu.Unlock()
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return false, fmt.Errorf("waiting for the operation in progress: %w", err)
		}
	}

	op := layoutOp(c.state, old, next)
	if len(op.Layout) == 0 && len(op.Create) == 0 && len(op.Retire) == 0 {
		c.mu.Unlock()
		return false, nil
	}
	c.plan(op, c.now(), OriginConfig)
	if c.state.Op == nil {
		c.mu.Unlock()
		return false, errors.New("the operation could not be journaled")
	}
	id := op.ID
	c.running = true
	c.opDone = make(chan struct{})
	c.mu.Unlock()

	err = c.runPlanned(ctx)
	for _, op := range c.journalTail(id) {
		if !op.Switched.IsZero() {
			switched = true
		}
	}
	return switched, err
}

// runPlanned runs the planned operation in the calling goroutine; the
// caller has set c.running and c.opDone under c.mu.
func (c *Controller) runPlanned(ctx context.Context) error {
	defer close(c.opDone)
	return c.runOp(ctx, ctx)
}

// journalTail returns the journaled steps of operation id.
func (c *Controller) journalTail(id uint64) []Operation {
	if c.DB == nil {
		return nil
	}
	all, err := c.DB.Journal()
	if err != nil {
		return nil
	}
	var out []Operation
	for _, op := range all {
		if op.ID == id {
			out = append(out, op)
		}
	}
	return out
}

// layoutOp plans the move from layout old (nil on a first start) to next
// against the current state st. Only tenants whose instances differ
// between old and next, or that no instance has, are placed as next lists them.
func layoutOp(st *State, old, next []Plan) *Operation {
	op := &Operation{Kind: OpApply, Step: StepCreate, Graceful: true, Observed: "configuration layout"}
	before := placementOf(old)
	wanted := placementOf(next)
	placed := map[string]bool{}
	for _, r := range st.Instances {
		for _, t := range r.Tenants {
			placed[t] = true
		}
	}
	changed := func(t string) bool {
		return !slices.Equal(before[t], wanted[t]) || !placed[t]
	}

	names := st.names()
	for _, p := range next {
		if _, ok := st.Instances[p.ID]; !ok {
			op.Create = append(op.Create, p.ID)
			names = append(names, p.ID)
		}
	}

	after := map[string][]string{}
	for _, name := range names {
		var current []string
		if r, ok := st.Instances[name]; ok {
			current = r.Tenants
		}
		var tenants []string
		for _, t := range current {
			_, kept := wanted[t]
			_, listed := before[t]
			switch {
			case listed && !kept:
			case kept && changed(t) && !slices.Contains(wanted[t], name):
			default:
				tenants = append(tenants, t)
			}
		}
		for _, t := range slices.Sorted(maps.Keys(wanted)) {
			if changed(t) && slices.Contains(wanted[t], name) && !slices.Contains(tenants, t) {
				tenants = append(tenants, t)
			}
		}
		if r, ok := st.Instances[name]; ok && r.Origin == OriginConfig && !slices.ContainsFunc(next, func(p Plan) bool { return p.ID == name }) {
			op.Retire = append(op.Retire, name)
			tenants = nil
		}
		after[name] = tenants
	}
	rehomeRetired(st, op.Retire, after, next, func(t string) bool {
		_, kept := wanted[t]
		_, listed := before[t]
		return listed && !kept
	})

	for _, name := range names {
		var current []string
		if r, ok := st.Instances[name]; ok {
			current = r.Tenants
		}
		sorted := slices.Sorted(slices.Values(after[name]))
		if slices.Contains(op.Create, name) || !slices.Equal(sorted, current) {
			op.setLayout(name, sorted, current)
		}
	}
	for _, t := range slices.Sorted(maps.Keys(wanted)) {
		if changed(t) {
			op.Moved = append(op.Moved, t)
		}
	}

	var parts []string
	if len(op.Create) > 0 {
		parts = append(parts, "create "+strings.Join(op.Create, ", "))
	}
	if len(op.Moved) > 0 {
		parts = append(parts, "place "+strings.Join(op.Moved, ", "))
	}
	if len(op.Retire) > 0 {
		parts = append(parts, "remove "+strings.Join(op.Retire, ", "))
	}
	op.Reason = strings.Join(parts, "; ")
	return op
}

// rehomeRetired gives the first instance of next every tenant of a
// retired instance that no remaining instance has, so that none is left
// without a route, except the tenants that removed reports.
func rehomeRetired(st *State, retired []string, after map[string][]string, next []Plan, removed func(string) bool) {
	if len(next) == 0 {
		return
	}
	for _, name := range retired {
		for _, t := range st.Instances[name].Tenants {
			kept := removed(t)
			for _, tenants := range after {
				if slices.Contains(tenants, t) {
					kept = true
				}
			}
			if !kept {
				after[next[0].ID] = append(after[next[0].ID], t)
			}
		}
	}
}

// placementOf maps each tenant of plans to the instances it is placed on.
func placementOf(plans []Plan) map[string][]string {
	out := map[string][]string{}
	for _, p := range plans {
		for _, t := range p.Tenants {
			out[t] = append(out[t], p.ID)
		}
	}
	for t := range out {
		slices.Sort(out[t])
	}
	return out
}
