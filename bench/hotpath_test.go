package bench

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dflb/dflb/balancer"
	"github.com/dflb/dflb/tenant"
)

// hotPath is the per-request work that precedes and follows forwarding:
// tenant extraction, table lookup, backend choice and counting.
//
// The requests' Host values sit in one buffer and share one header, because
// the proxy runs this work on a header that it has just parsed, which is in
// the core's cache. A thousand separately allocated headers would make each
// iteration wait for memory that a real request has at hand. The routing
// table and the counters of 1,000 tenants stay as spread out as in the proxy.
type hotPath struct {
	extractor *tenant.Extractor
	router    *balancer.Router
	header    *fasthttp.RequestHeader
	hosts     [][]byte
}

func newHotPath(tb testing.TB, tenants int) *hotPath {
	tb.Helper()
	extractor, err := tenant.New(tenant.Config{
		Rules: []tenant.Rule{
			{Host: "{tenant}.apps.localhost"},
			{Path: "/t/{tenant}/", Strip: true},
			{Header: "X-Tenant-ID"},
		},
		Components: []string{"app"},
	})
	if err != nil {
		tb.Fatal(err)
	}

	ids := make([]string, tenants)
	for i := range ids {
		ids[i] = fmt.Sprintf("t%04d", i)
	}
	pool := balancer.NewPool(nil, balancer.HealthConfig{Failures: 3, Cooloff: time.Second}, nil)
	table, err := pool.Build([]balancer.InstanceSpec{
		{ID: "i1", Components: map[string]string{"app": "127.0.0.1:9001"}, Tenants: ids},
		{ID: "i2", Components: map[string]string{"app": "127.0.0.1:9002"}, Tenants: ids},
	}, balancer.NewStats())
	if err != nil {
		tb.Fatal(err)
	}
	router := &balancer.Router{}
	router.Store(table)

	h := &hotPath{extractor: extractor, router: router, header: &fasthttp.RequestHeader{}}
	h.header.SetRequestURI("/api/items?page=2")
	var all []byte
	for _, id := range ids {
		all = append(all, id+".apps.localhost:8080"...)
	}
	for i, rest := 0, all; i < len(ids); i++ {
		n := len(ids[i]) + len(".apps.localhost:8080")
		h.hosts = append(h.hosts, rest[:n:n])
		rest = rest[n:]
	}
	return h
}

// route extracts the tenant of the request to host and looks its route up.
func (h *hotPath) route(host []byte) (*balancer.Route, bool) {
	var res tenant.Result
	uri := h.header.RequestURI()
	if i := bytes.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	if err := h.extractor.Extract(host, uri, h.header, &res); err != nil {
		return nil, false
	}
	route, err := h.router.Load().Lookup(res.Tenant(), res.Component)
	return route, err == nil
}

// count runs the part of the hot path that every request pays before it is
// forwarded: extract the tenant, look its route up and count the request.
func (h *hotPath) count(host []byte, shard uint64) bool {
	route, ok := h.route(host)
	if !ok {
		return false
	}
	route.Stats.Start(shard)
	route.Stats.Done(shard, balancer.ClassOK, 0, 1024, time.Millisecond)
	return true
}

// serve runs everything the proxy does per request besides the network
// exchange: count's work plus the backend choice and the tenant x instance
// count. It returns false if it found no backend.
func (h *hotPath) serve(host []byte, shard uint64) bool {
	route, ok := h.route(host)
	if !ok {
		return false
	}
	idx, ok := route.Pick(balancer.LeastInflight, 0, 0)
	if !ok {
		return false
	}
	target := &route.Targets[idx]
	route.Stats.Start(shard)
	target.Stats.Start(shard)
	target.Stats.Done(shard, balancer.ClassOK, 0, 1024, time.Millisecond)
	route.Stats.Done(shard, balancer.ClassOK, 0, 1024, time.Millisecond)
	return true
}

func TestHotPathAllocatesNothing(t *testing.T) {
	h := newHotPath(t, 1000)
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		if !h.count(h.hosts[i%len(h.hosts)], uint64(i)) || !h.serve(h.hosts[i%len(h.hosts)], uint64(i)) {
			t.Fatal("hot path found no backend")
		}
		i++
	})
	if allocs != 0 {
		t.Fatalf("hot path allocates %.1f times per request, want 0", allocs)
	}
}

// BenchmarkHotPath measures extract, lookup and count for 1,000 tenants on
// one goroutine: the cost one request pays, without contention. "uniform"
// takes the tenants in turn, so each tenant's route and counters have left
// the core's L1 cache by its next turn: the worst case. "zipf" draws the
// tenants with the popularity of the load benchmark's many-tenant scenario.
func BenchmarkHotPath(b *testing.B) {
	h := newHotPath(b, 1000)
	uniform := make([]int, len(h.hosts))
	for i := range uniform {
		uniform[i] = i
	}
	zipf := zipfOrder(b, len(h.hosts), 1<<16)

	for _, order := range []struct {
		name    string
		tenants []int
	}{{"uniform", uniform}, {"zipf", zipf}} {
		b.Run(order.name, func(b *testing.B) {
			b.ReportAllocs()
			// The index wraps by comparison, because a 64-bit division per
			// iteration takes tens of cycles that would count as hot-path time.
			next := 0
			for i := uint64(0); b.Loop(); i++ {
				if !h.count(h.hosts[order.tenants[next]], i) {
					b.Fatal("hot path found no route")
				}
				if next++; next == len(order.tenants) {
					next = 0
				}
			}
		})
	}
}

// zipfOrder draws n tenant indexes below tenants with the Zipf popularity
// of the many-tenant scenario, from a fixed seed.
func zipfOrder(tb testing.TB, tenants, n int) []int {
	tb.Helper()
	cdf, err := ZipfCDF(tenants, ZipfS, nil)
	if err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	order := make([]int, n)
	for i := range order {
		order[i], _ = slices.BinarySearch(cdf, rng.Float64())
	}
	return order
}

// BenchmarkRequestPath measures extract, lookup, pick and both counts for
// 1,000 tenants, from as many goroutines as GOMAXPROCS.
func BenchmarkRequestPath(b *testing.B) {
	h := newHotPath(b, 1000)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if !h.serve(h.hosts[i%len(h.hosts)], uint64(i)) {
				b.Fatal("hot path found no backend")
			}
			i++
		}
	})
}

// BenchmarkRequestPathSerial is the same work on one goroutine.
func BenchmarkRequestPathSerial(b *testing.B) {
	h := newHotPath(b, 1000)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if !h.serve(h.hosts[i%len(h.hosts)], uint64(i)) {
			b.Fatal("hot path found no backend")
		}
	}
}
