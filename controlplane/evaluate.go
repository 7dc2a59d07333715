package controlplane

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// signalFresh is how long a DFM report of overload or low usage counts
// after it arrived, by notification or by poll.
const signalFresh = 5 * time.Second

// evaluate decides whether an instance should be replaced, scaled out or
// scaled in, and plans the operation in c.state.Op. The caller holds c.mu
// and has checked that no operation is in progress.
func (c *Controller) evaluate(now time.Time) {
	if c.planReplace(now) {
		return
	}
	anyOver := false
	for _, name := range c.state.names() {
		if over, _ := c.overloaded(name, now); over {
			anyOver = true
		}
		if c.planScaleOut(name, now) {
			return
		}
	}
	if !anyOver {
		c.atMax = false
	}
	for _, name := range c.state.names() {
		if c.planScaleIn(name, now) {
			return
		}
	}
}

// overloaded reports whether inst is overloaded now and what showed it.
func (c *Controller) overloaded(inst string, now time.Time) (bool, string) {
	p := c.Policy
	if held := c.load.overFor(inst, now); p.OverloadRPS > 0 && held >= p.OverloadFor {
		return true, fmt.Sprintf("rate over %.0f req/s for %s", p.OverloadRPS, held.Round(time.Second))
	}
	o := c.observed[inst]
	if o != nil && !o.overloadNote.IsZero() && now.Sub(o.overloadNote) < signalFresh {
		return true, fmt.Sprintf("DFM reports overload (cpu %.2f)", o.status.Load.CPU)
	}
	return false, ""
}

// planScaleOut plans moving inst's heaviest tenants to a new instance if
// inst is overloaded and the policy allows it now.
func (c *Controller) planScaleOut(inst string, now time.Time) bool {
	r := c.state.Instances[inst]
	over, observed := c.overloaded(inst, now)
	if !over || r.Phase != PhaseReady {
		delete(c.skipped, inst)
		return false
	}

	p := c.Policy
	switch {
	case now.Sub(r.Created) < p.Warmup:
		return c.skip(inst, observed, "instance is warming up")
	case now.Sub(r.Changed) < p.Warmup:
		return c.skip(inst, observed, "its statistics still contain the placement before the last change")
	case now.Sub(c.state.LastScaleOut) < p.ScaleOutCooldown:
		return c.skip(inst, observed, "scale-out cooldown")
	case c.state.count() >= p.MaxInstances:
		if !c.atMax {
			c.atMax = true
			c.logger().Error("alert: overloaded at the maximum instance count", "instance", inst,
				"observed", observed, "max_instances", p.MaxInstances, "fix", "raise autoscale.max_instances or add capacity")
		}
		return c.skip(inst, observed, fmt.Sprintf("at the maximum of %d instances", p.MaxInstances))
	}

	tenants, why := c.heaviest(inst, now)
	if len(tenants) == 0 {
		return c.skip(inst, observed, why)
	}

	name := c.newName()
	op := &Operation{
		Kind: OpScaleOut, Step: StepCreate, Create: []string{name}, Moved: tenants,
		Observed: observed,
		Reason:   fmt.Sprintf("move %s (%s) to new instance %s", strings.Join(tenants, ", "), why, name),
	}
	kept := slices.DeleteFunc(slices.Clone(r.Tenants), func(t string) bool { return slices.Contains(tenants, t) })
	op.setLayout(inst, kept, r.Tenants)
	op.setLayout(name, tenants, nil)
	c.plan(op, now, OriginScaleOut)
	return true
}

