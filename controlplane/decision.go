package controlplane

import (
	"log/slog"
	"time"
)

// Decision is one thing the control plane decided, with what it observed
// and why. Decisions are logged, kept in memory for the status view and
// persisted in the state database.
type Decision struct {
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"`
	Instance string    `json:"instance,omitempty"`
	Observed string    `json:"observed,omitempty"`
	Decided  string    `json:"decided"`
	Reason   string    `json:"reason,omitempty"`
	// Took is the time from the trigger to the new routing, or to the end
	// of the step the decision reports.
	Took Duration `json:"took,omitempty"`
	Op   uint64   `json:"op,omitempty"`
}

// recentDecisions is how many decisions the controller keeps in memory.
const recentDecisions = 200

// decide logs d, keeps it for Decisions and persists it. The caller holds
// c.mu.
func (c *Controller) decide(d Decision) {
	if d.Time.IsZero() {
		d.Time = c.now()
	}
	// Milliseconds are the resolution that matters to a reader.
	d.Took = Duration(time.Duration(d.Took).Round(time.Millisecond))
	attrs := []any{"kind", d.Kind, "decided", d.Decided}
	if d.Instance != "" {
		attrs = append(attrs, "instance", d.Instance)
	}
	if d.Observed != "" {
		attrs = append(attrs, "observed", d.Observed)
	}
	if d.Reason != "" {
		attrs = append(attrs, "reason", d.Reason)
	}
	if d.Took > 0 {
		attrs = append(attrs, "took", time.Duration(d.Took).Round(time.Millisecond).String())
	}
	if d.Op != 0 {
		attrs = append(attrs, "op", d.Op)
	}
	c.logger().Info("decision", attrs...)

	c.decisions = append(c.decisions, d)
	if len(c.decisions) > recentDecisions {
		c.decisions = c.decisions[len(c.decisions)-recentDecisions:]
	}
	if c.DB != nil {
		if err := c.DB.AppendDecision(d); err != nil {
			c.logger().Warn("persisting a decision failed", "error", err)
		}
	}
	for _, fn := range c.onDecision {
		fn(d)
	}
}

// Decisions returns up to n of the most recent decisions, oldest first.
func (c *Controller) Decisions(n int) []Decision {
	c.mu.Lock()
	defer c.mu.Unlock()
	n = min(n, len(c.decisions))
	out := make([]Decision, n)
	copy(out, c.decisions[len(c.decisions)-n:])
	return out
}

// OnDecision registers fn to be called with every decision, under the
// controller's lock, so fn must not call back into the controller.
func (c *Controller) OnDecision(fn func(Decision)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onDecision = append(c.onDecision, fn)
}

func (c *Controller) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.Default()
	}
	return c.Logger
}
