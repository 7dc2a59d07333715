package controlplane

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/dflb/dflb/balancer"
)

// preSwitchAttempts is how often a step before the switch is tried before
// the operation is rolled back.
const preSwitchAttempts = 3

// plan stores op as the operation in progress, with a record for every
// instance it creates, and journals it. The caller holds c.mu.
func (c *Controller) plan(op *Operation, now time.Time, origin Origin) {
	c.state.NextSeq = max(c.state.NextSeq, 1)
	op.ID = uint64(now.UnixNano())
	op.Started = now
	for _, name := range op.Create {
		c.state.Instances[name] = &InstanceRecord{Name: name, Phase: PhaseCreating, Origin: origin, Created: now, Changed: now}
	}
	c.state.Op = op

	if err := c.save(op); err != nil {
		c.logger().Error("journaling a planned operation failed, so it is dropped", "op", op.ID, "error", err)
		for _, name := range op.Create {
			delete(c.state.Instances, name)
		}
		c.state.Op = nil
		return
	}
	c.decide(Decision{Kind: string(op.Kind), Instance: firstOf(slices.Concat(op.Retire, op.sources(), op.Create)),
		Op: op.ID, Observed: op.Observed, Decided: op.Reason, Reason: reasonOf(op.Kind)})
	clear(c.skipped)
}

func reasonOf(kind OpKind) string {
	switch kind {
	case OpScaleOut:
		return "overload sustained past its window, cooldown over"
	case OpScaleIn:
		return "low usage sustained past its window, above the minimum instance count"
	case OpReplace:
		return "restarts did not bring the instance back"
	case OpTenants:
		return "requested through the tenant API"
	}
	return "the configuration file changed"
}

// startOp starts the goroutine that runs c.state.Op unless one runs.
// The caller holds c.mu.
func (c *Controller) startOp(ctx context.Context) {
	if c.running {
		return
	}
	opCtx, cancel := context.WithCancel(ctx)
	c.running = true
	c.cancel = cancel
	c.opDone = make(chan struct{})
	go func() {
		defer close(c.opDone)
		defer cancel()
		c.runOp(opCtx, ctx)
	}()
}

// waitOp waits for the running operation's goroutine to return.
func (c *Controller) waitOp() {
	c.mu.Lock()
	done := c.opDone
	running := c.running
	c.mu.Unlock()
	if running {
		<-done
	}
}

// runOp runs the steps of c.state.Op until it is done, rolled back or
// ctx ends. opCtx ends when the operation is cancelled; ctx when DFLB
// stops. Steps before the switch that keep failing roll the operation
// back; later ones are retried until they succeed, since the routes have
// already moved.
func (c *Controller) runOp(opCtx, ctx context.Context) (err error) {
	defer func() {
		c.mu.Lock()
		c.running = false
		c.cancel = nil
		c.mu.Unlock()
	}()

	failures := 0
	for {
		c.mu.Lock()
		op := c.state.Op
		if op == nil {
			c.mu.Unlock()
			return nil
		}
		if op.Cancelled {
			c.mu.Unlock()
			return c.undo(ctx)
		}
		snapshot := op.clone()
		c.mu.Unlock()

		if snapshot.Step == StepDone {
			return c.finish()
		}
		stepErr := c.runStep(opCtx, &snapshot)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if opCtx.Err() != nil && stepErr != nil {
			continue // cancelled: the next round undoes it
		}

		c.mu.Lock()
		if stepErr == nil {
			failures = 0
			c.state.Op.Step = snapshot.Step.next()
			c.state.Op.Error = ""
			if err := c.save(c.state.Op); err != nil {
				stepErr = err
			}
		}
		if stepErr != nil {
			failures++
			c.state.Op.Error = stepErr.Error()
			c.logger().Warn("operation step failed", "op", snapshot.ID, "kind", snapshot.Kind, "step", snapshot.Step,
				"attempt", failures, "error", stepErr)
		}
		preSwitch := c.state.Op.Switched.IsZero()
		c.mu.Unlock()

		if stepErr == nil {
			continue
		}
		if preSwitch && failures >= preSwitchAttempts {
			return c.rollback(ctx, stepErr)
		}
		if err := sleepCtx(ctx, backoff(failures)); err != nil {
			return err
		}
	}
}

// runStep runs one step of op, a copy of the journaled operation.
func (c *Controller) runStep(ctx context.Context, op *Operation) error {
	switch op.Step {
	case StepCreate:
		return c.stepCreate(ctx, op)
	case StepWiden:
		return c.stepWiden(ctx, op)
	case StepSwitch:
		return c.stepSwitch(op)
	case StepNarrow:
		return c.stepNarrow(ctx, op)
	case StepDrain:
		return c.stepDrain(ctx, op)
	case StepShutdown:
		return c.stepShutdown(ctx, op)
	case StepDelete:
		return c.stepDelete(ctx, op)
	}
	return fmt.Errorf("operation %d: unknown step %q", op.ID, op.Step)
}

