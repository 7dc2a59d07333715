package balancer

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// benchTable returns a table of 1,000 tenants spread over 4 instances, each
// tenant on 2 of them.
func benchTable(b *testing.B) *Table {
	b.Helper()
	specs := make([]InstanceSpec, 4)
	for i := range specs {
		specs[i] = InstanceSpec{
			ID:         fmt.Sprintf("i%d", i),
			Components: map[string]string{"app": fmt.Sprintf("127.0.0.1:%d", 9001+i)},
		}
	}
	for n := range 1000 {
		tenant := fmt.Sprintf("tenant-%d", n)
		specs[n%4].Tenants = append(specs[n%4].Tenants, tenant)
		specs[(n+1)%4].Tenants = append(specs[(n+1)%4].Tenants, tenant)
	}
	table, err := NewPool(nil, HealthConfig{Failures: 3, Cooloff: time.Second}, nil).Build(specs, NewStats())
	if err != nil {
		b.Fatal(err)
	}
	return table
}

func BenchmarkLookup(b *testing.B) {
	table := benchTable(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		tenant := []byte("tenant-517")
		for pb.Next() {
			if _, err := table.Lookup(tenant, "app"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkPick(b *testing.B) {
	for _, policy := range []Policy{LeastInflight, RoundRobin} {
		b.Run(policy.String(), func(b *testing.B) {
			route, err := benchTable(b).Lookup([]byte("tenant-517"), "app")
			if err != nil {
				b.Fatal(err)
			}
			now := time.Now().UnixNano()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, ok := route.Pick(policy, 0, now); !ok {
						b.Error("no target")
						return
					}
				}
			})
		})
	}
}

// BenchmarkPickRamping is BenchmarkPick with one of the two backends in the
// middle of its slow start.
func BenchmarkPickRamping(b *testing.B) {
	route, err := benchTable(b).Lookup([]byte("tenant-517"), "app")
	if err != nil {
		b.Fatal(err)
	}
	backend := route.Targets[1].Backend
	backend.slowStart = int64(time.Minute)
	now := time.Now().UnixNano()
	backend.startRamp(now - int64(30*time.Second))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := route.Pick(LeastInflight, 0, now); !ok {
				b.Error("no target")
				return
			}
		}
	})
}

func BenchmarkStartDone(b *testing.B) {
	c := newCounters(shardCount())
	var next atomic.Uint64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		shard := next.Add(1)
		for pb.Next() {
			c.Start(shard)
			c.Done(shard, ClassOK, 100, 200, 3*time.Millisecond)
		}
	})
}

// BenchmarkRequestPath runs what the proxy does per request: lookup, pick,
// acquire, two Start and Done pairs, and release.
func BenchmarkRequestPath(b *testing.B) {
	table := benchTable(b)
	var next atomic.Uint64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		shard := next.Add(1)
		tenant := []byte("tenant-517")
		for pb.Next() {
			now := time.Now().UnixNano()
			route, err := table.Lookup(tenant, "app")
			if err != nil {
				b.Error(err)
				return
			}
			idx, ok := route.Pick(LeastInflight, 0, now)
			if !ok {
				b.Error("no target")
				return
			}
			target := route.Targets[idx]
			route.Stats.Start(shard)
			target.Stats.Start(shard)
			target.Backend.Acquire()
			target.Backend.Release()
			target.Stats.Done(shard, ClassOK, 100, 200, time.Millisecond)
			route.Stats.Done(shard, ClassOK, 100, 200, time.Millisecond)
		}
	})
}

func BenchmarkWritePrometheus(b *testing.B) {
	stats := NewStats()
	for n := range 1000 {
		stats.Pair(fmt.Sprintf("tenant-%d", n), fmt.Sprintf("i%d", n%4)).Start(0)
	}
	b.ReportAllocs()
	for b.Loop() {
		stats.WritePrometheus(discard{})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
