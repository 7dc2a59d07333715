package dashboard

import (
	"encoding/json"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/dflb/dflb/balancer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHistoryBoundedAtTenThousandTenants(t *testing.T) {
	const tenants, instances, points, top = 10_000, 8, 100, 20
	// A few distinct samples, cycled, because building 10,000 rates for
	// every sample is what would make this test slow.
	var variants [4]balancer.Rates
	for i := range variants {
		variants[i] = syntheticRates(tenants, instances, i*10)
	}
	var rates balancer.Rates
	h := NewHistory(func() balancer.Rates { return rates }, HistoryOptions{Interval: 2 * time.Second, Points: points, TopTenants: top})

	// Two and a half times around the ring.
	for step := range points * 5 / 2 {
		rates = variants[step%len(variants)]
		h.Sample(testStart.Add(time.Duration(step) * h.interval))
	}

	assert.Len(t, h.times, points)
	assert.Equal(t, points, h.count)
	assert.Len(t, h.tenants, top)
	assert.Len(t, h.instances, instances)
	assert.LessOrEqual(t, len(h.spare)+len(h.tenants)+len(h.instances), top+DefaultMaxInstances,
		"series allocated, spare ones included")
	for name, s := range h.tenants {
		assert.Len(t, s.requests, points, "tenant %s requests", name)
		assert.Len(t, s.errors, points, "tenant %s errors", name)
		assert.Len(t, s.p99, points, "tenant %s p99", name)
	}
	assert.Len(t, h.ranked, top, "scratch list")

	// syntheticRates makes tenant k's rate 1000/(k+1) times a swing of
	// at most ±30%, so the first tenants stay on top.
	for k := range 10 {
		assert.Contains(t, h.tenants, tenantName(k))
	}
	assert.NotContains(t, h.tenants, tenantName(tenants-1))

	data, ok := h.query(historyQuery{})
	require.True(t, ok)
	assert.Len(t, data.Times, points)
	assert.True(t, slices.IsSorted(data.Times), "times increase")
	assert.Len(t, data.Tenants, top)
	assert.Len(t, data.Overall.Requests, points)
}

func TestHistorySampleAllocatesNothingWhenSteady(t *testing.T) {
	rates := syntheticRates(10_000, 8, 0)
	h := NewHistory(func() balancer.Rates { return rates }, HistoryOptions{Points: 50})
	now := testStart
	h.Sample(now)

	allocs := testing.AllocsPerRun(20, func() {
		now = now.Add(2 * time.Second)
		h.Sample(now)
	})
	assert.Zero(t, allocs, "allocations per Sample over 10,000 tenants")
}

func TestHistoryKeepsTrackedTenantNearBoundary(t *testing.T) {
	rates := balancer.Rates{Tenants: map[string]balancer.Rate{
		"a": {Requests: 100}, "b": {Requests: 50}, "c": {Requests: 10},
	}}
	h := NewHistory(func() balancer.Rates { return rates }, HistoryOptions{TopTenants: 2})
	h.Sample(testStart)
	require.ElementsMatch(t, []string{"a", "b"}, h.trackedTenants())

	// c overtakes b by less than stickiness: b keeps its series.
	rates.Tenants["c"] = balancer.Rate{Requests: 52}
	h.Sample(testStart.Add(2 * time.Second))
	assert.ElementsMatch(t, []string{"a", "b"}, h.trackedTenants())

	// c overtakes b by more: c takes b's place and starts with a gap.
	rates.Tenants["c"] = balancer.Rate{Requests: 60}
	h.Sample(testStart.Add(4 * time.Second))
	assert.ElementsMatch(t, []string{"a", "c"}, h.trackedTenants())
	data, ok := h.query(historyQuery{Tenant: "c"})
	require.True(t, ok)
	assert.True(t, math.IsNaN(data.Tenants["c"].Requests[0]), "c has no point before it entered")
	assert.Equal(t, 60.0, data.Tenants["c"].Requests[2])
}

func TestHistoryEvictsVanishedTenant(t *testing.T) {
	rates := balancer.Rates{Tenants: map[string]balancer.Rate{"a": {Requests: 1}, "b": {Requests: 2}}}
	h := NewHistory(func() balancer.Rates { return rates }, HistoryOptions{})
	h.Sample(testStart)
	delete(rates.Tenants, "a")
	h.Sample(testStart.Add(2 * time.Second))

	assert.Equal(t, []string{"b"}, h.trackedTenants())
	assert.Len(t, h.spare, 1, "a's series waits for reuse")
}

func TestHistoryDropsOutOfOrderSample(t *testing.T) {
	calls := 0
	h := NewHistory(func() balancer.Rates { calls++; return balancer.Rates{} }, HistoryOptions{})
	h.Sample(testStart)
	h.Sample(testStart)
	h.Sample(testStart.Add(-time.Second))

	assert.Equal(t, 1, h.count)
	assert.Equal(t, 1, calls, "rates not read for a dropped sample")
}

func TestHistoryQuerySince(t *testing.T) {
	h := newTestHistory(testStart, 1) // 30 samples
	data, ok := h.query(historyQuery{Since: testStart.Add(50 * time.Second)})
	require.True(t, ok)

	require.Len(t, data.Times, 4, "samples at 52, 54, 56 and 58 s")
	assert.Equal(t, testStart.Add(52*time.Second).UnixMilli(), data.Times[0])
	assert.Len(t, data.Overall.P99, 4)
	for name, s := range data.Instances {
		assert.Len(t, s.Requests, 4, "instance %s", name)
	}
}

func TestHistoryQueryNamedSeries(t *testing.T) {
	h := newTestHistory(testStart, 1)

	data, ok := h.query(historyQuery{Tenant: tenantName(0), Instance: "i2"})
	require.True(t, ok)
	assert.Nil(t, data.Overall)
	assert.Len(t, data.Tenants, 1)
	assert.Len(t, data.Instances, 1)

	_, ok = h.query(historyQuery{Tenant: tenantName(49)})
	assert.False(t, ok, "tenant outside the top has no series")
	_, ok = h.query(historyQuery{Instance: "i9"})
	assert.False(t, ok, "unknown instance")
}

func TestOverallRateP99IsInstanceMaximum(t *testing.T) {
	r := balancer.Rates{
		Tenants: map[string]balancer.Rate{
			"a": {Requests: 10, Errors: 1, P99: 900 * time.Millisecond},
			"b": {Requests: 5, Errors: 2, P99: 20 * time.Millisecond},
		},
		Instances: map[string]balancer.Rate{
			"i1": {Requests: 10, P99: 30 * time.Millisecond},
			"i2": {Requests: 5, P99: 50 * time.Millisecond},
		},
	}
	got := overallRate(r)
	assert.Equal(t, 15.0, got.Requests)
	assert.Equal(t, 3.0, got.Errors)
	assert.Equal(t, 50*time.Millisecond, got.P99)

	r.Instances = nil
	assert.Equal(t, 900*time.Millisecond, overallRate(r).P99, "tenants' maximum without instances")
}

func TestPointsJSONWritesNaNAsNull(t *testing.T) {
	body, err := json.Marshal(points{1.23456, math.NaN(), 0, 2e6, math.Inf(1)})
	require.NoError(t, err)
	assert.JSONEq(t, `[1.235,null,0,2000000,null]`, string(body))
}

func TestTopByRateOrder(t *testing.T) {
	rates := map[string]balancer.Rate{"d": {Requests: 4}, "a": {Requests: 1}, "c": {Requests: 3}, "b": {Requests: 3}, "e": {Requests: 0}}
	got := topByRate(nil, rates, 3, func(string) bool { return false })
	names := make([]string, len(got))
	for i, r := range got {
		names[i] = r.name
	}
	assert.Equal(t, []string{"d", "b", "c"}, names, "highest first, ties by name")
}
