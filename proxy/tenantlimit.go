package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/dflb/dflb/balancer"
	"github.com/dflb/dflb/tenant"
)

// TenantLimit caps the traffic of one tenant. A zero field leaves its
// dimension unlimited. Limits apply per proxy process, to client requests
// (a retried request counts once), and are set with Proxy.SetTenantLimits.
type TenantLimit struct {
	// Rate is the sustained request rate in requests per second. A request
	// above it gets 429 with Retry-After set to the seconds until the next
	// request fits, at least 1. 0 means no rate limit.
	Rate float64

	// Burst is how many requests may arrive at once above Rate, as in a
	// token bucket of Burst tokens refilled at Rate. 0 selects Rate rounded
	// up, at least 1. It matters only with Rate set.
	Burst int

	// MaxConcurrent is the maximum number of the tenant's requests being
	// forwarded at once. A request over it waits up to
	// Options.TenantQueueTimeout for a slot, then gets 503 with
	// Retry-After: 1. A slot is held until the backend's response head has
	// arrived, or for a WebSocket upgrade until the handshake is done, not
	// while a streamed body or a tunnel runs. 0 means no concurrency limit.
	MaxConcurrent int

	// MaxQueued is the maximum number of the tenant's requests waiting for
	// a slot. A request that finds the queue full gets 503 at once.
	// 0 selects MaxConcurrent. It matters only with MaxConcurrent set.
	MaxQueued int
}

// maxBurstWindow bounds Burst/Rate, the time a full bucket covers, so that
// the token bucket's arithmetic in nanoseconds cannot overflow.
const maxBurstWindow = 24 * time.Hour

// validate rejects limits that cannot be enforced.
func (l TenantLimit) validate() error {
	if math.IsNaN(l.Rate) || math.IsInf(l.Rate, 0) || l.Rate < 0 {
		return fmt.Errorf("rate %v must be a finite number of requests per second, at least 0", l.Rate)
	}
	if l.Rate > 0 && l.Rate < 1.0/maxBurstWindow.Seconds() {
		return fmt.Errorf("rate %v is below one request per %s: raise it or set 0 for no limit", l.Rate, maxBurstWindow)
	}
	if l.Rate > 1e9 {
		return fmt.Errorf("rate %v is above 1e9 requests per second: lower it or set 0 for no limit", l.Rate)
	}
	if l.Burst < 0 || l.MaxConcurrent < 0 || l.MaxQueued < 0 {
		return fmt.Errorf("burst %d, max concurrent %d and max queued %d must not be negative", l.Burst, l.MaxConcurrent, l.MaxQueued)
	}
	if l.Rate > 0 && float64(l.Burst)/l.Rate > maxBurstWindow.Seconds() {
		return fmt.Errorf("burst %d at rate %v covers more than %s: lower the burst", l.Burst, l.Rate, maxBurstWindow)
	}
	return nil
}

// limitConfig is a validated TenantLimit in the units the limiter uses. It
// is never changed after it is published.
type limitConfig struct {
	interval      int64 // nanoseconds per request at Rate, or 0 for no rate limit
	burstWindow   int64 // nanoseconds: Burst x interval
	maxConcurrent int64 // 0 for no concurrency limit
	maxQueued     int64
}

func newLimitConfig(l TenantLimit) *limitConfig {
	c := &limitConfig{maxConcurrent: int64(l.MaxConcurrent), maxQueued: int64(l.MaxQueued)}
	if c.maxQueued == 0 {
		c.maxQueued = c.maxConcurrent
	}
	if l.Rate > 0 {
		burst := l.Burst
		if burst == 0 {
			burst = max(int(math.Ceil(l.Rate)), 1)
		}
		c.interval = max(int64(float64(time.Second)/l.Rate), 1)
		c.burstWindow = c.interval * int64(burst)
	}
	return c
}

var (
	// errRateLimited means the tenant sent requests faster than its Rate.
	errRateLimited = errors.New("proxy: tenant request rate limit exceeded")
	// errConcurrencyLimited means that the tenant's MaxConcurrent slots
	// stayed taken: its queue was full or the wait timed out.
	errConcurrencyLimited = errors.New("proxy: tenant concurrency limit exceeded")
)

// tenantLimiters maps a normalized tenant ID to its limiter. A published
// map is never changed: SetTenantLimits publishes a new one.
type tenantLimiters map[string]*tenantLimiter

