package balancer

import (
	"sync/atomic"
	"time"
)

// cacheLine is the padding unit that keeps hot atomics written by many cores
// off each other's cache lines. 64 bytes covers amd64 and most arm64 cores.
const cacheLine = 64

// HealthConfig sets passive health checking: after Failures consecutive
// failures a backend is marked down and skipped for Cooloff.
// Failures <= 0 disables passive health, so backends are never marked down.
type HealthConfig struct {
	Failures int
	Cooloff  time.Duration

	// SlowStart is the time over which a backend that returns to rotation
	// gets its share of traffic back, linearly from none to full. It applies
	// after a down backend's first success (ReportSuccess), to a down
	// backend probed after its cool-off, and to a backend that Pool.Build
	// creates for a route that the previous table already had. Backends of
	// the first table and of new routes start at full share. Default 0,
	// which disables slow start.
	SlowStart time.Duration
}

// Backend is one component port of one instance. The Pool returns the same
// *Backend for the same (Instance, Component, Addr) across tables, so its
// in-flight count and health survive reloads. Only the methods below change
// it, and they are safe for concurrent use.
type Backend struct {
	Instance  string
	Component string
	Addr      string // host:port

	// Transport is set once by the Pool's factory before the Backend is
	// published. The proxy stores its HTTP client here.
	Transport any

	failureLimit int32 // HealthConfig.Failures, or 0 to never mark down
	cooloff      int64 // nanoseconds
	slowStart    int64 // nanoseconds, or 0 for no slow start

	_        [cacheLine]byte
	inflight atomic.Int64
	_        [cacheLine - 8]byte

	failures atomic.Int32
	// downUntil is the unix-nano time at which the cool-off ends, or 0 when
	// the backend is up. It stays set after the cool-off ends until a
	// success clears it, so Down reports the last known state.
	downUntil atomic.Int64
	// rampStart is the unix-nano time at which the latest slow start began,
	// or 0 when b never had one. A ramp older than slowStart has ended.
	rampStart atomic.Int64
}

func newBackend(instance, component, addr string, hc HealthConfig) *Backend {
	limit := int32(0)
	if hc.Failures > 0 {
		limit = int32(min(hc.Failures, 1<<30))
	}
	return &Backend{
		Instance:     instance,
		Component:    component,
		Addr:         addr,
		failureLimit: limit,
		cooloff:      int64(max(hc.Cooloff, 0)),
		slowStart:    int64(max(hc.SlowStart, 0)),
	}
}

// Inflight returns the number of requests currently sent to b
// (Acquire calls minus Release calls).
func (b *Backend) Inflight() int64 { return b.inflight.Load() }

// Acquire counts one request sent to b. Pair every Acquire with one Release.
func (b *Backend) Acquire() { b.inflight.Add(1) }

// Release ends a request counted by Acquire.
func (b *Backend) Release() { b.inflight.Add(-1) }

// Available reports whether b may receive a request at now (unix
// nanoseconds): false only while b is down and its cool-off has not ended.
// A down backend becomes available again when the cool-off ends, so the
// next request probes it. A failed probe starts a new cool-off at once.
func (b *Backend) Available(now int64) bool {
	return b.downUntil.Load() <= now
}

// Down reports whether b is marked down. The mark is set by the failure that
// reaches HealthConfig.Failures and cleared only by ReportSuccess, so Down
// stays true after the cool-off ends until a probe succeeds.
func (b *Backend) Down() bool { return b.downUntil.Load() != 0 }

// ReportSuccess resets the consecutive failure count and clears the down
// mark. It returns true when b was down, so the caller can log the recovery
// once. A recovery starts b's slow start, if HealthConfig.SlowStart is set.
func (b *Backend) ReportSuccess() bool {
	if b.failures.Load() != 0 {
		b.failures.Store(0)
	}
	if b.downUntil.Load() == 0 {
		return false
	}
	return b.recover(time.Now().UnixNano())
}

// MarkDown takes b out of rotation until until (unix nanoseconds), whatever
// its failure count, because its instance reported the component down. It
// returns true when b was up. ReportSuccess brings it back earlier.
func (b *Backend) MarkDown(until int64) bool {
	if until == 0 {
		until = 1 // 0 means up
	}
	b.failures.Store(b.failureLimit)
	return b.downUntil.Swap(until) == 0
}

// ReportFailure counts one consecutive failure at now (unix nanoseconds).
// When the count reaches HealthConfig.Failures, b is marked down until
// now + Cooloff. It returns true only for the failure that marked an up
// backend down, so the caller logs each outage once. Failures while b is
// already down extend the cool-off and return false.
func (b *Backend) ReportFailure(now int64) bool {
	if b.failureLimit <= 0 {
		return false
	}
	// The count saturates at the limit: a backend whose cool-off ended
	// goes down again after one more failure.
	n := b.failures.Load()
	if n < b.failureLimit {
		n = b.failures.Add(1)
	}
	if n < b.failureLimit {
		return false
	}
	until := now + b.cooloff
	if until == 0 {
		until = 1 // 0 means up
	}
	return b.downUntil.Swap(until) == 0
}