// finish ends the operation and records when its scale action ended.
func (c *Controller) finish() error {
	c.mu.Lock()
	defer c.mu.Unlock()

	op := c.state.Op
	now := c.now()
	switch op.Kind {
	case OpScaleOut:
		c.state.LastScaleOut = now
		c.scaleOutFailed = ""
	case OpScaleIn:
		c.state.LastScaleIn = now
	case OpTenants:
		c.tenantsDone(op, now)
	}
	c.state.Op = nil
	done := op.clone()
	done.Step = StepDone
	if err := c.save(&done); err != nil {
		return err
	}
	c.decide(Decision{Kind: string(op.Kind) + "_done", Instance: firstOf(slices.Concat(op.Create, op.Retire)), Op: op.ID,
		Decided: "operation complete", Took: Duration(now.Sub(op.Started))})
	return nil
}

// rollback undoes an operation whose routes have not switched: it deletes
// the instances it created and has the widened instances drop the tenants
// they were to gain.
func (c *Controller) rollback(ctx context.Context, cause error) error {
	c.mu.Lock()
	op := c.state.Op.clone()
	c.mu.Unlock()

	var errs []error
	for _, name := range op.Create {
		if err := c.deleteInstance(ctx, name); err != nil {
			errs = append(errs, err)
		}
	}
	c.mu.Lock()
	for _, name := range op.Create {
		delete(c.state.Instances, name)
	}
	c.mu.Unlock()
	errs = append(errs, c.narrowAll(ctx, op.targets()))

	c.mu.Lock()
	defer c.mu.Unlock()
	c.state.Op = nil
	c.tenantsFailed(&op, cause, c.now())
	if op.Kind == OpScaleOut {
		// A failed scale-out waits for its cooldown too, so that a
		// provider that cannot create is not asked again every pass.
		c.state.LastScaleOut = c.now()
		c.scaleOutFailed = fmt.Sprintf("operation %d (%s) failed at step %s: %v", op.ID, op.Reason, op.Step, cause)
	}
	failed := op.clone()
	failed.Error = cause.Error()
	if err := c.save(&failed); err != nil {
		errs = append(errs, err)
	}
	c.logger().Error("alert: operation failed and was rolled back", "op", op.ID, "kind", op.Kind, "step", op.Step, "error", cause)
	c.decide(Decision{Kind: string(op.Kind) + "_failed", Instance: firstOf(op.Create), Op: op.ID,
		Decided: "rolled back: created instances deleted, routes unchanged", Reason: cause.Error(),
		Took: Duration(c.now().Sub(op.Started))})
	return errors.Join(append(errs, cause)...)
}

// undo puts a cancelled scale-in's tenants back where they were.
func (c *Controller) undo(ctx context.Context) error {
	c.mu.Lock()
	op := c.state.Op.clone()
	now := c.now()
	if !op.Switched.IsZero() {
		for name, before := range op.Before {
			c.state.setTenants(name, before, now)
		}
		for _, name := range op.Retire {
			if r, ok := c.state.Instances[name]; ok {
				r.Phase = PhaseReady
			}
			delete(c.retiring, name)
		}
		if err := c.publish(); err != nil {
			c.mu.Unlock()
			return fmt.Errorf("publishing routes of cancelled operation %d: %w", op.ID, err)
		}
	}
	c.mu.Unlock()

	err := c.narrowAll(ctx, op.targets())

	c.mu.Lock()
	defer c.mu.Unlock()
	c.state.Op = nil
	c.state.LastScaleIn = now
	if saveErr := c.save(&op); saveErr != nil {
		err = errors.Join(err, saveErr)
	}
	c.decide(Decision{Kind: "scale_in_cancelled", Instance: firstOf(op.Retire), Op: op.ID,
		Decided: "tenants routed back: " + strings.Join(op.Moved, ", "), Took: Duration(now.Sub(op.Started))})
	return err
}

// cancelOnOverload cancels a scale-in while any instance is overloaded.
// The caller holds c.mu.
func (c *Controller) cancelOnOverload(now time.Time) {
	op := c.state.Op
	if op.Kind != OpScaleIn || op.Cancelled || !op.Step.cancellable() {
		return
	}
	for _, name := range c.state.names() {
		if over, observed := c.overloaded(name, now); over {
			_ = c.cancelLocked(fmt.Sprintf("instance %s is overloaded: %s", name, observed))
			return
		}
	}
}

func backoff(failures int) time.Duration {
	d := 500 * time.Millisecond << min(failures, 6)
	return min(d, 30*time.Second)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func pairOf(tenant, instance string) balancer.Pair {
	return balancer.Pair{Tenant: tenant, Instance: instance}
}

func slicesSorted[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
