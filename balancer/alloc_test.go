package balancer

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHotPathAllocatesNothing(t *testing.T) {
	table, err := NewPool(nil, HealthConfig{Failures: 3, Cooloff: time.Second}, nil).Build(testSpecs(), NewStats())
	require.NoError(t, err)
	tenant := []byte("acme")
	route, err := table.Lookup(tenant, "app")
	require.NoError(t, err)
	now := time.Now().UnixNano()

	allocs := testing.AllocsPerRun(1000, func() {
		_, _ = table.Lookup(tenant, "app")
	})
	assert.Zero(t, allocs, "Lookup")

	allocs = testing.AllocsPerRun(1000, func() {
		_, _ = table.Lookup([]byte("unknown"), "app")
		_, _ = table.Lookup(tenant, "unknown")
	})
	assert.Zero(t, allocs, "Lookup errors")

	allocs = testing.AllocsPerRun(1000, func() {
		_, _ = route.Pick(LeastInflight, 0, now)
	})
	assert.Zero(t, allocs, "Pick least in-flight")

	allocs = testing.AllocsPerRun(1000, func() {
		_, _ = route.Pick(RoundRobin, 1, now)
	})
	assert.Zero(t, allocs, "Pick round robin")

	ramping := testRoute(t, 2, HealthConfig{Failures: 1, Cooloff: time.Second, SlowStart: time.Minute})
	ramping.Targets[1].Backend.startRamp(now)
	allocs = testing.AllocsPerRun(1000, func() {
		_, _ = ramping.Pick(LeastInflight, 0, now+int64(time.Second))
		_, _ = ramping.Pick(RoundRobin, 0, now+int64(time.Second))
	})
	assert.Zero(t, allocs, "Pick with a backend in slow start")

	allocs = testing.AllocsPerRun(1000, func() {
		route.Stats.Start(7)
	})
	assert.Zero(t, allocs, "Start")

	allocs = testing.AllocsPerRun(1000, func() {
		route.Stats.Done(7, ClassOK, 100, 200, time.Millisecond)
	})
	assert.Zero(t, allocs, "Done")

	b := route.Targets[0].Backend
	allocs = testing.AllocsPerRun(1000, func() {
		b.Acquire()
		b.Release()
		b.ReportFailure(now)
		b.ReportSuccess()
	})
	assert.Zero(t, allocs, "Backend state")
}