// heaviest returns the smallest set of inst's heaviest tenants whose move
// brings inst under Target of its threshold, and how it was chosen. It
// never returns every tenant of inst, and never more than
// MaxTenantsPerStep.
func (c *Controller) heaviest(inst string, now time.Time) ([]string, string) {
	tenants := slices.Clone(c.state.Instances[inst].Tenants)
	if len(tenants) < 2 {
		return nil, "a single tenant cannot be split"
	}
	limit := min(c.Policy.MaxTenantsPerStep, len(tenants)-1)

	rates, complete := c.load.rates(c.Policy.OverloadFor)
	perTenant := map[string]float64{}
	total := 0.0
	for pair, rate := range rates.Pairs {
		if pair.Instance == inst && slices.Contains(tenants, pair.Tenant) {
			perTenant[pair.Tenant] += rate.Requests
			total += rate.Requests
		}
	}
	if !complete || total <= 0 {
		// Missing statistics may allow a scale-out: move half of the
		// tenants, by name, since no rate distinguishes them.
		n := min((len(tenants)+1)/2, limit)
		return tenants[:n], "no complete statistics, so half of the tenants"
	}

	need := total - c.Policy.Target*c.Policy.OverloadRPS
	if c.Policy.OverloadRPS <= 0 {
		cpu := c.observed[inst].cpu()
		need = total * 0.5
		if cpu > 0 {
			need = total * max(0, 1-c.Policy.Target*c.Policy.OverloadCPU/cpu)
		}
	}
	slices.SortFunc(tenants, func(a, b string) int {
		return cmp.Or(cmp.Compare(perTenant[b], perTenant[a]), strings.Compare(a, b))
	})
	moved := 0.0
	var chosen []string
	for _, t := range tenants[:limit] {
		if moved >= need && len(chosen) > 0 {
			break
		}
		chosen = append(chosen, t)
		moved += perTenant[t]
	}
	return chosen, fmt.Sprintf("%.0f of %.0f req/s", moved, total)
}

func (o *observation) cpu() float64 {
	if o == nil {
		return 0
	}
	return o.status.Load.CPU
}

// planScaleIn plans emptying and removing inst if it is low-used and the
// others can take its load.
func (c *Controller) planScaleIn(inst string, now time.Time) bool {
	r := c.state.Instances[inst]
	p := c.Policy
	if r.Phase != PhaseReady {
		return false
	}
	c.load.trackIdle(inst, now)

	low, observed := c.lowUsed(inst, now)
	if !low {
		return false
	}
	last := c.state.LastScaleOut
	if c.state.LastScaleIn.After(last) {
		last = c.state.LastScaleIn
	}
	switch {
	case c.state.count() <= p.MinInstances:
		return false
	case now.Sub(r.Created) < p.Warmup, now.Sub(r.Changed) < p.LowFor:
		return false
	case now.Sub(last) < p.ScaleInCooldown:
		return c.skip(inst, observed, "scale-in cooldown")
	case len(r.Guests) > 0:
		return c.skip(inst, observed, "it serves tenants of a broken instance")
	}

	moves, why := c.placeElsewhere(inst, now)
	if moves == nil {
		return c.skip(inst, observed, why)
	}
	op := &Operation{
		Kind: OpScaleIn, Step: StepWiden, Moved: slices.Clone(r.Tenants),
		Retire: []string{inst}, Graceful: true,
		Observed: observed,
		Reason:   "the other instances can take its load: " + why,
	}
	op.setLayout(inst, nil, r.Tenants)
	for t, to := range moves {
		target := c.state.Instances[to]
		after := op.Layout[to]
		if after == nil {
			after = slices.Clone(target.Tenants)
		}
		op.setLayout(to, append(after, t), target.Tenants)
	}
	c.plan(op, now, "")
	return true
}

// lowUsed reports whether inst has been low-used for LowFor, from complete
// statistics or DFM's report.
func (c *Controller) lowUsed(inst string, now time.Time) (bool, string) {
	p := c.Policy
	if p.LowRPS > 0 {
		if _, complete := c.load.rates(p.LowFor); !complete {
			return false, ""
		}
		if held := c.load.underFor(inst, now); held >= p.LowFor {
			return true, fmt.Sprintf("rate under %.0f req/s for %s", p.LowRPS, held.Round(time.Second))
		}
		return false, ""
	}
	o := c.observed[inst]
	if o != nil && !o.lowNote.IsZero() && now.Sub(o.lowNote) < signalFresh && now.Sub(o.polled) < signalFresh {
		return true, fmt.Sprintf("DFM reports low usage (cpu %.2f)", o.status.Load.CPU)
	}
	return false, ""
}

