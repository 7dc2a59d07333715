package balancer

import (
	"math/bits"
	"runtime"
	"sync/atomic"
	"time"
)

// Class is the outcome of one request, as counted by Counters.Done.
type Class uint8

const (
	ClassOK          Class = iota // backend returned status 1xx, 2xx or 3xx
	ClassClient                   // backend returned status 4xx
	ClassServer                   // backend returned status 5xx
	ClassConnect                  // connecting to or writing to the backend failed
	ClassTimeout                  // backend did not respond in time
	ClassRejected                 // proxy rejected the request itself, such as 400, 413 or 431
	ClassUnavailable              // proxy returned 503 because no backend was available
	ClassOther                    // any other failure
	ClassLimited                  // proxy rejected the request by its tenant's limits, with 429 or 503
)

// NumClasses is the number of Class values.
const NumClasses = 9

// String returns the Prometheus label value of c.
func (c Class) String() string {
	switch c {
	case ClassOK:
		return "ok"
	case ClassClient:
		return "client_error"
	case ClassServer:
		return "server_error"
	case ClassConnect:
		return "connect_error"
	case ClassTimeout:
		return "timeout"
	case ClassRejected:
		return "rejected"
	case ClassUnavailable:
		return "unavailable"
	case ClassLimited:
		return "limited"
	default:
		return "other"
	}
}

// IsError reports whether c counts as an error in Window rates: every class
// except ClassOK, ClassClient and ClassLimited, because a 4xx from the
// backend is the client's fault, not the platform's, and a request over its
// tenant's configured limits was rejected as configured.
func (c Class) IsError() bool { return c != ClassOK && c != ClassClient && c != ClassLimited }

// StatusClass returns the class of an HTTP status code returned by a backend.
func StatusClass(status int) Class {
	switch {
	case status >= 100 && status < 400:
		return ClassOK
	case status >= 400 && status < 500:
		return ClassClient
	case status >= 500 && status < 600:
		return ClassServer
	default:
		return ClassOther
	}
}

// NumBuckets is the number of latency histogram buckets, the last one being
// +Inf.
const NumBuckets = 15

// LatencyBounds returns the inclusive upper bounds of the finite latency
// buckets, from 0.5ms to 10s, in the spirit of the Prometheus client's
// default buckets.
func LatencyBounds() [NumBuckets - 1]time.Duration {
	return latencyBounds
}

// latencyBounds backs LatencyBounds; nothing writes to it. bucketIndex
// reads it directly, because copying the array on every request cost more
// than the search.
var latencyBounds = [NumBuckets - 1]time.Duration{
	500 * time.Microsecond,
	1 * time.Millisecond,
	2500 * time.Microsecond,
	5 * time.Millisecond,
	10 * time.Millisecond,
	25 * time.Millisecond,
	50 * time.Millisecond,
	100 * time.Millisecond,
	250 * time.Millisecond,
	500 * time.Millisecond,
	1 * time.Second,
	2500 * time.Millisecond,
	5 * time.Second,
	10 * time.Second,
}

// bucketIndex returns the index of the bucket that counts d.
func bucketIndex(d time.Duration) int {
	for i, bound := range &latencyBounds {
		if d <= bound {
			return i
		}
	}
	return NumBuckets - 1
}

// maxShards caps the shards per Counters: each shard costs 256 bytes, and
// the registry holds one Counters per tenant and per tenant x instance pair.
const maxShards = 16

// shardCount returns the number of shards: twice the CPUs, rounded up to a
// power of two, at most maxShards. Contention comes from cores, not from
// Go processors, which dflb oversubscribes. More shards than needed spread
// 1,000 tenants' counters over more cache lines than the caches hold. Two
// per CPU keep the chance that two cores' requests meet in one shard low,
// although callers pick shards by connection ID rather than by core.
func shardCount() int {
	n := 2 * runtime.NumCPU()
	return min(1<<bits.Len(uint(n-1)), maxShards)
}

// counterShard is one core's share of a Counters, padded to 256 bytes so
// that two shards of one slice never share a cache line.
type counterShard struct {
	requests   atomic.Uint64
	bytesIn    atomic.Uint64
	bytesOut   atomic.Uint64
	latencySum atomic.Int64 // nanoseconds
	classes    [NumClasses]atomic.Uint64
	buckets    [NumBuckets]atomic.Uint64
	_          [counterShardPad]byte
}

const counterShardPad = cacheLine - (4+NumClasses+NumBuckets)*8%cacheLine

// Counters counts requests of one tenant or one tenant x instance pair.
// The caller picks a shard for each call, so goroutines on different cores
// write different cache lines. Any shard value is valid, because it is
// masked to the shard count. All methods are safe for concurrent use and do not
// allocate.
type Counters struct {
	shards []counterShard
	mask   uint64
}

