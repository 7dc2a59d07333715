package balancer

import (
	"context"
	"sync"
	"time"
)

// Window keeps the last few Snapshots of a Stats registry, taken every
// interval, and derives rates over the span they cover.
type Window struct {
	stats    *Stats
	interval time.Duration

	mu    sync.Mutex
	ring  []Snapshot
	next  int // ring index of the next sample
	count int // samples stored, at most len(ring)
}

// NewWindow returns a Window over s that holds samples snapshots taken every
// interval, so rates cover up to (samples-1)*interval. samples below 2 is
// raised to 2 and an interval of 0 or less becomes 1s. Memory grows with
// samples times the number of cells in s.
func NewWindow(s *Stats, interval time.Duration, samples int) *Window {
	if interval <= 0 {
		interval = time.Second
	}
	return &Window{
		stats:    s,
		interval: interval,
		ring:     make([]Snapshot, max(samples, 2)),
	}
}

// Run takes a sample at once and then every interval until ctx ends.
func (w *Window) Run(ctx context.Context) {
	w.Sample(time.Now())
	ticker := time.NewTicker(w.interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticker.C:
			w.Sample(now)
		}
	}
}

// Sample stores a snapshot of the registry taken now, replacing the oldest
// sample when the window is full. Samples must come in time order.
func (w *Window) Sample(now time.Time) {
	snap := w.stats.Snapshot(now)

	w.mu.Lock()
	defer w.mu.Unlock()
	w.ring[w.next] = snap
	w.next = (w.next + 1) % len(w.ring)
	w.count = min(w.count+1, len(w.ring))
}

// Rate is the traffic of one cell over a window.
type Rate struct {
	Requests float64 // requests started per second
	Errors   float64 // requests done per second with a class for which Class.IsError is true
	BytesIn  float64 // bytes received per second
	BytesOut float64 // bytes sent per second
	// P99 is the 99th percentile of request duration, estimated from the
	// histogram buckets filled during the window. It is 0 when no request
	// finished in the window.
	P99      time.Duration
	Inflight int64 // requests in flight at the newest sample
}

// Rates contains the rates of every cell present in the newest sample. A cell
// missing from the oldest sample counts from zero.
type Rates struct {
	Span      time.Duration // time from the oldest to the newest sample
	Tenants   map[string]Rate
	Pairs     map[Pair]Rate
	Instances map[string]Rate
}

// Rates returns the rates between the oldest and the newest sample. With
// fewer than two samples, or samples not in time order, it returns empty
// maps and a Span of 0.
func (w *Window) Rates() Rates {
	out := Rates{
		Tenants:   make(map[string]Rate),
		Pairs:     make(map[Pair]Rate),
		Instances: make(map[string]Rate),
	}

	w.mu.Lock()
	if w.count < 2 {
		w.mu.Unlock()
		return out
	}
	size := len(w.ring)
	oldest := w.ring[(w.next-w.count+size)%size]
	newest := w.ring[(w.next-1+size)%size]
	w.mu.Unlock()

	// Snapshots are never changed after Sample stores them, so they are
	// read without the lock.
	span := newest.Time.Sub(oldest.Time)
	if span <= 0 {
		return out
	}
	out.Span = span
	seconds := span.Seconds()

	for tenant, c := range newest.Tenants {
		out.Tenants[tenant] = rateOf(c, oldest.Tenants[tenant], seconds)
	}
	for pair, c := range newest.Pairs {
		out.Pairs[pair] = rateOf(c, oldest.Pairs[pair], seconds)
	}
	for instance, c := range newest.Instances {
		out.Instances[instance] = rateOf(c, oldest.Instances[instance], seconds)
	}
	return out
}

func rateOf(newer, older CounterSnapshot, seconds float64) Rate {
	d := counterDelta(newer, older)
	return Rate{
		Requests: float64(d.Requests) / seconds,
		Errors:   float64(d.Errors()) / seconds,
		BytesIn:  float64(d.BytesIn) / seconds,
		BytesOut: float64(d.BytesOut) / seconds,
		P99:      d.Quantile(0.99),
		Inflight: newer.Inflight,
	}
}

// counterDelta returns newer minus older field by field. A field that went
// down belongs to a cell dropped and created again, so its delta is its
// newer value, as Prometheus treats a counter reset.
// NOTE: a recreated cell that has already passed its old counts reads as
// plain growth, so its first rate after the reset is too low.
func counterDelta(newer, older CounterSnapshot) CounterSnapshot {
	d := CounterSnapshot{
		Requests:   sub(newer.Requests, older.Requests),
		Inflight:   newer.Inflight,
		BytesIn:    sub(newer.BytesIn, older.BytesIn),
		BytesOut:   sub(newer.BytesOut, older.BytesOut),
		LatencySum: time.Duration(sub(uint64(max(newer.LatencySum, 0)), uint64(max(older.LatencySum, 0)))),
	}
	for k := range d.Classes {
		d.Classes[k] = sub(newer.Classes[k], older.Classes[k])
	}
	for k := range d.Buckets {
		d.Buckets[k] = sub(newer.Buckets[k], older.Buckets[k])
	}
	return d
}

func sub(newer, older uint64) uint64 {
	if newer < older {
		return newer
	}
	return newer - older
}