// SetTenantLimits replaces the limits of every tenant. limits maps a tenant
// ID, folded to lower case like a request's, to its limits, and a tenant
// not in it has none. Changes apply to the next request. A tenant keeps its
// count of requests in flight across calls, and its token bucket unless
// its Rate or Burst changed, in which case the bucket starts full. An empty
// or nil map removes all limits.
// On an invalid entry it returns an error naming the tenant and changes
// nothing. It is safe to call while requests are served.
func (p *Proxy) SetTenantLimits(limits map[string]TenantLimit) error {
	configs := make(map[string]TenantLimit, len(limits))
	for _, raw := range slices.Sorted(maps.Keys(limits)) {
		var buf [tenant.MaxIDLen]byte
		id, err := tenant.Normalize([]byte(raw), &buf)
		if err != nil {
			return fmt.Errorf("proxy: tenant limits: %w", err)
		}
		if _, dup := configs[string(id)]; dup {
			return fmt.Errorf("proxy: tenant limits: %q and another key name the same tenant %q: keep one", raw, id)
		}
		if err := limits[raw].validate(); err != nil {
			return fmt.Errorf("proxy: tenant %q limits: %w", raw, err)
		}
		configs[string(id)] = limits[raw]
	}

	p.limitsMu.Lock()
	defer p.limitsMu.Unlock()
	if len(configs) == 0 {
		p.limits.Store(nil)
		return nil
	}
	var old tenantLimiters
	if current := p.limits.Load(); current != nil {
		old = *current
	}
	next := make(tenantLimiters, len(configs))
	for id, limit := range configs {
		l, ok := old[id]
		if !ok {
			next[id] = newTenantLimiter(id, limit)
			continue
		}
		c := newLimitConfig(limit)
		previous := l.config.Swap(c)
		if c.interval != previous.interval || c.burstWindow != previous.burstWindow {
			// A bucket drained under the old rate could hold back the
			// tenant for up to the old burst window, so a new rate
			// starts with a full bucket.
			l.tat.Store(0)
		}
		next[id] = l
	}
	p.limits.Store(&next)
	return nil
}

// limiterOf returns the limiter of tenantID, or nil when the tenant has no
// limits. With no limits set at all it costs one atomic load.
func (p *Proxy) limiterOf(tenantID string) *tenantLimiter {
	limits := p.limits.Load()
	if limits == nil {
		return nil
	}
	return (*limits)[tenantID]
}

// maxWakeBuffer caps the buffer of a limiter's wake-up channel.
const maxWakeBuffer = 1024

// tenantLimiter enforces one tenant's TenantLimit. The proxy keeps one per
// limited tenant across SetTenantLimits calls, so that a change of limits
// keeps the requests in flight and the bucket's state. Admission under the
// limits takes atomics only. Waiting for a slot uses a channel.
type tenantLimiter struct {
	tenant string
	config atomic.Pointer[limitConfig]

	// tat is the token bucket as a theoretical arrival time (the generic
	// cell rate algorithm): the unix-nano time at which the bucket would be
	// full again. A request fits when tat, after adding its interval, lies
	// at most burstWindow ahead of now.
	tat atomic.Int64
	// inflight counts admitted requests not yet released, and queued the
	// requests waiting for a slot.
	inflight atomic.Int64
	queued   atomic.Int64

	// wake receives a token for each release while requests are queued.
	// Its buffer is sized when the limiter is created, and a waiter that
	// gets a slot passes a token on, so a wake-up lost to a full buffer
	// only delays the next waiter until that happens.
	wake chan struct{}

	rejectedRate        atomic.Uint64 // requests rejected with 429
	rejectedConcurrency atomic.Uint64 // requests rejected with 503
}

func newTenantLimiter(tenant string, limit TenantLimit) *tenantLimiter {
	c := newLimitConfig(limit)
	l := &tenantLimiter{
		tenant: tenant,
		wake:   make(chan struct{}, min(max(c.maxQueued, 1), maxWakeBuffer)),
	}
	l.config.Store(c)
	return l
}

// admit applies the rate limit, then the concurrency limit, to one request
// that arrived at arrival. A request over the concurrency limit waits up to
// queueTimeout for a slot, or not at all when queueTimeout is negative, and
// stops waiting when ctx is done, which for a *fasthttp.RequestCtx means
// that the server is shutting down. On success the caller must call release.
// On errRateLimited, retryAfter is the time until a request would fit.
func (l *tenantLimiter) admit(ctx context.Context, arrival time.Time, queueTimeout time.Duration) (retryAfter time.Duration, err error) {
	c := l.config.Load()
	if c.interval > 0 {
		if wait := l.takeToken(c, arrival.UnixNano()); wait > 0 {
			l.rejectedRate.Add(1)
			return wait, errRateLimited
		}
	}

	if l.tryAcquire(c.maxConcurrent) {
		return 0, nil
	}
	if queueTimeout >= 0 && l.waitForSlot(ctx, queueTimeout) {
		return 0, nil
	}
	l.rejectedConcurrency.Add(1)
	return 0, errConcurrencyLimited
}

