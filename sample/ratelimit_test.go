package sample

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestLogLimiterOncePerInterval(t *testing.T) {
	l := logLimiter{interval: time.Second}
	start := time.Unix(1000, 0)

	ok, suppressed := l.allow(start)
	assert.True(t, ok)
	assert.Zero(t, suppressed)

	for i := range 3 {
		ok, _ = l.allow(start.Add(time.Duration(i+1) * 100 * time.Millisecond))
		assert.False(t, ok, "call %d within the interval", i+1)
	}

	ok, suppressed = l.allow(start.Add(time.Second))
	assert.True(t, ok)
	assert.Equal(t, int64(3), suppressed)
}
