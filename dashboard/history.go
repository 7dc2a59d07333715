package dashboard

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/dflb/dflb/balancer"
)

// Defaults of HistoryOptions.
const (
	DefaultInterval     = 2 * time.Second
	DefaultPoints       = 1800 // one hour at DefaultInterval
	DefaultTopTenants   = 20
	DefaultMaxInstances = 50
)

// HistoryOptions sizes a History. Zero fields take the defaults above.
type HistoryOptions struct {
	// Interval is the time between two samples in Run.
	Interval time.Duration
	// Points is how many samples each series keeps.
	Points int
	// TopTenants is how many tenants get a series: those with the highest
	// request rate.
	TopTenants int
	// MaxInstances is how many instances get a series, also chosen by
	// request rate. It only matters for fleets larger than this.
	MaxInstances int
}

// History is a bounded time series of request rate, error rate and p99
// latency: one series overall, one per instance and one per top tenant.
//
// Its memory does not grow with the number of tenants. It holds at most
// (1 + MaxInstances + TopTenants) series of 3 x Points float64 values plus
// Points timestamps. With the defaults that is at most 3.1 MB, and 1.1 MB
// for 5 instances (computed from those sizes). Sampling scans the rates
// once and keeps a scratch list of TopTenants entries. The rates map
// itself, one entry per tenant, is the caller's.
//
// A tenant gets a series while it is among the TopTenants tenants with the
// highest request rate. When another tenant overtakes it, its series and
// its past points are dropped. A tenant that enters the top later starts
// with a gap. A tracked tenant keeps its place until a newcomer's rate
// exceeds its own by more than stickiness, so that tenants near the
// boundary do not swap places at every sample.
type History struct {
	rates        func() balancer.Rates
	interval     time.Duration
	points       int
	topTenants   int
	maxInstances int

	mu        sync.Mutex
	times     []int64 // ring of sample times in Unix milliseconds
	next      int     // ring index of the next sample
	count     int     // samples stored, at most points
	overall   *series
	instances map[string]*series
	tenants   map[string]*series
	spare     []*series // series dropped by eviction, reused before allocating
	ranked    []ranked  // scratch for topByRate, reused between samples
}

// stickiness is the factor by which a newcomer's request rate must exceed
// a tracked tenant's (or instance's) rate to take its series.
const stickiness = 1.1

// NewHistory returns a History that samples rates. rates is called once
// per sample, outside the History's lock. Each point is the rate that it
// returns at that moment, so a function backed by a balancer.Window gives
// points averaged over that window's span (one minute in DFLB), and a
// shorter window gives noisier points.
func NewHistory(rates func() balancer.Rates, opts HistoryOptions) *History {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Points <= 0 {
		opts.Points = DefaultPoints
	}
	if opts.TopTenants <= 0 {
		opts.TopTenants = DefaultTopTenants
	}
	if opts.MaxInstances <= 0 {
		opts.MaxInstances = DefaultMaxInstances
	}
	return &History{
		rates:        rates,
		interval:     opts.Interval,
		points:       opts.Points,
		topTenants:   opts.TopTenants,
		maxInstances: opts.MaxInstances,
		times:        make([]int64, opts.Points),
		overall:      newSeries(opts.Points),
		instances:    map[string]*series{},
		tenants:      map[string]*series{},
	}
}

// Run samples at once and then every interval until ctx ends.
func (h *History) Run(ctx context.Context) {
	h.Sample(time.Now())
	ticker := time.NewTicker(h.interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticker.C:
			h.Sample(now)
		}
	}
}

// Sample stores the current rates as the point at now, replacing the
// oldest point when the ring is full. A sample whose time (in
// milliseconds) is not after the newest point's is dropped, because chart
// times must increase.
func (h *History) Sample(now time.Time) {
	ms := now.UnixMilli()
	h.mu.Lock()
	stale := h.count > 0 && ms <= h.times[h.prev(h.next)]
	h.mu.Unlock()
	if stale {
		return
	}

	r := h.rates()

	h.mu.Lock()
	defer h.mu.Unlock()
	if h.count > 0 && ms <= h.times[h.prev(h.next)] {
		return // a concurrent Sample stored a later point
	}
	slot := h.next
	h.times[slot] = ms
	h.next = (h.next + 1) % h.points
	h.count = min(h.count+1, h.points)

	h.overall.set(slot, overallRate(r))
	h.track(h.instances, r.Instances, h.maxInstances, slot)
	h.track(h.tenants, r.Tenants, h.topTenants, slot)
}

func (h *History) prev(i int) int {
	return (i - 1 + h.points) % h.points
}

// track updates tracked, the series of one kind, to the limit cells with
// the highest request rate in rates and stores their point at slot. A
// tracked cell missing from rates, which the caller's registry dropped, is
// evicted too. Evicted series go to h.spare. The caller holds h.mu.
func (h *History) track(tracked map[string]*series, rates map[string]balancer.Rate, limit, slot int) {
	h.ranked = topByRate(h.ranked[:0], rates, limit, func(name string) bool {
		_, ok := tracked[name]
		return ok
	})

	for name, s := range tracked {
		if !containsName(h.ranked, name) {
			delete(tracked, name)
			h.spare = append(h.spare, s)
		}
	}
	for _, r := range h.ranked {
		s, ok := tracked[r.name]
		if !ok {
			s = h.newSeriesLocked()
			tracked[r.name] = s
		}
		s.set(slot, rates[r.name])
	}
}

// newSeriesLocked returns an empty series, reusing an evicted one if any.
func (h *History) newSeriesLocked() *series {
	if n := len(h.spare); n > 0 {
		s := h.spare[n-1]
		h.spare = h.spare[:n-1]
		s.reset()
		return s
	}
	return newSeries(h.points)
}

// overallRate sums the tenants' request and error rates, because every
// request counts in exactly one tenant's cell. The p99 is the highest of
// the instances' p99, or of the tenants' when no instance has traffic.
// That is an upper bound of the p99 of all requests together, because at
// most 1% of each instance's requests exceed its own p99.
func overallRate(r balancer.Rates) balancer.Rate {
	var out balancer.Rate
	for _, t := range r.Tenants {
		out.Requests += t.Requests
		out.Errors += t.Errors
		out.Inflight += t.Inflight
	}
	for _, i := range r.Instances {
		out.P99 = max(out.P99, i.P99)
	}
	if out.P99 == 0 {
		for _, t := range r.Tenants {
			out.P99 = max(out.P99, t.P99)
		}
	}
	return out
}

// series is one ring of points per metric, aligned with History.times. An
// absent point is NaN.
type series struct {
	requests []float64 // requests per second
	errors   []float64 // errored requests per second
	p99      []float64 // 99th percentile latency in milliseconds
}

func newSeries(points int) *series {
	s := &series{
		requests: make([]float64, points),
		errors:   make([]float64, points),
		p99:      make([]float64, points),
	}
	s.reset()
	return s
}

func (s *series) reset() {
	for i := range s.requests {
		s.clear(i)
	}
}

func (s *series) clear(slot int) {
	s.requests[slot] = math.NaN()
	s.errors[slot] = math.NaN()
	s.p99[slot] = math.NaN()
}

func (s *series) set(slot int, r balancer.Rate) {
	s.requests[slot] = r.Requests
	s.errors[slot] = r.Errors
	s.p99[slot] = float64(r.P99) / float64(time.Millisecond)
}
