package balancer

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testRoute returns a route with n targets on ports 9001, 9002, ...
func testRoute(t *testing.T, n int, hc HealthConfig) *Route {
	t.Helper()
	specs := make([]InstanceSpec, n)
	for i := range specs {
		specs[i] = InstanceSpec{
			ID:         fmt.Sprintf("i%d", i),
			Components: map[string]string{"app": fmt.Sprintf("127.0.0.1:%d", 9001+i)},
			Tenants:    []string{"acme"},
		}
	}
	table, err := NewPool(nil, hc, nil).Build(specs, nil)
	require.NoError(t, err)
	route, err := table.Lookup([]byte("acme"), "app")
	require.NoError(t, err)
	require.Len(t, route.Targets, n)
	return route
}

func TestParsePolicy(t *testing.T) {
	p, err := ParsePolicy("least_inflight")
	require.NoError(t, err)
	assert.Equal(t, LeastInflight, p)
	assert.Equal(t, "least_inflight", p.String())

	p, err = ParsePolicy("round_robin")
	require.NoError(t, err)
	assert.Equal(t, RoundRobin, p)
	assert.Equal(t, "round_robin", p.String())

	_, err = ParsePolicy("random")
	require.Error(t, err)
	assert.Equal(t, `balancer: unknown balance policy "random": use least_inflight or round_robin`, err.Error())

	assert.Equal(t, "Policy(9)", Policy(9).String())
}

func TestPickLeastInflightLowest(t *testing.T) {
	route := testRoute(t, 3, HealthConfig{})
	route.Targets[0].Backend.Acquire()
	route.Targets[0].Backend.Acquire()
	route.Targets[1].Backend.Acquire()

	for range 10 {
		idx, ok := route.Pick(LeastInflight, 0, 1)
		require.True(t, ok)
		assert.Equal(t, 2, idx)
	}

	idx, ok := route.Pick(LeastInflight, 1<<2, 1)
	require.True(t, ok)
	assert.Equal(t, 1, idx, "lowest untried")
}

func TestPickLeastInflightTiesRotate(t *testing.T) {
	route := testRoute(t, 3, HealthConfig{})
	counts := make([]int, 3)
	for range 300 {
		idx, ok := route.Pick(LeastInflight, 0, 1)
		require.True(t, ok)
		counts[idx]++
	}
	assert.Equal(t, []int{100, 100, 100}, counts, "equal backends share the load")
}

func TestPickRoundRobinCycles(t *testing.T) {
	route := testRoute(t, 3, HealthConfig{})
	route.Targets[0].Backend.Acquire() // round robin ignores load

	var order []int
	for range 6 {
		idx, ok := route.Pick(RoundRobin, 0, 1)
		require.True(t, ok)
		order = append(order, idx)
	}
	assert.Equal(t, []int{0, 1, 2, 0, 1, 2}, order)
}

func TestPickSkipsTried(t *testing.T) {
	for _, policy := range []Policy{LeastInflight, RoundRobin} {
		t.Run(policy.String(), func(t *testing.T) {
			route := testRoute(t, 3, HealthConfig{})
			for range 6 {
				idx, ok := route.Pick(policy, 0b101, 1)
				require.True(t, ok)
				assert.Equal(t, 1, idx)
			}

			_, ok := route.Pick(policy, 0b111, 1)
			assert.False(t, ok, "every target tried")

			_, ok = route.Pick(policy, ^uint64(0), 1)
			assert.False(t, ok, "bits beyond the targets are ignored")
		})
	}
}

func TestPickSkipsDown(t *testing.T) {
	for _, policy := range []Policy{LeastInflight, RoundRobin} {
		t.Run(policy.String(), func(t *testing.T) {
			route := testRoute(t, 3, HealthConfig{Failures: 1, Cooloff: time.Second})
			now := time.Unix(1000, 0).UnixNano()
			require.True(t, route.Targets[0].Backend.ReportFailure(now))
			require.True(t, route.Targets[2].Backend.ReportFailure(now))

			for range 6 {
				idx, ok := route.Pick(policy, 0, now)
				require.True(t, ok)
				assert.Equal(t, 1, idx)
			}

			_, ok := route.Pick(policy, 0b010, now)
			assert.False(t, ok, "only down targets left untried")

			idx, ok := route.Pick(policy, 0b010, now+int64(time.Second))
			require.True(t, ok, "cool-off over")
			assert.NotEqual(t, 1, idx)
		})
	}
}

func TestPickSingleTarget(t *testing.T) {
	for _, policy := range []Policy{LeastInflight, RoundRobin} {
		t.Run(policy.String(), func(t *testing.T) {
			route := testRoute(t, 1, HealthConfig{Failures: 1, Cooloff: time.Second})
			now := time.Unix(1000, 0).UnixNano()

			idx, ok := route.Pick(policy, 0, now)
			require.True(t, ok)
			assert.Equal(t, 0, idx)

			_, ok = route.Pick(policy, 1, now)
			assert.False(t, ok, "tried")

			route.Targets[0].Backend.ReportFailure(now)
			_, ok = route.Pick(policy, 0, now)
			assert.False(t, ok, "down")
		})
	}
}

func TestPickEmptyRoute(t *testing.T) {
	var route Route
	_, ok := route.Pick(LeastInflight, 0, 1)
	assert.False(t, ok)
	_, ok = route.Pick(RoundRobin, 0, 1)
	assert.False(t, ok)
}
