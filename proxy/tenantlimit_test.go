package proxy

import (
	"bytes"
	"context"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"github.com/dflb/dflb/balancer"
)

func TestTokenBucketBurstThenRate(t *testing.T) {
	l := newTenantLimiter("acme", TenantLimit{Rate: 10, Burst: 3})
	c := l.config.Load()
	now := time.Unix(1000, 0).UnixNano()

	for i := range 3 {
		assert.Zero(t, l.takeToken(c, now), "burst request %d", i)
	}
	assert.Equal(t, 100*time.Millisecond, l.takeToken(c, now), "the fourth waits one interval")
	assert.Equal(t, 50*time.Millisecond, l.takeToken(c, now+int64(50*time.Millisecond)))
	assert.Zero(t, l.takeToken(c, now+int64(100*time.Millisecond)), "one token refilled")
	assert.Equal(t, 100*time.Millisecond, l.takeToken(c, now+int64(100*time.Millisecond)))

	later := now + int64(10*time.Second)
	for i := range 3 {
		assert.Zero(t, l.takeToken(c, later), "refilled burst request %d", i)
	}
	assert.NotZero(t, l.takeToken(c, later), "the bucket holds Burst tokens at most")
}

func TestTokenBucketDefaultBurst(t *testing.T) {
	c := newLimitConfig(TenantLimit{Rate: 2.5})
	assert.Equal(t, int64(400*time.Millisecond), c.interval)
	assert.Equal(t, int64(3*400*time.Millisecond), c.burstWindow, "Rate rounded up")

	c = newLimitConfig(TenantLimit{Rate: 0.5})
	assert.Equal(t, int64(2*time.Second), c.burstWindow, "at least one request")

	c = newLimitConfig(TenantLimit{MaxConcurrent: 4})
	assert.Zero(t, c.interval, "no rate limit")
	assert.Equal(t, int64(4), c.maxQueued, "the queue defaults to MaxConcurrent")
}

func TestTenantLimitValidate(t *testing.T) {
	cases := []struct {
		limit TenantLimit
		want  string
	}{
		{TenantLimit{Rate: -1}, "rate -1 must be a finite number"},
		{TenantLimit{Rate: math.NaN()}, "rate NaN must be a finite number"},
		{TenantLimit{Rate: math.Inf(1)}, "rate +Inf must be a finite number"},
		{TenantLimit{Rate: 1e-9}, "below one request per 24h0m0s"},
		{TenantLimit{Rate: 2e9}, "above 1e9 requests per second"},
		{TenantLimit{Burst: -1}, "must not be negative"},
		{TenantLimit{MaxConcurrent: -1}, "must not be negative"},
		{TenantLimit{MaxQueued: -1}, "must not be negative"},
		{TenantLimit{Rate: 0.001, Burst: 100}, "covers more than 24h0m0s"},
	}
	for _, tc := range cases {
		err := tc.limit.validate()
		if assert.Error(t, err, "%+v", tc.limit) {
			assert.Contains(t, err.Error(), tc.want)
		}
	}
	assert.NoError(t, TenantLimit{}.validate(), "no limits")
	assert.NoError(t, TenantLimit{Rate: 100, Burst: 10, MaxConcurrent: 5, MaxQueued: 20}.validate())
}

func TestSetTenantLimitsKeys(t *testing.T) {
	p, err := New(Options{}, testExtractor(t), &balancer.Router{}, nil)
	require.NoError(t, err)

	require.NoError(t, p.SetTenantLimits(map[string]TenantLimit{"ACME": {Rate: 1}}))
	assert.NotNil(t, p.limiterOf("acme"), "keys are folded to lower case")
	assert.Nil(t, p.limiterOf("globex"))

	err = p.SetTenantLimits(map[string]TenantLimit{"acme": {Rate: 1}, "Acme": {Rate: 2}})
	assert.ErrorContains(t, err, `name the same tenant "acme"`)
	err = p.SetTenantLimits(map[string]TenantLimit{"a..b": {Rate: 1}})
	assert.ErrorContains(t, err, "invalid tenant ID")
	err = p.SetTenantLimits(map[string]TenantLimit{"globex": {Rate: -1}})
	assert.ErrorContains(t, err, `tenant "globex" limits: rate -1`)
	assert.NotNil(t, p.limiterOf("acme"), "a rejected call changes nothing")

	require.NoError(t, p.SetTenantLimits(nil))
	assert.Nil(t, p.limits.Load(), "no limits leave only a nil check on the request path")
}

