package balancer

import (
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCountersShardLayout(t *testing.T) {
	assert.Equal(t, uintptr(256), unsafe.Sizeof(counterShard{}))

	for _, tc := range []struct{ requested, shards int }{
		{0, 1}, {1, 1}, {2, 2}, {3, 4}, {5, 8}, {16, 16},
	} {
		c := newCounters(tc.requested)
		assert.Len(t, c.shards, tc.shards, "requested %d", tc.requested)
		assert.Equal(t, uint64(tc.shards-1), c.mask)
	}

	n := shardCount()
	assert.GreaterOrEqual(t, n, 1)
	assert.LessOrEqual(t, n, maxShards)
	assert.Zero(t, n&(n-1), "power of two")
}

func TestCountersConcurrentSums(t *testing.T) {
	const goroutines = 16
	const perGoroutine = 5000
	c := newCounters(4)

	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			shard := uint64(g)
			for i := range perGoroutine {
				c.Start(shard)
				cls := ClassOK
				if i%10 == 0 {
					cls = ClassServer
				}
				// Done on another shard than Start must still balance.
				c.Done(shard+1, cls, 3, 7, time.Millisecond)
			}
		})
	}
	wg.Wait()

	snap := c.Read()
	total := uint64(goroutines * perGoroutine)
	assert.Equal(t, total, snap.Requests)
	assert.Equal(t, int64(0), snap.Inflight)
	assert.Equal(t, 3*total, snap.BytesIn)
	assert.Equal(t, 7*total, snap.BytesOut)
	assert.Equal(t, total/10, snap.Classes[ClassServer])
	assert.Equal(t, total-total/10, snap.Classes[ClassOK])
	assert.Equal(t, total, snap.Done())
	assert.Equal(t, total/10, snap.Errors())
	assert.Equal(t, total, snap.Buckets[bucketIndex(time.Millisecond)])
	assert.Equal(t, time.Duration(total)*time.Millisecond, snap.LatencySum)
}

func TestCountersDoneEdgeValues(t *testing.T) {
	c := newCounters(1)
	c.Start(0)
	c.Done(0, Class(200), -1, -5, 20*time.Second)

	snap := c.Read()
	assert.Equal(t, uint64(1), snap.Classes[ClassOther], "unknown class counts as other")
	assert.Zero(t, snap.BytesIn, "negative byte count is ignored")
	assert.Zero(t, snap.BytesOut)
	assert.Equal(t, uint64(1), snap.Buckets[NumBuckets-1], "beyond 10s lands in +Inf")
	assert.Equal(t, int64(0), snap.Inflight)
}

func TestBucketIndexBounds(t *testing.T) {
	bounds := LatencyBounds()
	assert.Equal(t, 500*time.Microsecond, bounds[0])
	assert.Equal(t, 10*time.Second, bounds[len(bounds)-1])
	for i := 1; i < len(bounds); i++ {
		assert.Less(t, bounds[i-1], bounds[i], "bounds ascend")
	}

	assert.Equal(t, 0, bucketIndex(0))
	assert.Equal(t, 0, bucketIndex(500*time.Microsecond), "bounds are inclusive")
	assert.Equal(t, 1, bucketIndex(500*time.Microsecond+1))
	assert.Equal(t, NumBuckets-2, bucketIndex(10*time.Second))
	assert.Equal(t, NumBuckets-1, bucketIndex(10*time.Second+1))
	assert.Equal(t, 0, bucketIndex(-time.Second), "negative durations land in the first bucket")
}

func TestQuantileEstimate(t *testing.T) {
	var snap CounterSnapshot
	assert.Zero(t, snap.Quantile(0.99), "no observations")

	// 100 requests in (5ms, 10ms]: p50 interpolates to the middle.
	snap.Buckets[bucketIndex(10*time.Millisecond)] = 100
	assert.Equal(t, 7500*time.Microsecond, snap.Quantile(0.5))
	assert.Equal(t, 10*time.Millisecond, snap.Quantile(1))

	// 99 fast requests and one in +Inf: p99 stays in the first bucket.
	snap = CounterSnapshot{}
	snap.Buckets[0] = 99
	snap.Buckets[NumBuckets-1] = 1
	assert.Equal(t, 500*time.Microsecond, snap.Quantile(0.99))
	assert.Equal(t, 10*time.Second, snap.Quantile(1), "+Inf reports the last finite bound")
}

func TestStatusClass(t *testing.T) {
	cases := map[int]Class{
		100: ClassOK, 200: ClassOK, 304: ClassOK, 399: ClassOK,
		400: ClassClient, 404: ClassClient, 499: ClassClient,
		500: ClassServer, 503: ClassServer, 599: ClassServer,
		0: ClassOther, 99: ClassOther, 600: ClassOther,
	}
	for status, want := range cases {
		assert.Equal(t, want, StatusClass(status), "status %d", status)
	}
}

func TestClassNamesAndErrors(t *testing.T) {
	names := make(map[string]bool)
	for cls := range Class(NumClasses) {
		name := cls.String()
		require.NotEmpty(t, name)
		assert.False(t, names[name], "duplicate name %q", name)
		names[name] = true
	}
	assert.False(t, ClassOK.IsError())
	assert.False(t, ClassClient.IsError())
	assert.False(t, ClassLimited.IsError(), "a tenant over its own limits is no platform error")
	for _, cls := range []Class{ClassServer, ClassConnect, ClassTimeout, ClassRejected, ClassUnavailable, ClassOther} {
		assert.True(t, cls.IsError(), cls.String())
	}
}
