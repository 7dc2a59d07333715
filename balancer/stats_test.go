package balancer

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStatsCellsPersistAcrossTables(t *testing.T) {
	pool := NewPool(nil, HealthConfig{}, nil)
	stats := NewStats()

	first, err := pool.Build(testSpecs(), stats)
	require.NoError(t, err)
	r1, err := first.Lookup([]byte("acme"), "app")
	require.NoError(t, err)
	r1.Stats.Start(0)
	r1.Stats.Done(0, ClassOK, 1, 1, time.Millisecond)

	second, err := pool.Build(testSpecs(), stats)
	require.NoError(t, err)
	r2, err := second.Lookup([]byte("acme"), "app")
	require.NoError(t, err)
	assert.Same(t, r1.Stats, r2.Stats)
	assert.Same(t, r1.Targets[1].Stats, r2.Targets[1].Stats)
	assert.Equal(t, uint64(1), r2.Stats.Read().Requests)
}

func TestStatsSnapshotSumsInstances(t *testing.T) {
	stats := NewStats()
	stats.Pair("acme", "i1").Start(0)
	stats.Pair("globex", "i1").Start(0)
	stats.Pair("globex", "i1").Start(1)
	stats.Pair("acme", "i2").Start(0)
	stats.Tenant("initech").Start(0)

	now := time.Unix(1000, 0)
	snap := stats.Snapshot(now)
	assert.Equal(t, now, snap.Time)
	assert.Len(t, snap.Tenants, 3)
	assert.Len(t, snap.Pairs, 3)
	assert.Equal(t, uint64(2), snap.Pairs[Pair{Tenant: "globex", Instance: "i1"}].Requests)
	assert.Equal(t, uint64(3), snap.Instances["i1"].Requests)
	assert.Equal(t, uint64(1), snap.Instances["i2"].Requests)
	assert.Equal(t, int64(3), snap.Instances["i1"].Inflight)
	assert.Equal(t, uint64(1), snap.Tenants["initech"].Requests)
	assert.Zero(t, snap.Tenants["acme"].Requests, "pair cells do not feed the tenant cell")
}

func TestStatsForget(t *testing.T) {
	stats := NewStats()
	old := stats.Tenant("acme")
	stats.Pair("acme", "i1").Start(0)
	stats.Pair("globex", "i1").Start(0)

	stats.Forget("acme")
	snap := stats.Snapshot(time.Unix(1, 0))
	assert.NotContains(t, snap.Tenants, "acme")
	assert.NotContains(t, snap.Pairs, Pair{Tenant: "acme", Instance: "i1"})
	assert.Contains(t, snap.Pairs, Pair{Tenant: "globex", Instance: "i1"})
	assert.Equal(t, uint64(1), snap.Instances["i1"].Requests)

	assert.NotSame(t, old, stats.Tenant("acme"), "a forgotten tenant gets a fresh cell")
	stats.Forget("never-seen")
}

func TestStatsRetain(t *testing.T) {
	pool := NewPool(nil, HealthConfig{}, nil)
	stats := NewStats()
	_, err := pool.Build(testSpecs(), stats)
	require.NoError(t, err)

	// The new table drops globex and moves acme off i2.
	table, err := pool.Build([]InstanceSpec{{
		ID:         "i1",
		Components: map[string]string{"app": "127.0.0.1:9001"},
		Tenants:    []string{"acme"},
	}}, stats)
	require.NoError(t, err)
	stats.Retain(table)

	snap := stats.Snapshot(time.Unix(1, 0))
	assert.Equal(t, []string{"acme"}, keysOf(snap.Tenants))
	assert.Len(t, snap.Pairs, 1)
	assert.Contains(t, snap.Pairs, Pair{Tenant: "acme", Instance: "i1"})
}

func TestStatsConcurrentCreate(t *testing.T) {
	stats := NewStats()
	const goroutines = 8
	cells := make([]*Counters, goroutines)
	pairs := make([]*Counters, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			cells[g] = stats.Tenant("acme")
			pairs[g] = stats.Pair("acme", "i1")
		})
	}
	wg.Wait()
	for g := 1; g < goroutines; g++ {
		assert.Same(t, cells[0], cells[g])
		assert.Same(t, pairs[0], pairs[g])
	}
}

func keysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}
