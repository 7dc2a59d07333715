package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sampleMeasurements() []Measurement {
	return []Measurement{
		{Scenario: "s", Target: TargetDirect, Result: WrkResult{Requests: 1000, RPS: 100000, P50: 300 * time.Microsecond, P99: 2 * time.Millisecond}},
		{Scenario: "s", Target: TargetNginx, Result: WrkResult{Requests: 1000, RPS: 50000, P50: 900 * time.Microsecond, P99: 4 * time.Millisecond}},
		{Scenario: "s", Target: TargetDFLB, Result: WrkResult{Requests: 1000, RPS: 60000, P50: 800 * time.Microsecond, P99: 3 * time.Millisecond,
			Non2xx3xx: 2, Socket: SocketErrors{Timeout: 1}}},
	}
}

func TestWriteTableRows(t *testing.T) {
	var b strings.Builder
	require.NoError(t, WriteTable(&b, "1KiB single tenant", sampleMeasurements()))
	out := b.String()

	assert.Contains(t, out, "== 1KiB single tenant ==")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 5)
	assert.Equal(t, []string{"target", "req/s", "p50", "ms", "p99", "ms", "errors"}, strings.Fields(lines[1]))
	assert.Equal(t, []string{"direct", "100000.00", "0.300", "2.000", "0"}, strings.Fields(lines[2]))
	assert.Equal(t, []string{"dflb", "60000.00", "0.800", "3.000", "3"}, strings.Fields(lines[4]))
}

func TestRatioLineFormat(t *testing.T) {
	line, ok := RatioLine(sampleMeasurements())
	require.True(t, ok)
	assert.Equal(t, "dflb/nginx: rps 1.20 p99 0.75", line)
}

func TestRoundsLineFormat(t *testing.T) {
	nginx := []WrkResult{{RPS: 50000, P99: 4 * time.Millisecond}, {RPS: 40000, P99: 5 * time.Millisecond}}
	dflb := []WrkResult{{RPS: 60000, P99: 3 * time.Millisecond}, {RPS: 38000, P99: 6 * time.Millisecond}}

	line, ok := RoundsLine(nginx, dflb)

	require.True(t, ok)
	assert.Equal(t, "dflb/nginx by round: rps 1.20 0.95 p99 0.75 1.20", line)
}

func TestRoundsLineNeedsEveryRound(t *testing.T) {
	full := []WrkResult{{RPS: 1, P99: 1}, {RPS: 1, P99: 1}}

	_, ok := RoundsLine(nil, nil)
	assert.False(t, ok, "no rounds")
	_, ok = RoundsLine(full, full[:1])
	assert.False(t, ok, "dflb missed a round")
	_, ok = RoundsLine([]WrkResult{{RPS: 1, P99: 1}, {RPS: 0, P99: 1}}, full)
	assert.False(t, ok, "nginx reported 0 req/s in a round")
}

func TestRatioLineNeedsBoth(t *testing.T) {
	_, ok := RatioLine(sampleMeasurements()[:2])
	assert.False(t, ok)

	ms := sampleMeasurements()
	ms[1].Result.RPS = 0
	_, ok = RatioLine(ms)
	assert.False(t, ok)
}

func TestWriteErrorsLoud(t *testing.T) {
	var b strings.Builder
	failed, err := WriteErrors(&b, sampleMeasurements())
	require.NoError(t, err)
	assert.Equal(t, 1, failed)
	assert.Contains(t, b.String(), "!!! ERRORS")
	assert.Contains(t, b.String(), "against dflb: 3 of 1000 requests failed")
}

func TestMedianOfRounds(t *testing.T) {
	runs := []WrkResult{
		{Requests: 100, RPS: 30, P50: 3, P99: 9, Non2xx3xx: 1},
		{Requests: 200, RPS: 10, P50: 1, P99: 30},
		{Requests: 300, RPS: 20, P50: 2, P99: 10, Socket: SocketErrors{Read: 2}},
	}
	got := Median(runs)
	if got.RPS != 20 || got.P50 != 2 || got.P99 != 10 {
		t.Fatalf("median = %v req/s, p50 %v, p99 %v; want 20, 2, 10", got.RPS, got.P50, got.P99)
	}
	if got.Requests != 600 || got.Errors() != 3 {
		t.Fatalf("sums = %d requests, %d errors; want 600 and 3", got.Requests, got.Errors())
	}
}