func TestTenantOverRateGets429(t *testing.T) {
	backend := newRecorder(t, nil)
	tp := startProxy(t, Options{}, instance("i1", backend.addr(), "acme", "globex"))
	require.NoError(t, tp.SetTenantLimits(map[string]TenantLimit{"acme": {Rate: 0.2, Burst: 2}}))

	for i := range 2 {
		status, body, _ := get(t, tp.addr, "acme.apps.test", "/")
		require.Equal(t, http.StatusOK, status, "burst request %d: %s", i, body)
	}
	status, body, header := get(t, tp.addr, "acme.apps.test", "/")
	assert.Equal(t, http.StatusTooManyRequests, status)
	assert.Equal(t, "too many requests for tenant \"acme\"\n", body)
	assert.Equal(t, "5", header.Get("Retry-After"), "one request per 5 s")
	assert.Equal(t, 2, backend.count(), "the rejected request never reached the backend")

	status, _, _ = get(t, tp.addr, "globex.apps.test", "/")
	assert.Equal(t, http.StatusOK, status, "another tenant is not limited")

	snap := tp.stats.Snapshot(time.Now())
	assert.Equal(t, uint64(1), snap.Tenants["acme"].Classes[balancer.ClassLimited])
	assert.Equal(t, uint64(2), snap.Tenants["acme"].Classes[balancer.ClassOK])
	metrics := scrape(tp)
	assert.Contains(t, metrics, `dflb_tenant_limited_total{tenant="acme",code="429"} 1`)
	assert.Contains(t, metrics, `dflb_tenant_limited_total{tenant="acme",code="503"} 0`)
	assert.Contains(t, metrics, `dflb_proxy_rejected_total{code="429"} 1`)
}

// gateBackend is a fasthttp backend whose requests wait until the test
// opens the gate, one request per token sent on open.
type gateBackend struct {
	addr    string
	open    chan struct{}
	arrived atomic.Int64
}

func newGateBackend(t *testing.T) *gateBackend {
	t.Helper()
	g := &gateBackend{open: make(chan struct{}, 100)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	g.addr = ln.Addr().String()
	server := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		g.arrived.Add(1)
		select {
		case <-g.open:
		case <-time.After(10 * time.Second):
		}
		ctx.SetBodyString("done")
	}}
	go server.Serve(ln) //nolint:errcheck // ends with the listener
	t.Cleanup(func() {
		close(g.open)
		_ = server.Shutdown()
	})
	return g
}

func (g *gateBackend) waitArrived(t *testing.T, n int64) {
	t.Helper()
	require.Eventually(t, func() bool { return g.arrived.Load() >= n }, 5*time.Second, 5*time.Millisecond,
		"%d requests should have reached the backend", n)
}

func TestTenantOverConcurrencyGets503(t *testing.T) {
	gate := newGateBackend(t)
	const queueTimeout = 200 * time.Millisecond
	tp := startProxy(t, Options{TenantQueueTimeout: queueTimeout}, instance("i1", gate.addr, "acme"))
	require.NoError(t, tp.SetTenantLimits(map[string]TenantLimit{"acme": {MaxConcurrent: 2, MaxQueued: 1}}))

	admitted := []<-chan timedResult{
		sendAsync(t, newGet(t, tp.addr, "acme.apps.test")),
		sendAsync(t, newGet(t, tp.addr, "acme.apps.test")),
	}
	gate.waitArrived(t, 2)

	queued := sendAsync(t, newGet(t, tp.addr, "acme.apps.test"))
	require.Eventually(t, func() bool { return tp.limiterOf("acme").queued.Load() == 1 }, 2*time.Second, time.Millisecond)
	full := receive(t, sendAsync(t, newGet(t, tp.addr, "acme.apps.test")))
	assert.Equal(t, http.StatusServiceUnavailable, full.status, "the queue holds one request")
	assert.Less(t, full.elapsed, queueTimeout, "a full queue rejects at once")

	r := receive(t, queued)
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.Equal(t, "too many concurrent requests for tenant \"acme\"\n", r.body)
	assert.Equal(t, "1", r.header.Get("Retry-After"))
	assert.GreaterOrEqual(t, r.elapsed, queueTimeout, "rejected after waiting in the queue")
	assert.Less(t, r.elapsed, queueTimeout+time.Second)

	gate.open <- struct{}{}
	gate.open <- struct{}{}
	for _, results := range admitted {
		assert.Equal(t, http.StatusOK, receive(t, results).status)
	}
	assert.Equal(t, int64(2), gate.arrived.Load(), "rejected requests never reached the backend")
	assert.Contains(t, scrape(tp), `dflb_tenant_limited_total{tenant="acme",code="503"} 2`)
	assert.Zero(t, tp.limiterOf("acme").inflight.Load(), "every slot was released")
}

