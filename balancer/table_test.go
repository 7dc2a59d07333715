package balancer

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testSpecs returns two instances: i1 serves acme and globex with app and
// compiler, i2 serves acme with app only.
func testSpecs() []InstanceSpec {
	return []InstanceSpec{
		{
			ID:         "i1",
			Components: map[string]string{"app": "127.0.0.1:9001", "compiler": "127.0.0.1:9002"},
			Tenants:    []string{"acme", "globex"},
		},
		{
			ID:         "i2",
			Components: map[string]string{"app": "127.0.0.1:9011"},
			Tenants:    []string{"acme"},
		},
	}
}

func TestTableLookupRoutes(t *testing.T) {
	pool := NewPool(nil, HealthConfig{}, nil)
	stats := NewStats()
	table, err := pool.Build(testSpecs(), stats)
	require.NoError(t, err)
	assert.Equal(t, 2, table.Tenants())

	route, err := table.Lookup([]byte("acme"), "app")
	require.NoError(t, err)
	assert.Equal(t, "acme", route.Tenant)
	assert.Equal(t, "app", route.Component)
	require.Len(t, route.Targets, 2)
	assert.Equal(t, "i1", route.Targets[0].Backend.Instance)
	assert.Equal(t, "127.0.0.1:9001", route.Targets[0].Backend.Addr)
	assert.Equal(t, "i2", route.Targets[1].Backend.Instance)
	assert.Equal(t, "127.0.0.1:9011", route.Targets[1].Backend.Addr)
	assert.Same(t, stats.Tenant("acme"), route.Stats)
	assert.Same(t, stats.Pair("acme", "i1"), route.Targets[0].Stats)
	assert.Same(t, stats.Pair("acme", "i2"), route.Targets[1].Stats)

	compiler, err := table.Lookup([]byte("acme"), "compiler")
	require.NoError(t, err)
	require.Len(t, compiler.Targets, 1)
	assert.Equal(t, "127.0.0.1:9002", compiler.Targets[0].Backend.Addr)
	assert.Same(t, route.Stats, compiler.Stats, "components of one tenant share the tenant cell")

	globex, err := table.Lookup([]byte("globex"), "app")
	require.NoError(t, err)
	require.Len(t, globex.Targets, 1)
	assert.Same(t, route.Targets[0].Backend, globex.Targets[0].Backend, "tenants on one instance share its backend")
}

func TestTableLookupUnknown(t *testing.T) {
	table, err := NewPool(nil, HealthConfig{}, nil).Build(testSpecs(), nil)
	require.NoError(t, err)

	_, err = table.Lookup([]byte("initech"), "app")
	assert.ErrorIs(t, err, ErrUnknownTenant)

	_, err = table.Lookup([]byte("globex"), "renderer")
	assert.ErrorIs(t, err, ErrUnknownComponent)

	_, err = table.Lookup([]byte("ACME"), "app")
	assert.ErrorIs(t, err, ErrUnknownTenant, "Lookup expects normalized IDs")

	_, err = table.Lookup(nil, "app")
	assert.ErrorIs(t, err, ErrUnknownTenant)

	assert.Contains(t, ErrUnknownTenant.Error(), "balancer: ")
	assert.Contains(t, ErrUnknownComponent.Error(), "balancer: ")
}

func TestTableNil(t *testing.T) {
	var router Router
	table := router.Load()
	require.Nil(t, table)

	_, err := table.Lookup([]byte("acme"), "app")
	assert.ErrorIs(t, err, ErrUnknownTenant)
	assert.Equal(t, 0, table.Tenants())
	assert.False(t, table.HasTenant("acme"))
}

func TestBuildEmpty(t *testing.T) {
	table, err := NewPool(nil, HealthConfig{}, nil).Build(nil, nil)
	require.NoError(t, err)
	assert.Equal(t, 0, table.Tenants())
}

func TestBuildInvalidSpecs(t *testing.T) {
	tooMany := make([]InstanceSpec, MaxTargets+1)
	for i := range tooMany {
		tooMany[i] = InstanceSpec{
			ID:         "i" + string(rune('a'+i%26)) + string(rune('a'+i/26)),
			Components: map[string]string{"app": "127.0.0.1:9001"},
			Tenants:    []string{"acme"},
		}
	}

	cases := []struct {
		name    string
		specs   []InstanceSpec
		message string
	}{
		{
			name:    "empty ID",
			specs:   []InstanceSpec{{ID: ""}},
			message: `balancer: instance 0 has an empty ID`,
		},
		{
			name:    "duplicate ID",
			specs:   []InstanceSpec{{ID: "i1"}, {ID: "i1"}},
			message: `balancer: duplicate instance ID "i1"`,
		},
		{
			name:    "empty component",
			specs:   []InstanceSpec{{ID: "i1", Components: map[string]string{"": "127.0.0.1:1"}}},
			message: `balancer: instance "i1" has a component with an empty name`,
		},
		{
			name:    "empty address",
			specs:   []InstanceSpec{{ID: "i1", Components: map[string]string{"app": ""}}},
			message: `balancer: instance "i1" component "app" has an empty address`,
		},
		{
			name:    "empty tenant",
			specs:   []InstanceSpec{{ID: "i1", Tenants: []string{""}}},
			message: `balancer: instance "i1" lists an empty tenant ID`,
		},
		{
			name:    "duplicate tenant",
			specs:   []InstanceSpec{{ID: "i1", Tenants: []string{"acme", "acme"}}},
			message: `balancer: instance "i1" lists tenant "acme" twice`,
		},
		{
			name:    "too many targets",
			specs:   tooMany,
			message: `balancer: tenant "acme" component "app" is served by more than 64 instances`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pool := NewPool(nil, HealthConfig{}, nil)
			table, err := pool.Build(tc.specs, nil)
			require.Error(t, err)
			assert.Nil(t, table)
			assert.Contains(t, err.Error(), tc.message)
			assert.Empty(t, pool.Backends(), "a failed Build leaves the pool unchanged")
		})
	}
}

