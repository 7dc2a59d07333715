package balancer

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// record counts n requests done on c with class cls, 100 bytes in,
// 200 bytes out and duration d each.
func record(c *Counters, n int, cls Class, d time.Duration) {
	for i := range n {
		c.Start(uint64(i))
		c.Done(uint64(i), cls, 100, 200, d)
	}
}

func TestWindowRatesKnownSequence(t *testing.T) {
	stats := NewStats()
	w := NewWindow(stats, time.Second, 3)
	t0 := time.Unix(1000, 0)
	acme := stats.Tenant("acme")
	pair := stats.Pair("acme", "i1")

	w.Sample(t0)
	rates := w.Rates()
	assert.Zero(t, rates.Span, "one sample gives no rates")
	assert.Empty(t, rates.Tenants)

	record(acme, 8, ClassOK, 3*time.Millisecond)
	record(acme, 1, ClassClient, 3*time.Millisecond)
	record(acme, 1, ClassServer, 3*time.Millisecond)
	record(pair, 4, ClassOK, time.Millisecond)
	record(pair, 2, ClassTimeout, time.Millisecond)
	acme.Start(0) // in flight at the sample
	w.Sample(t0.Add(2 * time.Second))

	rates = w.Rates()
	assert.Equal(t, 2*time.Second, rates.Span)
	r := rates.Tenants["acme"]
	assert.InDelta(t, 5.5, r.Requests, 1e-9, "11 started in 2s")
	assert.InDelta(t, 0.5, r.Errors, 1e-9, "only the server error counts")
	assert.InDelta(t, 500, r.BytesIn, 1e-9)
	assert.InDelta(t, 1000, r.BytesOut, 1e-9)
	assert.Equal(t, int64(1), r.Inflight)
	// All 10 durations sit in (2.5ms, 5ms], so the rank 9.9 of 10
	// interpolates to 2.5ms + 0.99*2.5ms.
	assert.Equal(t, 4975*time.Microsecond, r.P99)

	p := rates.Pairs[Pair{Tenant: "acme", Instance: "i1"}]
	assert.InDelta(t, 3, p.Requests, 1e-9)
	assert.InDelta(t, 1, p.Errors, 1e-9, "timeouts count as errors")
	assert.Equal(t, rates.Pairs[Pair{Tenant: "acme", Instance: "i1"}], rates.Instances["i1"])

	// The third sample fills the ring, the fourth drops t0.
	record(acme, 20, ClassOK, 30*time.Millisecond)
	w.Sample(t0.Add(4 * time.Second))
	rates = w.Rates()
	assert.Equal(t, 4*time.Second, rates.Span)
	assert.InDelta(t, 31.0/4, rates.Tenants["acme"].Requests, 1e-9)

	w.Sample(t0.Add(6 * time.Second))
	rates = w.Rates()
	assert.Equal(t, 4*time.Second, rates.Span, "oldest sample is now t0+2s")
	assert.InDelta(t, 5, rates.Tenants["acme"].Requests, 1e-9, "20 requests in 4s")
	assert.Zero(t, rates.Tenants["acme"].Errors)
	assert.Zero(t, rates.Pairs[Pair{Tenant: "acme", Instance: "i1"}].Requests)
	// The 20 durations of 30ms sit in (25ms, 50ms]: 25ms + 0.99*25ms.
	assert.Equal(t, 49750*time.Microsecond, rates.Tenants["acme"].P99)
}

func TestWindowNewAndResetCells(t *testing.T) {
	stats := NewStats()
	w := NewWindow(stats, time.Second, 2)
	t0 := time.Unix(1000, 0)

	record(stats.Tenant("acme"), 10, ClassOK, time.Millisecond)
	w.Sample(t0)

	// globex appears after the first sample, acme is dropped and recreated.
	record(stats.Tenant("globex"), 4, ClassOK, time.Millisecond)
	stats.Forget("acme")
	record(stats.Tenant("acme"), 2, ClassOK, time.Millisecond)
	stats.Tenant("initech")
	w.Sample(t0.Add(time.Second))

	rates := w.Rates()
	assert.InDelta(t, 4, rates.Tenants["globex"].Requests, 1e-9, "new cell counts from zero")
	assert.InDelta(t, 2, rates.Tenants["acme"].Requests, 1e-9, "reset counts the new value")
	assert.Zero(t, rates.Tenants["initech"].Requests)
	assert.Zero(t, rates.Tenants["initech"].P99, "no request finished")
	assert.Contains(t, rates.Tenants, "initech")
}

func TestWindowRatesOutOfOrder(t *testing.T) {
	stats := NewStats()
	w := NewWindow(stats, time.Second, 4)
	t0 := time.Unix(1000, 0)
	w.Sample(t0)
	w.Sample(t0)

	rates := w.Rates()
	assert.Zero(t, rates.Span)
	assert.NotNil(t, rates.Tenants)
	assert.NotNil(t, rates.Pairs)
	assert.NotNil(t, rates.Instances)
}

func TestNewWindowClampsArguments(t *testing.T) {
	w := NewWindow(NewStats(), 0, 0)
	assert.Equal(t, time.Second, w.interval)
	assert.Len(t, w.ring, 2)
}

func TestWindowRunStopsWithContext(t *testing.T) {
	stats := NewStats()
	w := NewWindow(stats, time.Hour, 3)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	finished := make(chan struct{})
	go func() {
		w.Run(ctx)
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(5 * time.Second):
		require.FailNow(t, "Run did not return after the context ended")
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	assert.Equal(t, 1, w.count, "Run samples once at start")
}