// takeToken takes one token from the bucket at now (unix nanoseconds). It
// returns 0 on success, or the time until a token is available.
func (l *tenantLimiter) takeToken(c *limitConfig, now int64) time.Duration {
	for {
		tat := l.tat.Load()
		next := max(tat, now) + c.interval
		if ahead := next - now; ahead > c.burstWindow {
			return time.Duration(ahead - c.burstWindow)
		}
		if l.tat.CompareAndSwap(tat, next) {
			return 0
		}
	}
}

// tryAcquire takes a slot when fewer than limit requests are in flight, or
// always when limit is 0. In-flight requests are counted without a limit
// too, so that a limit set later starts from the true count. A
// compare-and-swap loop, unlike add-then-undo, never shows other callers a
// count above limit, so none of them fails because of this one.
func (l *tenantLimiter) tryAcquire(limit int64) bool {
	if limit == 0 {
		l.inflight.Add(1)
		return true
	}
	for {
		n := l.inflight.Load()
		if n >= limit {
			return false
		}
		if l.inflight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// waitForSlot queues the request until a slot frees, timeout passes or ctx
// is done, and reports whether it got a slot. A full queue returns false
// at once.
func (l *tenantLimiter) waitForSlot(ctx context.Context, timeout time.Duration) bool {
	c := l.config.Load()
	if l.queued.Add(1) > c.maxQueued {
		l.queued.Add(-1)
		return false
	}
	// The count above is visible before this second try, so a release that
	// this try misses finds a waiter and sends a wake-up.
	if l.tryAcquire(c.maxConcurrent) {
		l.queued.Add(-1)
		return true
	}

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case <-l.wake:
			// The limit is read again, so a raise applies to waiters too.
			if l.tryAcquire(l.config.Load().maxConcurrent) {
				l.queued.Add(-1)
				l.passWakeUp()
				return true
			}
		case <-timer.C:
			l.queued.Add(-1)
			return false
		case <-ctx.Done():
			l.queued.Add(-1)
			return false
		}
	}
}

// release ends a request admitted by admit and wakes a waiter, if any.
func (l *tenantLimiter) release() {
	l.inflight.Add(-1)
	if l.queued.Load() > 0 {
		l.signal()
	}
}

// passWakeUp wakes the next waiter when slots are still free, which covers
// wake-ups dropped while the channel buffer was full.
func (l *tenantLimiter) passWakeUp() {
	if l.queued.Load() == 0 {
		return
	}
	limit := l.config.Load().maxConcurrent
	if limit == 0 || l.inflight.Load() < limit {
		l.signal()
	}
}

func (l *tenantLimiter) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// rejectLimited responds to a request over its tenant's limits: 429 with
// Retry-After in whole seconds until a request fits, at least 1, or 503
// with Retry-After: 1 over the concurrency limit.
func (p *Proxy) rejectLimited(ctx *fasthttp.RequestCtx, route *balancer.Route, err error, retryAfter time.Duration) failure {
	f := p.fail(ctx, err, fmt.Sprintf("%s for tenant %q", classify(err).body, route.Tenant))
	if f.status == fasthttp.StatusTooManyRequests {
		seconds := max(int64(math.Ceil(retryAfter.Seconds())), 1)
		ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, strconv.FormatInt(seconds, 10))
	}

	if ok, suppressed := p.limitLog.allow(time.Now()); ok {
		p.log.LogAttrs(context.Background(), slog.LevelInfo, "request over tenant limits",
			slog.String("tenant", route.Tenant), slog.Int("status", f.status),
			slog.Int64("suppressed", suppressed))
	}
	return f
}

// writeTenantLimits writes, for every tenant with limits, sorted by tenant:
//
//   - dflb_tenant_limited_total{tenant,code}: requests rejected by the
//     tenant's limits, code "429" over the rate and "503" over the
//     concurrency limit
//   - dflb_tenant_queued{tenant}: requests waiting for a slot
//
// Tenant IDs are normalized DNS labels, so they need no escaping.
func (p *Proxy) writeTenantLimits(w io.Writer) {
	current := p.limits.Load()
	if current == nil {
		return
	}
	limiters := *current
	tenants := slices.Sorted(maps.Keys(limiters))

	metrics.WriteMetadataIfNeeded(w, "dflb_tenant_limited_total", "counter")
	for _, id := range tenants {
		l := limiters[id]
		fmt.Fprintf(w, "dflb_tenant_limited_total{tenant=%q,code=\"429\"} %d\n", id, l.rejectedRate.Load())
		fmt.Fprintf(w, "dflb_tenant_limited_total{tenant=%q,code=\"503\"} %d\n", id, l.rejectedConcurrency.Load())
	}

	metrics.WriteMetadataIfNeeded(w, "dflb_tenant_queued", "gauge")
	for _, id := range tenants {
		fmt.Fprintf(w, "dflb_tenant_queued{tenant=%q} %d\n", id, max(limiters[id].queued.Load(), 0))
	}
}