func TestBuildMaxTargets(t *testing.T) {
	specs := make([]InstanceSpec, MaxTargets)
	for i := range specs {
		specs[i] = InstanceSpec{
			ID:         "i" + string(rune('a'+i%26)) + string(rune('a'+i/26)),
			Components: map[string]string{"app": "127.0.0.1:9001"},
			Tenants:    []string{"acme"},
		}
	}
	table, err := NewPool(nil, HealthConfig{}, nil).Build(specs, nil)
	require.NoError(t, err)

	route, err := table.Lookup([]byte("acme"), "app")
	require.NoError(t, err)
	assert.Len(t, route.Targets, MaxTargets)

	idx, ok := route.Pick(RoundRobin, ^uint64(0)>>1, 1)
	require.True(t, ok, "only the last target is untried")
	assert.Equal(t, MaxTargets-1, idx)
}

func TestPoolReusesBackends(t *testing.T) {
	var created atomic.Int32
	newTransport := func(addr string) any {
		created.Add(1)
		return "transport " + addr
	}
	pool := NewPool(newTransport, HealthConfig{Failures: 1}, nil)

	first, err := pool.Build(testSpecs(), nil)
	require.NoError(t, err)
	assert.Equal(t, int32(3), created.Load())

	r1, err := first.Lookup([]byte("acme"), "app")
	require.NoError(t, err)
	b := r1.Targets[0].Backend
	assert.Equal(t, "transport 127.0.0.1:9001", b.Transport)
	b.Acquire()
	b.ReportFailure(100)

	second, err := pool.Build(testSpecs(), nil)
	require.NoError(t, err)
	assert.Equal(t, int32(3), created.Load(), "same keys reuse backends")

	r2, err := second.Lookup([]byte("acme"), "app")
	require.NoError(t, err)
	assert.Same(t, b, r2.Targets[0].Backend)
	assert.Equal(t, int64(1), r2.Targets[0].Backend.Inflight())
	assert.True(t, r2.Targets[0].Backend.Down())
}

func TestPoolPruneClosesUnused(t *testing.T) {
	var mu sync.Mutex
	var closed []any
	closeTransport := func(tr any) {
		mu.Lock()
		defer mu.Unlock()
		closed = append(closed, tr)
	}
	pool := NewPool(func(addr string) any { return addr }, HealthConfig{}, closeTransport)

	first, err := pool.Build(testSpecs(), nil)
	require.NoError(t, err)
	assert.Equal(t, 0, pool.Prune(first))
	assert.Len(t, pool.Backends(), 3)

	// i2 moves to a new port and i1 drops its compiler.
	specs := testSpecs()
	specs[0].Components = map[string]string{"app": "127.0.0.1:9001"}
	specs[1].Components = map[string]string{"app": "127.0.0.1:9012"}
	second, err := pool.Build(specs, nil)
	require.NoError(t, err)
	assert.Len(t, pool.Backends(), 4, "Build keeps old backends until Prune")
	assert.Empty(t, closed)

	assert.Equal(t, 2, pool.Prune(second))
	assert.ElementsMatch(t, []any{"127.0.0.1:9002", "127.0.0.1:9011"}, closed)

	backends := pool.Backends()
	require.Len(t, backends, 2)
	assert.Equal(t, "127.0.0.1:9001", backends[0].Addr)
	assert.Equal(t, "127.0.0.1:9012", backends[1].Addr)
}

func TestRouterSwapDuringLookups(t *testing.T) {
	pool := NewPool(nil, HealthConfig{}, nil)
	stats := NewStats()
	var router Router
	table, err := pool.Build(testSpecs(), stats)
	require.NoError(t, err)
	router.Store(table)

	const swaps = 1000
	const readers = 4
	var done atomic.Bool
	var lookups, failures atomic.Int64
	var wg sync.WaitGroup
	for range readers {
		wg.Go(func() {
			tenant := []byte("acme")
			for !done.Load() {
				route, err := router.Load().Lookup(tenant, "app")
				lookups.Add(1)
				if err != nil || len(route.Targets) == 0 {
					failures.Add(1)
				}
			}
		})
	}

	// The readers must be running before the swaps start, or a fast machine
	// finishes all swaps first and the test checks nothing.
	require.Eventually(t, func() bool { return lookups.Load() > 0 }, 5*time.Second, time.Millisecond)
	before := lookups.Load()

	for i := range swaps {
		specs := testSpecs()
		// Alternate the port of i2 so every other table has a new backend.
		if i%2 == 1 {
			specs[1].Components = map[string]string{"app": "127.0.0.1:9012"}
		}
		next, err := pool.Build(specs, stats)
		require.NoError(t, err)
		router.Store(next)
		pool.Prune(next)
		stats.Retain(next)
	}
	done.Store(true)
	wg.Wait()

	assert.Greater(t, lookups.Load(), before, "no lookup ran during the swaps")
	assert.Zero(t, failures.Load(), "every lookup finds a route")
	assert.Len(t, pool.Backends(), 3)
}

// A Route that is not a whole number of cache lines would let the first
// line's fields, which every request reads, straddle two lines.
func TestRouteSizeIsWholeCacheLines(t *testing.T) {
	assert.Zero(t, unsafe.Sizeof(Route{})%cacheLine, "size %d", unsafe.Sizeof(Route{}))
	assert.Equal(t, uintptr(cacheLine), unsafe.Offsetof(Route{}.next), "the hot fields must fill exactly the first line")
}
