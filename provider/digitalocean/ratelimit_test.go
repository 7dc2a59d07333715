package digitalocean

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/provider"
)

func TestPaceSpacesOutRequestsWhenFewRemain(t *testing.T) {
	env := newTestEnv(t, nil)
	env.api.addDroplet("test-i1", "dflb-cluster:test", "dflb-instance:test:i1")
	env.api.setRateLimit(10, env.clock.now().Add(110*time.Second))
	ctx := testContext(t)

	// The first response reports 9 remaining requests; the second request
	// waits for its share of the time until the reset.
	_, err := env.p.List(ctx)
	require.NoError(t, err)
	_, err = env.p.List(ctx)
	require.NoError(t, err)

	sleeps := env.clock.recorded()
	require.Len(t, sleeps, 1)
	assert.InDelta(t, (11 * time.Second).Seconds(), sleeps[0].Seconds(), 1.5)
}

func TestPaceDoesNotWaitWithManyRemaining(t *testing.T) {
	env := newTestEnv(t, nil)
	ctx := testContext(t)

	for range 3 {
		_, err := env.p.List(ctx)
		require.NoError(t, err)
	}

	assert.Empty(t, env.clock.recorded())
}

func TestPaceRejectsWaitBeyondMax(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.RateLimitMaxWait = time.Minute })
	env.api.setRateLimit(0, env.clock.now().Add(30*time.Minute))
	ctx := testContext(t)
	_, err := env.p.List(ctx)
	require.NoError(t, err)

	_, err = env.p.List(ctx)
	require.Error(t, err)

	assert.ErrorIs(t, err, provider.ErrRateLimited)
	retryable, after := provider.IsRetryable(err)
	assert.True(t, retryable)
	assert.InDelta(t, (30 * time.Minute).Seconds(), after.Seconds(), 2)
	assert.Contains(t, err.Error(), "not sent")
	assert.Equal(t, 1, env.api.requestCount(http.MethodGet, "/v2/droplets"))
}

func TestRateLimitedGetWaitsForRetryAfter(t *testing.T) {
	env := newTestEnv(t, nil)
	id := env.api.addDroplet("test-i1", "dflb-cluster:test", "dflb-instance:test:i1")
	env.api.addFault("GET /v2/droplets/{id}", fault{
		status:  http.StatusTooManyRequests,
		message: "API Rate limit exceeded.",
		headers: map[string]string{"Retry-After": "7", "Ratelimit-Remaining": "0", "Ratelimit-Limit": "5000",
			"Ratelimit-Reset": strconv.FormatInt(env.clock.now().Add(7*time.Second).Unix(), 10)},
	})

	inst, err := env.p.Get(testContext(t), strconv.Itoa(id))
	require.NoError(t, err)

	assert.Equal(t, "i1", inst.Name)
	assert.Equal(t, []time.Duration{7 * time.Second}, env.clock.recorded())
}

func TestWaitAfter429(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	response := func(headers map[string]string) *godo.Response {
		rec := httptest.NewRecorder()
		for k, v := range headers {
			rec.Header().Set(k, v)
		}
		resp := &godo.Response{Response: rec.Result()}
		if reset, err := strconv.ParseInt(headers["Ratelimit-Reset"], 10, 64); err == nil {
			resp.Rate.Reset = godo.Timestamp{Time: time.Unix(reset, 0)}
		}
		return resp
	}
	var r rateState

	tests := []struct {
		name    string
		headers map[string]string
		want    time.Duration
	}{
		{"retry after", map[string]string{"Retry-After": "12"}, 12 * time.Second},
		{"reset", map[string]string{"Ratelimit-Reset": "1700000042"}, 42 * time.Second},
		{"reset in the past", map[string]string{"Ratelimit-Reset": "1699999000"}, minRateWait},
		{"no headers", map[string]string{}, minRateWait},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, r.waitAfter429(response(tt.headers), now))
		})
	}
	assert.Equal(t, minRateWait, r.waitAfter429(nil, now))
}

func TestBackoffGrowsAndStaysBounded(t *testing.T) {
	for attempt := range 12 {
		wait := backoff(attempt)
		limit := min(backoffMin<<attempt, backoffMax)
		assert.LessOrEqual(t, wait, limit, "attempt %d", attempt)
		assert.GreaterOrEqual(t, wait, limit*4/5, "attempt %d", attempt)
	}
}
