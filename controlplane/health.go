package controlplane

import (
	"context"
	"log/slog"
	"time"

	"github.com/dflb/dflb/balancer"
	"github.com/dflb/dflb/dfmapi"
)

// ComponentHealth turns DFM's component notifications into backend health:
// a component reported down or failed leaves rotation at once instead of
// after the proxy's failed connects, and one reported up returns at once
// instead of after the passive cool-off.
type ComponentHealth struct {
	Pool *balancer.Pool
	// Hold is how long a backend reported down stays out of rotation when
	// no up notification arrives; passive health checks take over then.
	Hold   time.Duration
	Logger *slog.Logger
}

// Apply updates the backends of n's instance and component and returns how
// many changed state.
func (h *ComponentHealth) Apply(n dfmapi.Notification, now time.Time) int {
	if n.Component == "" {
		return 0
	}
	switch n.Kind {
	case dfmapi.KindComponentDown, dfmapi.KindComponentFailed:
		return markDown(h.Pool, h.Logger, n.Instance, n.Component, now.Add(h.Hold), "reported by DFM", n.Reason)
	case dfmapi.KindComponentUp:
		return markUp(h.Pool, h.Logger, n.Instance, n.Component, "reported by DFM")
	}
	return 0
}

// Run applies every notification from notes until ctx ends or notes closes.
func (h *ComponentHealth) Run(ctx context.Context, notes <-chan dfmapi.Notification) {
	for {
		select {
		case <-ctx.Done():
			return
		case n, ok := <-notes:
			if !ok {
				return
			}
			h.Apply(n, time.Now())
		}
	}
}

// backendsOf returns the pool's backends of instance and component, or of
// every component of the instance when component is empty.
func backendsOf(pool *balancer.Pool, instance, component string) []*balancer.Backend {
	if pool == nil {
		return nil
	}
	var matched []*balancer.Backend
	for _, b := range pool.Backends() {
		if b.Instance == instance && (component == "" || b.Component == component) {
			matched = append(matched, b)
		}
	}
	return matched
}

// markDown takes the backends that backendsOf matches out of rotation until
// until, logs each one that was in rotation, with source saying who found it
// down, and returns how many changed.
func markDown(pool *balancer.Pool, logger *slog.Logger, instance, component string, until time.Time, source, reason string) int {
	changed := 0
	for _, b := range backendsOf(pool, instance, component) {
		if b.MarkDown(until.UnixNano()) {
			changed++
			logger.Warn("backend marked down, "+source, "instance", b.Instance, "component", b.Component,
				"upstream", b.Addr, "reason", reason)
		}
	}
	return changed
}

// markUp brings the backends that backendsOf matches back into rotation,
// logs each one that was out, and returns how many changed.
func markUp(pool *balancer.Pool, logger *slog.Logger, instance, component, source string) int {
	changed := 0
	for _, b := range backendsOf(pool, instance, component) {
		if b.ReportSuccess() {
			changed++
			logger.Info("backend up, "+source, "instance", b.Instance, "component", b.Component, "upstream", b.Addr)
		}
	}
	return changed
}
