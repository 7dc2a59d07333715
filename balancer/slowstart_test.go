package balancer

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testSlowStart = 10 * time.Second

// shareOf returns the fraction of picks that chose target idx, with picks
// spread evenly over [from, to) (unix nanoseconds).
func shareOf(t *testing.T, route *Route, policy Policy, idx int, from, to int64, picks int) float64 {
	t.Helper()
	chosen := 0
	for i := range picks {
		now := from + (to-from)*int64(i)/int64(picks)
		got, ok := route.Pick(policy, 0, now)
		require.True(t, ok)
		if got == idx {
			chosen++
		}
	}
	return float64(chosen) / float64(picks)
}

func TestSlowStartShareGrowsLinearly(t *testing.T) {
	for _, policy := range []Policy{LeastInflight, RoundRobin} {
		t.Run(policy.String(), func(t *testing.T) {
			route := testRoute(t, 2, HealthConfig{Failures: 1, Cooloff: time.Minute, SlowStart: testSlowStart})
			b := route.Targets[1].Backend
			down := time.Unix(1000, 0).UnixNano()
			require.True(t, b.ReportFailure(down))
			up := down + int64(5*time.Second)
			require.True(t, b.recover(up), "recovered before the cool-off ended")

			tenth := int64(testSlowStart) / 10
			first := shareOf(t, route, policy, 1, up, up+tenth, 10000)
			middle := shareOf(t, route, policy, 1, up+5*tenth-tenth/20, up+5*tenth+tenth/20, 10000)
			end := shareOf(t, route, policy, 1, up+int64(testSlowStart), up+int64(testSlowStart)+tenth, 10000)
			t.Logf("share of the recovered backend: first tenth %.3f, middle %.3f, after the ramp %.3f", first, middle, end)

			// Two equal targets split picks in half, so a ramping one gets
			// half its admission probability: 0.025 on average over the
			// first tenth, 0.25 in the middle, 0.5 once the ramp is over.
			assert.InDelta(t, 0.025, first, 0.01, "first tenth")
			assert.InDelta(t, 0.25, middle, 0.03, "middle")
			assert.InDelta(t, 0.5, end, 0.01, "after the ramp")
		})
	}
}

func TestSlowStartEveryTargetRamping(t *testing.T) {
	for _, policy := range []Policy{LeastInflight, RoundRobin} {
		t.Run(policy.String(), func(t *testing.T) {
			route := testRoute(t, 2, HealthConfig{Failures: 1, Cooloff: time.Minute, SlowStart: testSlowStart})
			now := time.Unix(1000, 0).UnixNano()
			for _, target := range route.Targets {
				target.Backend.startRamp(now)
			}

			counts := make([]int, 2)
			for range 100 {
				idx, ok := route.Pick(policy, 0, now)
				require.True(t, ok, "a pick must succeed when every target is ramping")
				counts[idx]++
			}
			assert.Equal(t, []int{50, 50}, counts, "the policy still spreads picks")

			_, ok := route.Pick(policy, 0b11, now)
			assert.False(t, ok, "tried targets stay excluded")
		})
	}
}

func TestSlowStartSingleTarget(t *testing.T) {
	route := testRoute(t, 1, HealthConfig{Failures: 1, Cooloff: time.Minute, SlowStart: testSlowStart})
	now := time.Unix(1000, 0).UnixNano()
	route.Targets[0].Backend.startRamp(now)

	for range 10 {
		idx, ok := route.Pick(LeastInflight, 0, now)
		require.True(t, ok)
		assert.Equal(t, 0, idx)
	}
}

