package balancer

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sample is one parsed line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$`)

// parseExposition parses every sample line of out and returns the samples
// and the TYPE of each family. It fails the test on a malformed line or a
// second TYPE line for one family.
func parseExposition(t *testing.T, out string) ([]sample, map[string]string) {
	t.Helper()
	require.True(t, strings.HasSuffix(out, "\n"), "output ends with a line feed")

	var samples []sample
	types := make(map[string]string)
	for line := range strings.SplitSeq(strings.TrimSuffix(out, "\n"), "\n") {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, found := strings.Cut(rest, " ")
			require.True(t, found, "TYPE line %q", line)
			require.NotContains(t, types, name, "second TYPE line for %s", name)
			types[name] = typ
			continue
		}
		if strings.HasPrefix(line, "# HELP ") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		require.NotNil(t, m, "malformed line %q", line)
		value, err := strconv.ParseFloat(m[3], 64)
		require.NoError(t, err, "value of line %q", line)
		samples = append(samples, sample{name: m[1], labels: parseLabels(t, m[2]), value: value})
	}
	return samples, types
}

// parseLabels parses `a="x",b="y\"z"` and undoes the escapes.
func parseLabels(t *testing.T, s string) map[string]string {
	t.Helper()
	labels := make(map[string]string)
	for s != "" {
		name, rest, ok := strings.Cut(s, `="`)
		require.True(t, ok, "label in %q", s)
		var value strings.Builder
		i := 0
		for ; i < len(rest) && rest[i] != '"'; i++ {
			if rest[i] != '\\' {
				value.WriteByte(rest[i])
				continue
			}
			i++
			require.Less(t, i, len(rest), "dangling escape in %q", s)
			switch rest[i] {
			case '\\':
				value.WriteByte('\\')
			case '"':
				value.WriteByte('"')
			case 'n':
				value.WriteByte('\n')
			default:
				t.Fatalf("invalid escape \\%c in %q", rest[i], s)
			}
		}
		require.Less(t, i, len(rest), "unterminated label value in %q", s)
		require.NotContains(t, labels, name, "duplicate label %s", name)
		labels[name] = value.String()
		s = strings.TrimPrefix(rest[i+1:], ",")
	}
	return labels
}

func findSamples(samples []sample, name string, labels map[string]string) []sample {
	var out []sample
	for _, s := range samples {
		if s.name != name {
			continue
		}
		match := true
		for k, v := range labels {
			if s.labels[k] != v {
				match = false
				break
			}
		}
		if match {
			out = append(out, s)
		}
	}
	return out
}

func oneValue(t *testing.T, samples []sample, name string, labels map[string]string) float64 {
	t.Helper()
	found := findSamples(samples, name, labels)
	require.Len(t, found, 1, "%s%v", name, labels)
	return found[0].value
}

func TestStatsWritePrometheus(t *testing.T) {
	stats := NewStats()
	acme := stats.Tenant("acme")
	acme.Start(0)
	acme.Done(0, ClassOK, 100, 2000, 3*time.Millisecond)
	acme.Start(1)
	acme.Done(1, ClassServer, 10, 20, 300*time.Millisecond)
	acme.Start(2) // still in flight
	stats.Pair("acme", "i1").Start(0)
	stats.Pair("acme", "i1").Done(0, ClassConnect, 0, 0, time.Millisecond)
	stats.Tenant("globex")

	var buf bytes.Buffer
	stats.WritePrometheus(&buf)
	samples, _ := parseExposition(t, buf.String())

	acmeLabels := map[string]string{"tenant": "acme"}
	assert.Len(t, findSamples(samples, "dflb_requests_total", acmeLabels), NumClasses, "one series per class")
	assert.Len(t, findSamples(samples, "dflb_requests_total", nil), 2*NumClasses)
	assert.Equal(t, 1.0, oneValue(t, samples, "dflb_requests_total", map[string]string{"tenant": "acme", "class": "ok"}))
	assert.Equal(t, 1.0, oneValue(t, samples, "dflb_requests_total", map[string]string{"tenant": "acme", "class": "server_error"}))
	assert.Equal(t, 0.0, oneValue(t, samples, "dflb_requests_total", map[string]string{"tenant": "globex", "class": "ok"}))
	for _, s := range findSamples(samples, "dflb_requests_total", nil) {
		assert.Len(t, s.labels, 2, "labels are tenant and class")
	}

	assert.Equal(t, 1.0, oneValue(t, samples, "dflb_inflight", acmeLabels))
	assert.Equal(t, 110.0, oneValue(t, samples, "dflb_bytes_received_total", acmeLabels))
	assert.Equal(t, 2020.0, oneValue(t, samples, "dflb_bytes_sent_total", acmeLabels))

	upstream := map[string]string{"tenant": "acme", "instance": "i1", "class": "connect_error"}
	assert.Equal(t, 1.0, oneValue(t, samples, "dflb_upstream_requests_total", upstream))
	assert.Len(t, findSamples(samples, "dflb_upstream_requests_total", nil), NumClasses)

	buckets := findSamples(samples, "dflb_request_duration_seconds_bucket", acmeLabels)
	require.Len(t, buckets, NumBuckets)
	bounds := LatencyBounds()
	previous := 0.0
	for i, b := range buckets {
		want := "+Inf"
		if i < len(bounds) {
			want = strconv.FormatFloat(bounds[i].Seconds(), 'f', -1, 64)
		}
		assert.Equal(t, want, b.labels["le"], "bucket %d bound", i)
		assert.GreaterOrEqual(t, b.value, previous, "buckets are cumulative")
		previous = b.value
	}
	assert.Equal(t, "0.0005", buckets[0].labels["le"])
	assert.Equal(t, 0.0, oneValue(t, samples, "dflb_request_duration_seconds_bucket", map[string]string{"tenant": "acme", "le": "0.0025"}))
	assert.Equal(t, 1.0, oneValue(t, samples, "dflb_request_duration_seconds_bucket", map[string]string{"tenant": "acme", "le": "0.005"}))
	assert.Equal(t, 2.0, oneValue(t, samples, "dflb_request_duration_seconds_bucket", map[string]string{"tenant": "acme", "le": "0.5"}))
	assert.Equal(t, 2.0, oneValue(t, samples, "dflb_request_duration_seconds_bucket", map[string]string{"tenant": "acme", "le": "+Inf"}))
	assert.Equal(t, 2.0, oneValue(t, samples, "dflb_request_duration_seconds_count", acmeLabels))
	assert.InDelta(t, 0.303, oneValue(t, samples, "dflb_request_duration_seconds_sum", acmeLabels), 1e-9)
}

