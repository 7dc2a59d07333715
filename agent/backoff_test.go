package agent

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func testPolicy(random float64) *restartPolicy {
	return &restartPolicy{
		cfg: RestartConfig{
			BackoffMin: time.Second, BackoffMax: 8 * time.Second, ResetAfter: time.Minute,
			CrashLoopMax: 100, CrashLoopWindow: time.Minute, NoRetryExitCodes: []int{2},
		},
		random: func() float64 { return random },
	}
}

func TestBackoffDoublesUpToMax(t *testing.T) {
	p := testPolicy(0)
	want := []time.Duration{1, 2, 4, 8, 8, 8}
	for attempt, w := range want {
		assert.Equal(t, w*time.Second, p.delay(attempt+1), "attempt %d", attempt+1)
	}
}

func TestBackoffJitterStaysInBounds(t *testing.T) {
	low := testPolicy(0.999)
	assert.Equal(t, time.Second, low.delay(1), "jitter never goes below backoff_min")
	assert.InDelta(t, float64(1600*time.Millisecond), float64(low.delay(2)), float64(10*time.Millisecond))
	assert.InDelta(t, float64(6400*time.Millisecond), float64(low.delay(10)), float64(10*time.Millisecond))
	assert.LessOrEqual(t, low.delay(10), 8*time.Second)
}

func TestCrashLoopCountsWithinWindow(t *testing.T) {
	p := testPolicy(0)
	p.cfg.CrashLoopMax = 3
	start := time.Unix(1000, 0)

	v := p.crash(start, time.Time{}, 1)
	assert.False(t, v.failed)
	assert.Equal(t, time.Second, v.delay)
	v = p.crash(start.Add(2*time.Second), time.Time{}, 1)
	assert.False(t, v.failed)
	assert.Equal(t, 2*time.Second, v.delay)

	// The first crash has left the window, so this is crash 2 of 3.
	v = p.crash(start.Add(61*time.Second), time.Time{}, 1)
	assert.False(t, v.failed)

	v = p.crash(start.Add(61500*time.Millisecond), time.Time{}, 1)
	assert.True(t, v.failed)
	assert.Equal(t, "crash loop: 3 crashes within 1m0s", v.reason)
}

func TestNoRetryExitCodeFailsAtOnce(t *testing.T) {
	p := testPolicy(0)
	v := p.crash(time.Unix(1000, 0), time.Time{}, 2)
	assert.True(t, v.failed)
	assert.Equal(t, "exit code 2 is in no_retry_exit_codes", v.reason)

	v = p.crash(time.Unix(1001, 0), time.Time{}, -1)
	assert.False(t, v.failed, "a signal is not an exit code")
}

func TestBackoffResetsAfterHealthyRun(t *testing.T) {
	p := testPolicy(0)
	now := time.Unix(1000, 0)
	for range 3 {
		p.crash(now, time.Time{}, 1)
	}
	assert.Equal(t, 3, p.attempt)

	upSince := now.Add(time.Second)
	v := p.crash(upSince.Add(59*time.Second), upSince, 1)
	assert.Equal(t, 8*time.Second, v.delay, "up for less than reset_after keeps the backoff")

	upSince = now.Add(2 * time.Minute)
	v = p.crash(upSince.Add(time.Minute), upSince, 1)
	assert.Equal(t, time.Second, v.delay, "up for reset_after starts the backoff again")
}

func TestResetForgetsCrashes(t *testing.T) {
	p := testPolicy(0)
	p.cfg.CrashLoopMax = 2
	now := time.Unix(1000, 0)
	p.crash(now, time.Time{}, 1)
	p.reset()
	v := p.crash(now.Add(time.Second), time.Time{}, 1)
	assert.False(t, v.failed)
	assert.Equal(t, time.Second, v.delay)
}