// newCounters returns Counters with shards rounded up to a power of two.
func newCounters(shards int) *Counters {
	n := 1
	if shards > 1 {
		n = 1 << bits.Len(uint(shards-1))
	}
	// NOTE: shards line up with cache lines only because the Go runtime
	// (1.26) places an allocation of a power-of-two size of 256 bytes or more
	// at a multiple of 256. Without that, neighbouring shards could share a
	// line, which costs speed, not correctness.
	return &Counters{shards: make([]counterShard, n), mask: uint64(n - 1)}
}

// Start counts one request as started and in flight. shard is usually the
// connection ID.
func (c *Counters) Start(shard uint64) {
	c.shards[shard&c.mask].requests.Add(1)
}

// Done ends a request counted by Start: it counts the class, the bytes
// received and sent for the request and its duration d. Negative byte
// counts, such as an unknown content length of -1, count as 0. A class
// outside the defined values counts as ClassOther. shard need not match
// the one passed to Start.
func (c *Counters) Done(shard uint64, cls Class, bytesIn, bytesOut int64, d time.Duration) {
	s := &c.shards[shard&c.mask]
	if cls >= NumClasses {
		cls = ClassOther
	}
	s.classes[cls].Add(1)
	if bytesIn > 0 {
		s.bytesIn.Add(uint64(bytesIn))
	}
	if bytesOut > 0 {
		s.bytesOut.Add(uint64(bytesOut))
	}
	s.buckets[bucketIndex(d)].Add(1)
	s.latencySum.Add(int64(d))
}

// CounterSnapshot is the sum of all shards of a Counters.
type CounterSnapshot struct {
	Requests   uint64 // requests started
	Inflight   int64  // requests started and not done
	BytesIn    uint64 // bytes received for requests
	BytesOut   uint64 // bytes sent for responses
	Classes    [NumClasses]uint64
	Buckets    [NumBuckets]uint64 // requests done per latency bucket, not cumulative
	LatencySum time.Duration      // total duration of requests done
}

// Read returns the sum over all shards. Each field is read atomically, but
// the fields are not one consistent cut while requests run. Inflight is not
// counted on the request path: it is Requests minus the requests done, and
// each shard's classes are read before its requests, so it is never
// negative when callers pass the same shard to Start and Done.
func (c *Counters) Read() CounterSnapshot {
	var out CounterSnapshot
	for i := range c.shards {
		s := &c.shards[i]
		for k := range s.classes {
			out.Classes[k] += s.classes[k].Load()
		}
		out.Requests += s.requests.Load()
		out.BytesIn += s.bytesIn.Load()
		out.BytesOut += s.bytesOut.Load()
		out.LatencySum += time.Duration(s.latencySum.Load())
		for k := range s.buckets {
			out.Buckets[k] += s.buckets[k].Load()
		}
	}
	out.Inflight = int64(out.Requests) - int64(out.Done())
	return out
}

// Done returns the number of requests done, summed over all classes.
func (s CounterSnapshot) Done() uint64 {
	var n uint64
	for _, v := range s.Classes {
		n += v
	}
	return n
}

// Errors returns the number of requests done with an error class
// (see Class.IsError).
func (s CounterSnapshot) Errors() uint64 {
	var n uint64
	for cls, v := range s.Classes {
		if Class(cls).IsError() {
			n += v
		}
	}
	return n
}

// Quantile estimates the q-quantile (0 < q <= 1) of request duration from
// the bucket counts. Like Prometheus histogram_quantile, it interpolates
// linearly inside the bucket that holds the quantile, and it returns the
// largest finite bound (10s) when that bucket is +Inf. It returns 0 when no
// request is counted.
func (s CounterSnapshot) Quantile(q float64) time.Duration {
	var total uint64
	for _, v := range s.Buckets {
		total += v
	}
	if total == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := q * float64(total)
	bounds := LatencyBounds()

	var cumulative uint64
	for i, v := range s.Buckets {
		if v == 0 || float64(cumulative+v) < rank {
			cumulative += v
			continue
		}
		if i == NumBuckets-1 {
			return bounds[NumBuckets-2]
		}
		lower := time.Duration(0)
		if i > 0 {
			lower = bounds[i-1]
		}
		fraction := (rank - float64(cumulative)) / float64(v)
		return lower + time.Duration(fraction*float64(bounds[i]-lower))
	}
	return bounds[NumBuckets-2]
}

func (s *CounterSnapshot) add(o CounterSnapshot) {
	s.Requests += o.Requests
	s.Inflight += o.Inflight
	s.BytesIn += o.BytesIn
	s.BytesOut += o.BytesOut
	s.LatencySum += o.LatencySum
	for k := range s.Classes {
		s.Classes[k] += o.Classes[k]
	}
	for k := range s.Buckets {
		s.Buckets[k] += o.Buckets[k]
	}
}
