package controlplane

import (
	"sync"
	"time"

	"github.com/dflb/dflb/balancer"
)

// loadTracker measures each instance's request rate from the data plane's
// statistics on DFLB's clock: a short window for the current rate, which
// shows when a threshold is crossed and for how long, and a long one for
// the per-tenant rates that decide which tenants move.
type loadTracker struct {
	mu     sync.Mutex
	policy Policy
	short  *balancer.Window
	long   *balancer.Window
	// over and under are when each instance's current rate went over
	// OverloadRPS or under LowRPS, zero while it is not.
	over  map[string]time.Time
	under map[string]time.Time
	// started is the first sample: before a whole long window has passed
	// since it, the rates are missing, not zero.
	started time.Time
	// last is the last sample stored. The windows hold one sample per
	// second, so passes in between, such as those that notifications
	// cause, must not store theirs: the span would shrink.
	last time.Time
}

// minSampleGap is the shortest time between two stored samples.
const minSampleGap = 900 * time.Millisecond

func (l *loadTracker) init(stats *balancer.Stats, p Policy) {
	l.policy = p
	l.over = map[string]time.Time{}
	l.under = map[string]time.Time{}
	if stats == nil {
		return
	}
	l.short = balancer.NewWindow(stats, time.Second, 3)
	span := max(p.OverloadFor, p.LowFor)
	l.long = balancer.NewWindow(stats, time.Second, int(span/time.Second)+1)
}

// sample takes one sample of the statistics and updates the threshold
// crossings.
func (l *loadTracker) sample(now time.Time) {
	if l.short == nil {
		return
	}
	l.mu.Lock()
	if !l.last.IsZero() && now.Sub(l.last) < minSampleGap {
		l.mu.Unlock()
		return
	}
	l.last = now
	l.mu.Unlock()

	l.short.Sample(now)
	l.long.Sample(now)
	rates := l.short.Rates()

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started.IsZero() {
		l.started = now
	}
	if rates.Span <= 0 {
		return
	}
	seen := map[string]bool{}
	for inst, r := range rates.Instances {
		seen[inst] = true
		l.cross(l.over, inst, l.policy.OverloadRPS > 0 && r.Requests >= l.policy.OverloadRPS, now)
		l.cross(l.under, inst, l.policy.LowRPS > 0 && r.Requests < l.policy.LowRPS, now)
	}
	for inst := range l.over {
		if !seen[inst] {
			delete(l.over, inst)
		}
	}
	// An instance without a cell in the statistics got no request since
	// the table that added it, which is low usage, not missing data: the
	// statistics themselves are there.
	for inst := range l.under {
		if !seen[inst] {
			l.cross(l.under, inst, l.policy.LowRPS > 0, now)
		}
	}
}

func (l *loadTracker) cross(since map[string]time.Time, inst string, holds bool, now time.Time) {
	switch {
	case !holds:
		delete(since, inst)
	case since[inst].IsZero():
		since[inst] = now
	}
}

// overFor returns how long inst's rate has stayed over OverloadRPS.
func (l *loadTracker) overFor(inst string, now time.Time) time.Duration {
	return l.heldFor(l.over, inst, now)
}

// underFor returns how long inst's rate has stayed under LowRPS.
func (l *loadTracker) underFor(inst string, now time.Time) time.Duration {
	return l.heldFor(l.under, inst, now)
}

func (l *loadTracker) heldFor(since map[string]time.Time, inst string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := since[inst]
	if !ok {
		return 0
	}
	return now.Sub(t)
}

// trackIdle starts the low-usage clock of an instance that has no
// statistics cell yet, such as one that just got its tenants.
func (l *loadTracker) trackIdle(inst string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.policy.LowRPS > 0 {
		if _, ok := l.under[inst]; !ok {
			l.under[inst] = now
		}
	}
}

// rates returns the long window's rates and whether they cover span:
// rates over a shorter span are missing data, never "no load".
func (l *loadTracker) rates(span time.Duration) (balancer.Rates, bool) {
	if l.long == nil {
		return balancer.Rates{}, false
	}
	r := l.long.Rates()
	return r, r.Span >= span-time.Second/2
}
