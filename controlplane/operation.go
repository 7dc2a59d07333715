package controlplane

import (
	"slices"
	"time"
)

// OpKind names what an operation is for.
type OpKind string

// Operation kinds.
const (
	// OpScaleOut creates an instance and moves an overloaded instance's
	// heaviest tenants to it.
	OpScaleOut OpKind = "scale_out"
	// OpScaleIn moves a low-used instance's tenants to the others and
	// removes it.
	OpScaleIn OpKind = "scale_in"
	// OpReplace creates an instance for the tenants of a broken instance
	// that restarts did not recover, and deletes the broken instance.
	OpReplace OpKind = "replace"
	// OpApply creates the instances and places the tenants that the
	// configuration file lists.
	OpApply OpKind = "apply"
	// OpTenants places the tenants created through the tenant API and
	// removes those removed through it.
	OpTenants OpKind = "tenants"
)

// Step is the next step of an operation. Steps run in this order; each
// one is idempotent, so an operation resumed after a crash runs its
// current step again.
type Step string

// Operation steps.
const (
	// StepCreate creates the instances named in Create through the provider.
	StepCreate Step = "create"
	// StepWiden has the DFM of every instance that gains tenants start its
	// components with its old and new tenants together.
	StepWiden Step = "widen"
	// StepSwitch moves the tenants in the state and publishes the routes,
	// in one table swap.
	StepSwitch Step = "switch"
	// StepNarrow has the DFM of every instance that lost tenants drop them.
	StepNarrow Step = "narrow"
	// StepDrain waits until the retired instances have no request in
	// flight, or until the drain deadline.
	StepDrain Step = "drain"
	// StepShutdown requests a graceful shutdown from the retired instances'
	// DFM and waits for it. The operation cannot be cancelled from this
	// step on.
	StepShutdown Step = "shutdown"
	// StepDelete deletes the retired instances through the provider.
	StepDelete Step = "delete"
	// StepDone marks a finished operation.
	StepDone Step = "done"
)

var stepOrder = []Step{StepCreate, StepWiden, StepSwitch, StepNarrow, StepDrain, StepShutdown, StepDelete, StepDone}

// next returns the step after s.
func (s Step) next() Step {
	i := slices.Index(stepOrder, s)
	if i < 0 || i+1 >= len(stepOrder) {
		return StepDone
	}
	return stepOrder[i+1]
}

// cancellable reports whether an operation at step s can still be undone.
func (s Step) cancellable() bool {
	return slices.Index(stepOrder, s) < slices.Index(stepOrder, StepShutdown)
}

// Operation is one change of instances and placement, journaled step by
// step so that a DFLB that restarts midway resumes it.
type Operation struct {
	ID   uint64 `json:"id"`
	Kind OpKind `json:"kind"`
	Step Step   `json:"step"`
	// Create names the instances to create.
	Create []string `json:"create,omitempty"`
	// Layout gives the tenants of each affected instance after the switch,
	// and Before those it had when the operation was planned, so that a
	// cancel can put them back.
	Layout map[string][]string `json:"layout"`
	Before map[string][]string `json:"before"`
	// Moved lists the tenants that change instance, for the decision log.
	Moved []string `json:"moved,omitempty"`
	// Added and Removed are the tenants that an OpTenants operation
	// creates and removes.
	Added   []string `json:"added,omitempty"`
	Removed []string `json:"removed,omitempty"`
	// Retire names the instances removed after the switch.
	Retire []string `json:"retire,omitempty"`
	// Graceful reports whether retired instances are drained and shut down
	// before deletion; a broken instance is deleted at once.
	Graceful bool `json:"graceful,omitempty"`
	// Observed and Reason describe what triggered the operation and why.
	Observed string    `json:"observed"`
	Reason   string    `json:"reason"`
	Started  time.Time `json:"started"`
	// Switched is when the routes switched, zero before.
	Switched time.Time `json:"switched"`
	// Cancelled is set when the operation is undoing its moves.
	Cancelled bool `json:"cancelled,omitempty"`
	// Error is the last failure of a step, retried on the next pass.
	Error string `json:"error,omitempty"`
}

func (op Operation) clone() Operation {
	op.Create = slices.Clone(op.Create)
	op.Layout = cloneLayout(op.Layout)
	op.Before = cloneLayout(op.Before)
	op.Moved = slices.Clone(op.Moved)
	op.Added = slices.Clone(op.Added)
	op.Removed = slices.Clone(op.Removed)
	op.Retire = slices.Clone(op.Retire)
	return op
}

func cloneLayout(l map[string][]string) map[string][]string {
	out := make(map[string][]string, len(l))
	for k, v := range l {
		out[k] = slices.Clone(v)
	}
	return out
}

// targets returns the instances that gain tenants or are created, in
// order.
func (op *Operation) targets() []string {
	out := slices.Clone(op.Create)
	for name, after := range op.Layout {
		if slices.Contains(out, name) {
			continue
		}
		for _, t := range after {
			if !slices.Contains(op.Before[name], t) {
				out = append(out, name)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// sources returns the instances that lose tenants and are not retired,
// in order.
func (op *Operation) sources() []string {
	var out []string
	for name, before := range op.Before {
		if slices.Contains(op.Retire, name) {
			continue
		}
		for _, t := range before {
			if !slices.Contains(op.Layout[name], t) {
				out = append(out, name)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// setLayout records that instance has tenants after the switch, with
// before as its tenants now.
func (op *Operation) setLayout(instance string, tenants, before []string) {
	if op.Layout == nil {
		op.Layout = map[string][]string{}
		op.Before = map[string][]string{}
	}
	tenants = slices.Clone(tenants)
	slices.Sort(tenants)
	op.Layout[instance] = slices.Compact(tenants)
	op.Before[instance] = slices.Clone(before)
}
