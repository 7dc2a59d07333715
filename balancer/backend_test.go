package balancer

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBackendPassiveHealth(t *testing.T) {
	const cooloff = 10 * time.Second
	b := newBackend("i1", "app", "127.0.0.1:9001", HealthConfig{Failures: 3, Cooloff: cooloff})
	now := time.Unix(1000, 0).UnixNano()

	assert.True(t, b.Available(now))
	assert.False(t, b.Down())

	assert.False(t, b.ReportFailure(now), "first failure")
	assert.False(t, b.ReportFailure(now), "second failure")
	assert.True(t, b.Available(now), "two failures stay below the limit")

	assert.True(t, b.ReportFailure(now), "third failure marks down")
	assert.True(t, b.Down())
	assert.False(t, b.Available(now))
	assert.False(t, b.Available(now+int64(cooloff)-1), "cool-off still running")

	assert.False(t, b.ReportFailure(now+1), "already down: no second transition")

	later := now + 1 + int64(cooloff)
	assert.True(t, b.Available(later), "cool-off over: probe allowed")
	assert.True(t, b.Down(), "still marked down until a success")

	// A failed probe restarts the cool-off after one failure.
	assert.False(t, b.ReportFailure(later))
	assert.False(t, b.Available(later))
	assert.True(t, b.Available(later+int64(cooloff)))

	assert.True(t, b.ReportSuccess(), "success on a down backend reports the change")
	assert.False(t, b.Down())
	assert.True(t, b.Available(later))
	assert.False(t, b.ReportSuccess(), "second success changes nothing")

	// After a success the count starts over.
	assert.False(t, b.ReportFailure(later))
	assert.False(t, b.ReportFailure(later))
	assert.True(t, b.Available(later))
	assert.True(t, b.ReportFailure(later))
}

func TestBackendSuccessResetsCount(t *testing.T) {
	b := newBackend("i1", "app", "127.0.0.1:9001", HealthConfig{Failures: 2, Cooloff: time.Second})
	now := time.Unix(1000, 0).UnixNano()

	assert.False(t, b.ReportFailure(now))
	assert.False(t, b.ReportSuccess())
	assert.False(t, b.ReportFailure(now), "count was reset")
	assert.True(t, b.Available(now))
	assert.True(t, b.ReportFailure(now))
	assert.False(t, b.Available(now))
}

func TestBackendHealthDisabled(t *testing.T) {
	b := newBackend("i1", "app", "127.0.0.1:9001", HealthConfig{Failures: 0, Cooloff: time.Second})
	for i := range 100 {
		require.False(t, b.ReportFailure(int64(i+1)))
	}
	assert.False(t, b.Down())
	assert.True(t, b.Available(1))
}

func TestBackendZeroCooloff(t *testing.T) {
	b := newBackend("i1", "app", "127.0.0.1:9001", HealthConfig{Failures: 1})
	now := time.Unix(1000, 0).UnixNano()

	assert.True(t, b.ReportFailure(now))
	assert.True(t, b.Down())
	assert.True(t, b.Available(now), "no cool-off: available at once")
}

func TestBackendInflight(t *testing.T) {
	b := newBackend("i1", "app", "127.0.0.1:9001", HealthConfig{})
	b.Acquire()
	b.Acquire()
	assert.Equal(t, int64(2), b.Inflight())
	b.Release()
	assert.Equal(t, int64(1), b.Inflight())
}

func TestBackendMarkDown(t *testing.T) {
	b := &Backend{failureLimit: 3, cooloff: int64(time.Second)}

	assert.True(t, b.MarkDown(100), "an up backend changes state")
	assert.False(t, b.MarkDown(200), "a down backend does not change state again")
	assert.True(t, b.Down())
	assert.False(t, b.Available(150))
	assert.True(t, b.Available(250), "the mark ends at its time")

	assert.True(t, b.ReportSuccess(), "a success brings it back early")
	assert.False(t, b.Down())
}