func TestTenantQueuedGetsFreedSlot(t *testing.T) {
	gate := newGateBackend(t)
	tp := startProxy(t, Options{TenantQueueTimeout: 5 * time.Second}, instance("i1", gate.addr, "acme"))
	require.NoError(t, tp.SetTenantLimits(map[string]TenantLimit{"acme": {MaxConcurrent: 1}}))

	first := sendAsync(t, newGet(t, tp.addr, "acme.apps.test"))
	gate.waitArrived(t, 1)
	second := sendAsync(t, newGet(t, tp.addr, "acme.apps.test"))
	require.Eventually(t, func() bool { return tp.limiterOf("acme").queued.Load() == 1 }, 2*time.Second, time.Millisecond)
	assert.Equal(t, int64(1), gate.arrived.Load(), "the second request waits in the proxy")

	gate.open <- struct{}{}
	assert.Equal(t, http.StatusOK, receive(t, first).status)
	gate.waitArrived(t, 2)
	gate.open <- struct{}{}
	r := receive(t, second)
	assert.Equal(t, http.StatusOK, r.status, "the queued request took the freed slot")
}

func TestTenantLimitsChangeAtRuntime(t *testing.T) {
	gate := newGateBackend(t)
	tp := startProxy(t, Options{TenantQueueTimeout: -1}, instance("i1", gate.addr, "acme"))

	require.NoError(t, tp.SetTenantLimits(map[string]TenantLimit{"acme": {Rate: 1, Burst: 1, MaxConcurrent: 1}}))
	first := sendAsync(t, newGet(t, tp.addr, "acme.apps.test"))
	gate.waitArrived(t, 1)
	r := receive(t, sendAsync(t, newGet(t, tp.addr, "acme.apps.test")))
	assert.Equal(t, http.StatusTooManyRequests, r.status, "the rate limit applies first")

	require.NoError(t, tp.SetTenantLimits(map[string]TenantLimit{"acme": {Rate: 1000, MaxConcurrent: 1}}))
	r = receive(t, sendAsync(t, newGet(t, tp.addr, "acme.apps.test")))
	assert.Equal(t, http.StatusServiceUnavailable, r.status, "a raised rate applies at once, and the first request keeps its slot")
	assert.Less(t, r.elapsed, 100*time.Millisecond, "a negative queue timeout rejects without waiting")

	require.NoError(t, tp.SetTenantLimits(map[string]TenantLimit{"acme": {Rate: 1000, MaxConcurrent: 2}}))
	raised := sendAsync(t, newGet(t, tp.addr, "acme.apps.test"))
	gate.waitArrived(t, 2)
	gate.open <- struct{}{}
	gate.open <- struct{}{}
	assert.Equal(t, http.StatusOK, receive(t, first).status)
	assert.Equal(t, http.StatusOK, receive(t, raised).status, "a raised concurrency limit applies at once")

	require.NoError(t, tp.SetTenantLimits(nil))
	for range 5 {
		gate.open <- struct{}{}
	}
	for i := range 5 {
		status, body, _ := get(t, tp.addr, "acme.apps.test", "/")
		assert.Equal(t, http.StatusOK, status, "request %d after the limits were removed: %s", i, body)
	}
}

func scrape(tp *testProxy) string {
	return scrapeProxy(tp.Proxy)
}

func scrapeProxy(p *Proxy) string {
	var buf bytes.Buffer
	p.WritePrometheus(&buf)
	return buf.String()
}

func TestConcurrencyLimitUnderContention(t *testing.T) {
	const limit = 3
	l := newTenantLimiter("acme", TenantLimit{MaxConcurrent: limit, MaxQueued: 64})
	ctx := context.Background()

	var inflight, peak atomic.Int64
	var rejected atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if _, err := l.admit(ctx, time.Now(), 5*time.Second); err != nil {
					rejected.Add(1)
					continue
				}
				n := inflight.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				time.Sleep(10 * time.Microsecond)
				inflight.Add(-1)
				l.release()
			}
		}()
	}
	wg.Wait()

	assert.LessOrEqual(t, peak.Load(), int64(limit), "never more than the limit in flight")
	assert.Equal(t, int64(limit), peak.Load(), "the limit was reached")
	assert.Zero(t, rejected.Load(), "with a long queue timeout every waiter gets a slot")
	assert.Zero(t, l.inflight.Load())
	assert.Zero(t, l.queued.Load())
}

func TestTenantLimiterAllocatesNothing(t *testing.T) {
	p, err := New(Options{}, testExtractor(t), &balancer.Router{}, nil)
	require.NoError(t, err)
	require.NoError(t, p.SetTenantLimits(map[string]TenantLimit{"acme": {Rate: 1e9, Burst: 1 << 20, MaxConcurrent: 10}}))
	ctx := context.Background()
	arrival := time.Now()

	allocs := testing.AllocsPerRun(1000, func() {
		l := p.limiterOf("acme")
		if _, err := l.admit(ctx, arrival, time.Second); err != nil {
			t.Fatal(err)
		}
		l.release()
		_ = p.limiterOf("globex")
	})
	assert.Zero(t, allocs, "admission within the limits")
}