func TestSlowStartProbesAfterCooloff(t *testing.T) {
	const cooloff = time.Second
	route := testRoute(t, 2, HealthConfig{Failures: 1, Cooloff: cooloff, SlowStart: testSlowStart})
	b := route.Targets[1].Backend
	down := time.Unix(1000, 0).UnixNano()
	require.True(t, b.ReportFailure(down))
	coolEnd := down + int64(cooloff)

	during := shareOf(t, route, RoundRobin, 1, down, coolEnd, 1000)
	assert.Zero(t, during, "no pick during the cool-off")

	tenth := int64(testSlowStart) / 10
	probes := shareOf(t, route, RoundRobin, 1, coolEnd, coolEnd+tenth, 10000)
	assert.InDelta(t, 0.025, probes, 0.01, "probes ramp up from the end of the cool-off")
	assert.True(t, b.Down(), "still marked down until a probe succeeds")

	require.True(t, b.recover(coolEnd+tenth))
	assert.Equal(t, coolEnd, b.rampStart.Load(), "the ramp continues from the end of the cool-off")
}

func TestSlowStartOff(t *testing.T) {
	route := testRoute(t, 2, HealthConfig{Failures: 1, Cooloff: time.Minute})
	b := route.Targets[1].Backend
	down := time.Unix(1000, 0).UnixNano()
	require.True(t, b.ReportFailure(down))
	require.True(t, b.ReportSuccess())

	assert.Zero(t, b.rampStart.Load())
	share := shareOf(t, route, LeastInflight, 1, down+1, down+2, 1000)
	assert.InDelta(t, 0.5, share, 0.001, "full share at once")
}

func TestReportSuccessStartsRamp(t *testing.T) {
	b := newBackend("i1", "app", "127.0.0.1:9001", HealthConfig{Failures: 1, Cooloff: time.Hour, SlowStart: testSlowStart})
	before := time.Now().UnixNano()
	require.True(t, b.ReportFailure(before))

	require.True(t, b.ReportSuccess())
	assert.GreaterOrEqual(t, b.rampStart.Load(), before)
	assert.LessOrEqual(t, b.rampStart.Load(), time.Now().UnixNano())
	assert.False(t, b.Down())

	started := b.rampStart.Load()
	assert.False(t, b.ReportSuccess(), "an up backend does not recover again")
	assert.Equal(t, started, b.rampStart.Load(), "and keeps its ramp")
}

func TestPoolRampsNewBackendOfExistingRoute(t *testing.T) {
	pool := NewPool(nil, HealthConfig{Failures: 1, Cooloff: time.Second, SlowStart: testSlowStart}, nil)
	first := []InstanceSpec{
		{ID: "i1", Components: map[string]string{"app": "127.0.0.1:9001"}, Tenants: []string{"acme"}},
		{ID: "i2", Components: map[string]string{"app": "127.0.0.1:9002"}, Tenants: []string{"acme"}},
	}
	table, err := pool.Build(first, nil)
	require.NoError(t, err)
	route, err := table.Lookup([]byte("acme"), "app")
	require.NoError(t, err)
	for _, target := range route.Targets {
		assert.Zero(t, target.Backend.rampStart.Load(), "backends of the first table start at full share: %s", target.Backend.Instance)
	}

	second := append(first,
		InstanceSpec{ID: "i3", Components: map[string]string{"app": "127.0.0.1:9003"}, Tenants: []string{"acme"}},
		InstanceSpec{ID: "i4", Components: map[string]string{"app": "127.0.0.1:9004"}, Tenants: []string{"newco"}},
	)
	before := time.Now().UnixNano()
	table, err = pool.Build(second, nil)
	require.NoError(t, err)

	route, err = table.Lookup([]byte("acme"), "app")
	require.NoError(t, err)
	require.Len(t, route.Targets, 3)
	assert.Zero(t, route.Targets[0].Backend.rampStart.Load(), "i1 keeps its state")
	assert.Zero(t, route.Targets[1].Backend.rampStart.Load(), "i2 keeps its state")
	assert.GreaterOrEqual(t, route.Targets[2].Backend.rampStart.Load(), before, "i3 joins a route with traffic")

	newco, err := table.Lookup([]byte("newco"), "app")
	require.NoError(t, err)
	assert.Zero(t, newco.Targets[0].Backend.rampStart.Load(), "a new route starts at full share")

	share := shareOf(t, route, LeastInflight, 2, before, before+int64(testSlowStart)/100, 3000)
	assert.Less(t, share, 0.02, "the new backend gets almost nothing at the start of its ramp")
}