// placeElsewhere spreads inst's tenants over the other ready instances,
// heaviest tenant first onto the least loaded, and returns nil with the
// reason when the projected load of one would pass Target of the
// threshold.
func (c *Controller) placeElsewhere(inst string, now time.Time) (map[string]string, string) {
	p := c.Policy
	rates, complete := c.load.rates(p.LowFor)
	if !complete {
		return nil, "statistics are not complete yet"
	}

	projected := map[string]float64{}
	for _, name := range c.state.names() {
		r := c.state.Instances[name]
		if name == inst || r.Phase != PhaseReady || c.observed[name].isBroken() {
			continue
		}
		projected[name] = rates.Instances[name].Requests
	}
	if len(projected) == 0 {
		return nil, "no other healthy instance"
	}

	capacity := p.Target * p.OverloadRPS
	tenants := slices.Clone(c.state.Instances[inst].Tenants)
	perTenant := map[string]float64{}
	for _, t := range tenants {
		perTenant[t] = rates.Pairs[pairOf(t, inst)].Requests
	}
	slices.SortFunc(tenants, func(a, b string) int {
		return cmp.Or(cmp.Compare(perTenant[b], perTenant[a]), strings.Compare(a, b))
	})

	moves := map[string]string{}
	for _, t := range tenants {
		target := leastLoaded(projected)
		projected[target] += perTenant[t]
		if p.OverloadRPS > 0 && projected[target] > capacity {
			return nil, fmt.Sprintf("instance %s would reach %.0f req/s, over %.0f", target, projected[target], capacity)
		}
		moves[t] = target
	}
	if p.OverloadRPS <= 0 {
		if o := c.observed[inst]; o.cpu() > 0 {
			for target := range projected {
				if c.observed[target].cpu()+o.cpu() > p.Target*p.OverloadCPU {
					return nil, fmt.Sprintf("instance %s would pass %.2f CPU", target, p.Target*p.OverloadCPU)
				}
			}
		}
	}
	targets := map[string]bool{}
	for _, to := range moves {
		targets[to] = true
	}
	return moves, fmt.Sprintf("%d tenants onto %s", len(moves), strings.Join(slicesSorted(targets), ", "))
}

func (o *observation) isBroken() bool { return o != nil && o.broken }

func leastLoaded(projected map[string]float64) string {
	var best string
	for _, name := range slicesSorted(projected) {
		if best == "" || projected[name] < projected[best] {
			best = name
		}
	}
	return best
}

// planReplace plans replacing an instance that the supervisor gave up on.
func (c *Controller) planReplace(now time.Time) bool {
	for _, name := range c.state.names() {
		r := c.state.Instances[name]
		o := c.observed[name]
		if r.Phase != PhaseReady || o == nil || !o.abandoned {
			continue
		}
		o.abandoned = false

		next := c.newName()
		op := &Operation{
			Kind: OpReplace, Step: StepCreate, Create: []string{next}, Moved: slices.Clone(r.Tenants),
			Retire:   []string{name},
			Observed: "instance does not recover after its restarts: " + o.brokenReason,
			Reason:   fmt.Sprintf("create %s for its tenants and delete %s", next, name),
		}
		op.setLayout(name, nil, r.Tenants)
		op.setLayout(next, r.Tenants, nil)
		c.plan(op, now, OriginReplacement)
		return true
	}
	return false
}

// skip logs once per instance and reason why a needed action waits, and
// returns false.
func (c *Controller) skip(inst, observed, reason string) bool {
	if c.skipped[inst] == reason {
		return false
	}
	c.skipped[inst] = reason
	c.decide(Decision{Kind: "wait", Instance: inst, Observed: observed, Decided: "no action yet", Reason: reason})
	return false
}

// newName returns the next free instance name of the form iN.
func (c *Controller) newName() string {
	for {
		name := fmt.Sprintf("i%d", c.state.NextSeq)
		c.state.NextSeq++
		if _, taken := c.state.Instances[name]; !taken {
			return name
		}
	}
}
