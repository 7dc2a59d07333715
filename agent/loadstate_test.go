package agent

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestOverloadNeedsSustainedWindow(t *testing.T) {
	l := newLoadState(LoadConfig{OverloadCPU: 0.8, OverloadWindow: 30 * time.Second, LowCPU: 0.1, LowWindow: time.Minute, Hysteresis: 0.05})
	start := time.Unix(0, 0)
	at := func(s int) time.Time { return start.Add(time.Duration(s) * time.Second) }

	over, _ := l.observe(at(0), 0.9)
	assert.False(t, over)
	over, _ = l.observe(at(20), 0.95)
	assert.False(t, over)
	over, _ = l.observe(at(25), 0.5) // a dip restarts the window
	assert.False(t, over)
	over, _ = l.observe(at(26), 0.9)
	assert.False(t, over)
	over, _ = l.observe(at(55), 0.9)
	assert.False(t, over)
	over, _ = l.observe(at(56), 0.85)
	assert.True(t, over, "30s at or above 0.8")
	assert.True(t, l.overload.active)

	over, _ = l.observe(at(57), 0.9)
	assert.False(t, over, "entering is reported once")
}

func TestOverloadClearsPastHysteresis(t *testing.T) {
	l := newLoadState(LoadConfig{OverloadCPU: 0.8, OverloadWindow: time.Second, LowCPU: 0.1, LowWindow: time.Minute, Hysteresis: 0.05})
	start := time.Unix(0, 0)
	l.observe(start, 0.9)
	over, _ := l.observe(start.Add(time.Second), 0.9)
	assert.True(t, over)

	l.observe(start.Add(2*time.Second), 0.76)
	assert.True(t, l.overload.active, "0.76 is within the hysteresis band")
	l.observe(start.Add(3*time.Second), 0.74)
	assert.False(t, l.overload.active, "0.74 is below 0.8 - 0.05")

	over, _ = l.observe(start.Add(4*time.Second), 0.9)
	assert.False(t, over, "a new window starts")
	over, _ = l.observe(start.Add(5*time.Second), 0.9)
	assert.True(t, over)
}

func TestLowUsageNeedsSustainedWindow(t *testing.T) {
	l := newLoadState(LoadConfig{OverloadCPU: 0.8, OverloadWindow: time.Minute, LowCPU: 0.1, LowWindow: 5 * time.Minute, Hysteresis: 0.05})
	start := time.Unix(0, 0)
	_, low := l.observe(start, 0.05)
	assert.False(t, low)
	_, low = l.observe(start.Add(5*time.Minute), 0.1)
	assert.True(t, low)

	l.observe(start.Add(6*time.Minute), 0.14)
	assert.True(t, l.low.active, "0.14 is within the hysteresis band")
	l.observe(start.Add(7*time.Minute), 0.16)
	assert.False(t, l.low.active)
}
