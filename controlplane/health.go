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
	changed := 0
	for _, b := range h.Pool.Backends() {
		if b.Instance != n.Instance || b.Component != n.Component {
			continue
		}
		switch n.Kind {
		case dfmapi.KindComponentDown, dfmapi.KindComponentFailed:
			if b.MarkDown(now.Add(h.Hold).UnixNano()) {
				changed++
				h.Logger.Warn("backend marked down by DFM", "instance", b.Instance, "component", b.Component,
					"upstream", b.Addr, "reason", n.Reason)
			}
		case dfmapi.KindComponentUp:
			if b.ReportSuccess() {
				changed++
				h.Logger.Info("backend up, reported by DFM", "instance", b.Instance, "component", b.Component,
					"upstream", b.Addr)
			}
		}
	}
	return changed
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