func TestWritePrometheusEscapesLabels(t *testing.T) {
	instance := "rack \"a\"\\1\nz"
	stats := NewStats()
	stats.Pair("acme", instance).Start(0)
	stats.Pair("acme", "bad\xffutf8").Start(0)

	var buf bytes.Buffer
	stats.WritePrometheus(&buf)
	out := buf.String()
	assert.Contains(t, out, `instance="rack \"a\"\\1\nz"`)

	samples, _ := parseExposition(t, out)
	found := findSamples(samples, "dflb_upstream_requests_total", map[string]string{"instance": instance})
	assert.Len(t, found, NumClasses, "escaped value parses back to the original")
	found = findSamples(samples, "dflb_upstream_requests_total", map[string]string{"instance": "bad\uFFFDutf8"})
	assert.Len(t, found, NumClasses, "invalid UTF-8 is replaced")
}

func TestWritePrometheusMetadataOnce(t *testing.T) {
	metrics.ExposeMetadata(true)
	t.Cleanup(func() { metrics.ExposeMetadata(false) })

	stats := NewStats()
	stats.Pair("acme", "i1").Start(0)
	stats.Pair("globex", "i1").Start(0)
	pool := NewPool(nil, HealthConfig{}, nil)
	_, err := pool.Build(testSpecs(), stats)
	require.NoError(t, err)

	var buf bytes.Buffer
	stats.WritePrometheus(&buf)
	pool.WritePrometheus(&buf)
	samples, types := parseExposition(t, buf.String())

	want := map[string]string{
		"dflb_requests_total":           "counter",
		"dflb_inflight":                 "gauge",
		"dflb_bytes_received_total":     "counter",
		"dflb_bytes_sent_total":         "counter",
		"dflb_request_duration_seconds": "histogram",
		"dflb_upstream_requests_total":  "counter",
		"dflb_backend_up":               "gauge",
		"dflb_backend_inflight":         "gauge",
	}
	assert.Equal(t, want, types)

	// Every sample follows the TYPE line of its family with no other
	// family in between.
	var current string
	for line := range strings.SplitSeq(buf.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			current, _, _ = strings.Cut(rest, " ")
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		assert.True(t, strings.HasPrefix(line, current), "line %q outside family %s", line, current)
	}
	assert.NotEmpty(t, samples)
}

func TestPoolWritePrometheus(t *testing.T) {
	pool := NewPool(nil, HealthConfig{Failures: 1, Cooloff: time.Minute}, nil)
	table, err := pool.Build(testSpecs(), nil)
	require.NoError(t, err)
	route, err := table.Lookup([]byte("acme"), "app")
	require.NoError(t, err)
	route.Targets[0].Backend.Acquire()
	route.Targets[1].Backend.ReportFailure(time.Now().UnixNano())

	var buf bytes.Buffer
	pool.WritePrometheus(&buf)
	samples, _ := parseExposition(t, buf.String())

	assert.Len(t, findSamples(samples, "dflb_backend_up", nil), 3)
	i1 := map[string]string{"instance": "i1", "component": "app", "addr": "127.0.0.1:9001"}
	i2 := map[string]string{"instance": "i2", "component": "app", "addr": "127.0.0.1:9011"}
	compiler := map[string]string{"instance": "i1", "component": "compiler", "addr": "127.0.0.1:9002"}
	assert.Equal(t, 1.0, oneValue(t, samples, "dflb_backend_up", i1))
	assert.Equal(t, 0.0, oneValue(t, samples, "dflb_backend_up", i2))
	assert.Equal(t, 1.0, oneValue(t, samples, "dflb_backend_up", compiler))
	assert.Equal(t, 1.0, oneValue(t, samples, "dflb_backend_inflight", i1))
	assert.Equal(t, 0.0, oneValue(t, samples, "dflb_backend_inflight", i2))
}

func TestWritePrometheusLargeOutput(t *testing.T) {
	stats := NewStats()
	const tenants = 500
	for i := range tenants {
		stats.Tenant(fmt.Sprintf("tenant-%04d", i)).Start(0)
	}

	var buf bytes.Buffer
	stats.WritePrometheus(&buf)
	require.Greater(t, buf.Len(), flushSize, "output spans several flushes")

	samples, _ := parseExposition(t, buf.String())
	assert.Len(t, findSamples(samples, "dflb_inflight", nil), tenants)
	assert.Equal(t, 1.0, oneValue(t, samples, "dflb_inflight", map[string]string{"tenant": "tenant-0499"}))
}
