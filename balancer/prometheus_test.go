package balancer

import (
	"bytes"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
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
// and the TYPE of each family. It fails the test on a malformed line, a
// second TYPE line for one family or a series that appears twice.
func parseExposition(t *testing.T, out string) ([]sample, map[string]string) {
	t.Helper()
	require.True(t, strings.HasSuffix(out, "\n"), "output ends with a line feed")

	var samples []sample
	types := make(map[string]string)
	seen := make(map[string]bool)
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
		s := sample{name: m[1], labels: parseLabels(t, m[2]), value: value}
		key := seriesKey(s)
		require.False(t, seen[key], "series %s appears twice", key)
		seen[key] = true
		samples = append(samples, s)
	}
	return samples, types
}

// seriesKey returns the name and the sorted labels of s.
func seriesKey(s sample) string {
	key := s.name
	for _, name := range slices.Sorted(maps.Keys(s.labels)) {
		key += "," + name + "=" + strconv.Quote(s.labels[name])
	}
	return key
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
	assert.Equal(t, 110.0, oneValue(t, samples, "dflb_received_bytes_total", acmeLabels))
	assert.Equal(t, 2020.0, oneValue(t, samples, "dflb_sent_bytes_total", acmeLabels))

	upstream := map[string]string{"tenant": "acme", "instance_id": "i1", "class": "connect_error"}
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
	assert.Contains(t, out, `instance_id="rack \"a\"\\1\nz"`)

	samples, _ := parseExposition(t, out)
	found := findSamples(samples, "dflb_upstream_requests_total", map[string]string{"instance_id": instance})
	assert.Len(t, found, NumClasses, "escaped value parses back to the original")
	found = findSamples(samples, "dflb_upstream_requests_total", map[string]string{"instance_id": "bad\uFFFDutf8"})
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
		"dflb_received_bytes_total":     "counter",
		"dflb_sent_bytes_total":         "counter",
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
	i1 := map[string]string{"instance_id": "i1", "component": "app", "addr": "127.0.0.1:9001"}
	i2 := map[string]string{"instance_id": "i2", "component": "app", "addr": "127.0.0.1:9011"}
	compiler := map[string]string{"instance_id": "i1", "component": "compiler", "addr": "127.0.0.1:9002"}
	assert.Equal(t, 1.0, oneValue(t, samples, "dflb_backend_up", i1))
	assert.Equal(t, 0.0, oneValue(t, samples, "dflb_backend_up", i2))
	assert.Equal(t, 1.0, oneValue(t, samples, "dflb_backend_up", compiler))
	assert.Equal(t, 1.0, oneValue(t, samples, "dflb_backend_inflight", i1))
	assert.Equal(t, 0.0, oneValue(t, samples, "dflb_backend_inflight", i2))
}

// Prometheus sets "instance" and "job" on every scraped series itself and
// renames a scraped label of either name, so no series may carry one.
func TestWritePrometheusAvoidsTargetLabels(t *testing.T) {
	stats := NewStats()
	pool := NewPool(nil, HealthConfig{}, nil)
	table, err := pool.Build(testSpecs(), stats)
	require.NoError(t, err)
	route, err := table.Lookup([]byte("acme"), "app")
	require.NoError(t, err)
	route.Stats.Start(0)
	route.Targets[0].Stats.Start(0)

	var buf bytes.Buffer
	stats.WritePrometheus(&buf)
	pool.WritePrometheus(&buf)
	samples, _ := parseExposition(t, buf.String())

	require.NotEmpty(t, findSamples(samples, metricUpstreamRequests, nil))
	require.NotEmpty(t, findSamples(samples, metricBackendUp, nil))
	for _, s := range samples {
		assert.NotContains(t, s.labels, "instance", s.name)
		assert.NotContains(t, s.labels, "job", s.name)
	}
}

func TestWritePrometheusLargeOutput(t *testing.T) {
	stats := NewStats()
	stats.SetTenantLabelCap(0)
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

// familyOf returns the family of a sample name: the name without the
// _bucket, _sum or _count suffix of a histogram.
func familyOf(name string) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if family, ok := strings.CutSuffix(name, suffix); ok && family == metricDuration {
			return family
		}
	}
	return name
}

// tenantValues returns the distinct tenant label values of each family.
func tenantValues(samples []sample) map[string]map[string]bool {
	values := make(map[string]map[string]bool)
	for _, s := range samples {
		tenant, ok := s.labels["tenant"]
		if !ok {
			continue
		}
		family := familyOf(s.name)
		if values[family] == nil {
			values[family] = make(map[string]bool)
		}
		values[family][tenant] = true
	}
	return values
}

// sumValues returns the sum of the values of the samples that match name
// and labels.
func sumValues(samples []sample, name string, labels map[string]string) float64 {
	total := 0.0
	for _, s := range findSamples(samples, name, labels) {
		total += s.value
	}
	return total
}

// scrape writes stats with metadata on and parses the output.
func scrape(t *testing.T, stats *Stats) []sample {
	t.Helper()
	metrics.ExposeMetadata(true)
	t.Cleanup(func() { metrics.ExposeMetadata(false) })

	var buf bytes.Buffer
	stats.WritePrometheus(&buf)
	samples, _ := parseExposition(t, buf.String())
	return samples
}

// tenantCounts is what a test sent through the cells of one tenant.
type tenantCounts struct {
	ok, inflight, bytesIn uint64
	upstreamErrors        map[string]uint64 // server errors by instance
}

func TestWritePrometheusCapsTenantLabels(t *testing.T) {
	metrics.ExposeMetadata(true)
	t.Cleanup(func() { metrics.ExposeMetadata(false) })

	const tenants = 10_000
	stats := NewStats()
	require.Equal(t, DefaultTenantLabelCap, stats.TenantLabelCap())

	// Every hundredth tenant is heavy, with 50 requests. The others have at
	// most 4, so the heavy ones are exactly the DefaultTenantLabelCap top
	// tenants.
	counts := make(map[string]tenantCounts, tenants)
	heavy := make(map[string]bool)
	for i := range tenants {
		tenant := fmt.Sprintf("tenant-%05d", i)
		requests := 1 + i%3
		if i%100 == 0 {
			requests = 50
			heavy[tenant] = true
		}
		var tc tenantCounts
		cell := stats.Tenant(tenant)
		for j := range requests {
			cell.Start(uint64(j))
			cell.Done(uint64(j), ClassOK, 10, 20, time.Duration(j+1)*time.Millisecond)
			tc.ok++
			tc.bytesIn += 10
		}
		if i%7 == 0 {
			cell.Start(0)
			tc.inflight++
		}
		instance := fmt.Sprintf("i%d", i%4)
		pair := stats.Pair(tenant, instance)
		pair.Start(0)
		pair.Done(0, ClassServer, 0, 0, time.Millisecond)
		tc.upstreamErrors = map[string]uint64{instance: 1}
		counts[tenant] = tc
	}
	require.Len(t, heavy, DefaultTenantLabelCap)

	var buf bytes.Buffer
	start := time.Now()
	stats.WritePrometheus(&buf)
	elapsed := time.Since(start)
	t.Logf("scrape of %d tenants: %v, %d bytes", tenants, elapsed, buf.Len())
	samples, types := parseExposition(t, buf.String())
	assert.Len(t, types, 6, "every family has one TYPE line")

	values := tenantValues(samples)
	assert.Len(t, values, 6, "every family has tenant labels")
	for family, tenantsSeen := range values {
		assert.LessOrEqual(t, len(tenantsSeen), DefaultTenantLabelCap+1, "tenant label values of %s", family)
		assert.True(t, tenantsSeen[OtherTenant], "%s has tenant=%q", family, OtherTenant)
		for tenant := range tenantsSeen {
			if tenant != OtherTenant {
				assert.True(t, heavy[tenant], "%s labels light tenant %s", family, tenant)
			}
		}
	}
	assert.Len(t, values[metricRequests], DefaultTenantLabelCap+1, "every heavy tenant keeps its label")

	var folded tenantCounts
	folded.upstreamErrors = make(map[string]uint64)
	var allOK uint64
	for tenant, tc := range counts {
		allOK += tc.ok
		if heavy[tenant] {
			continue
		}
		folded.ok += tc.ok
		folded.inflight += tc.inflight
		folded.bytesIn += tc.bytesIn
		for instance, n := range tc.upstreamErrors {
			folded.upstreamErrors[instance] += n
		}
	}

	other := map[string]string{"tenant": OtherTenant}
	otherOK := map[string]string{"tenant": OtherTenant, "class": "ok"}
	assert.Equal(t, float64(folded.ok), oneValue(t, samples, metricRequests, otherOK), "other sums the folded tenants")
	assert.Equal(t, float64(allOK), sumValues(samples, metricRequests, map[string]string{"class": "ok"}), "no request is lost or counted twice")
	assert.Equal(t, float64(folded.inflight), oneValue(t, samples, metricInflight, other))
	assert.Equal(t, float64(folded.bytesIn), oneValue(t, samples, metricBytesReceived, other))
	assert.Equal(t, float64(folded.ok), oneValue(t, samples, metricDuration+"_count", other))
	otherInf := map[string]string{"tenant": OtherTenant, "le": "+Inf"}
	assert.Equal(t, float64(folded.ok), oneValue(t, samples, metricDuration+"_bucket", otherInf))
	assert.Len(t, findSamples(samples, metricDuration+"_bucket", other), NumBuckets)
	for instance, n := range folded.upstreamErrors {
		labels := map[string]string{"tenant": OtherTenant, "instance_id": instance, "class": "server_error"}
		assert.Equal(t, float64(n), oneValue(t, samples, metricUpstreamRequests, labels), "upstream server errors on %s", instance)
	}
	assert.Len(t, findSamples(samples, metricUpstreamRequests, other), 4*NumClasses, "every class for every instance")
}

func TestWritePrometheusOtherNeverDecreases(t *testing.T) {
	stats := NewStats()
	stats.SetTenantLabelCap(1)
	// request counts n requests of tenant, each sent to instance i1.
	request := func(tenant string, n int) {
		cell := stats.Tenant(tenant)
		pair := stats.Pair(tenant, "i1")
		for range n {
			cell.Start(0)
			cell.Done(0, ClassOK, 0, 0, time.Millisecond)
			pair.Start(0)
			pair.Done(0, ClassOK, 0, 0, time.Millisecond)
		}
	}
	// okOf returns the requests done of tenant, after checking that the
	// upstream requests on i1 match them.
	okOf := func(samples []sample, tenant string) float64 {
		ok := oneValue(t, samples, metricRequests, map[string]string{"tenant": tenant, "class": "ok"})
		upstream := oneValue(t, samples, metricUpstreamRequests, map[string]string{"tenant": tenant, "instance_id": "i1", "class": "ok"})
		assert.Equal(t, ok, upstream, "upstream requests of %s", tenant)
		return ok
	}

	request("acme", 100)
	request("globex", 10)
	request("initech", 5)
	samples := scrape(t, stats)
	assert.Equal(t, 100.0, okOf(samples, "acme"))
	assert.Equal(t, 15.0, okOf(samples, OtherTenant), "globex and initech")

	// globex overtakes acme, which moves into the sum. The sum gains what
	// acme and initech did since the last scrape, not acme's 100 before.
	request("acme", 2)
	request("globex", 200)
	request("initech", 3)
	samples = scrape(t, stats)
	assert.Equal(t, 210.0, okOf(samples, "globex"))
	assert.Empty(t, findSamples(samples, metricRequests, map[string]string{"tenant": "acme"}))
	assert.Equal(t, 20.0, okOf(samples, OtherTenant), "15 before, 2 from acme, 3 from initech")

	// A folded tenant that is forgotten keeps what it added.
	stats.Forget("initech")
	request("acme", 1)
	samples = scrape(t, stats)
	assert.Equal(t, 21.0, okOf(samples, OtherTenant), "initech's 8 stay in the sum")

	// A tenant created again under a forgotten ID adds all its new counts.
	request("initech", 4)
	samples = scrape(t, stats)
	assert.Equal(t, 25.0, okOf(samples, OtherTenant))

	// The same between two scrapes: the new cell's 2 are below the old
	// cell's 4 at the previous scrape, and still count.
	stats.Forget("initech")
	request("initech", 2)
	samples = scrape(t, stats)
	assert.Equal(t, 27.0, okOf(samples, OtherTenant))
}

func TestWritePrometheusOtherAfterRetain(t *testing.T) {
	stats := NewStats()
	stats.SetTenantLabelCap(1)
	pool := NewPool(nil, HealthConfig{}, nil)
	specs := func(globexInstances ...string) []InstanceSpec {
		out := []InstanceSpec{
			{ID: "i1", Components: map[string]string{"app": "127.0.0.1:9001"}, Tenants: []string{"acme"}},
			{ID: "i2", Components: map[string]string{"app": "127.0.0.1:9011"}, Tenants: []string{"acme"}},
		}
		for i := range out {
			if slices.Contains(globexInstances, out[i].ID) {
				out[i].Tenants = append(out[i].Tenants, "globex")
			}
		}
		return out
	}
	serverErrors := func(tenant, instance string, n int) {
		pair := stats.Pair(tenant, instance)
		for range n {
			pair.Start(0)
			pair.Done(0, ClassServer, 0, 0, time.Millisecond)
		}
	}
	otherOn := func(samples []sample, instance string) float64 {
		labels := map[string]string{"tenant": OtherTenant, "instance_id": instance, "class": "server_error"}
		return oneValue(t, samples, metricUpstreamRequests, labels)
	}

	_, err := pool.Build(specs("i1", "i2"), stats)
	require.NoError(t, err)
	stats.Tenant("acme").Start(0) // acme is the top tenant
	serverErrors("globex", "i2", 4)
	assert.Equal(t, 4.0, otherOn(scrape(t, stats), "i2"))

	// globex leaves i2 and comes back before the next scrape: its new pair
	// cell counts 2, fewer than the old cell's 4, and they still add up.
	table, err := pool.Build(specs("i1"), stats)
	require.NoError(t, err)
	stats.Retain(table)
	_, err = pool.Build(specs("i1", "i2"), stats)
	require.NoError(t, err)
	serverErrors("globex", "i2", 2)
	assert.Equal(t, 6.0, otherOn(scrape(t, stats), "i2"))

	// While acme still has a pair on i2, the sum on i2 stays.
	table, err = pool.Build(specs("i1"), stats)
	require.NoError(t, err)
	stats.Retain(table)
	assert.Equal(t, 6.0, otherOn(scrape(t, stats), "i2"))

	// Once no tenant has a pair on i2, its sum is dropped.
	table, err = pool.Build(specs("i1")[:1], stats)
	require.NoError(t, err)
	stats.Retain(table)
	samples := scrape(t, stats)
	assert.Empty(t, findSamples(samples, metricUpstreamRequests, map[string]string{"instance_id": "i2"}))
	assert.Len(t, findSamples(samples, metricUpstreamRequests, map[string]string{"tenant": OtherTenant, "instance_id": "i1"}), NumClasses)
}

func TestWritePrometheusConcurrentScrapes(t *testing.T) {
	stats := NewStats()
	stats.SetTenantLabelCap(1)
	acme := stats.Tenant("acme") // the top tenant throughout
	for range 10_000 {
		acme.Start(0)
		acme.Done(0, ClassOK, 0, 0, time.Millisecond)
	}

	// Writers send 2,000 requests over 20 other tenants while two scrapers
	// write the metrics.
	const writers, perWriter = 4, 500
	var traffic sync.WaitGroup
	for writer := range writers {
		traffic.Go(func() {
			for i := range perWriter {
				cell := stats.Tenant(fmt.Sprintf("tenant-%02d", (writer*perWriter+i)%20))
				cell.Start(uint64(writer))
				cell.Done(uint64(writer), ClassOK, 0, 0, time.Millisecond)
			}
		})
	}
	done := make(chan struct{})
	var scrapers sync.WaitGroup
	var mu sync.Mutex
	var problems []string
	for range 2 {
		scrapers.Go(func() {
			const prefix = `dflb_requests_total{tenant="other",class="ok"} `
			last := 0.0
			for {
				select {
				case <-done:
					return
				default:
				}
				var buf bytes.Buffer
				stats.WritePrometheus(&buf)
				_, rest, found := strings.Cut(buf.String(), prefix)
				if !found {
					continue
				}
				line, _, _ := strings.Cut(rest, "\n")
				value, err := strconv.ParseFloat(line, 64)
				mu.Lock()
				if err != nil || value < last {
					problems = append(problems, fmt.Sprintf("other after %v: %q", last, line))
				}
				mu.Unlock()
				last = value
			}
		})
	}
	traffic.Wait()
	close(done)
	scrapers.Wait()

	assert.Empty(t, problems, "other never decreases for one scraper")
	samples := scrape(t, stats)
	want := float64(writers * perWriter)
	assert.Equal(t, want, oneValue(t, samples, metricRequests, map[string]string{"tenant": OtherTenant, "class": "ok"}), "no request is added twice")
}

func TestWritePrometheusKeepsLabelNearTie(t *testing.T) {
	stats := NewStats()
	stats.SetTenantLabelCap(1)
	request := func(tenant string, n int) {
		cell := stats.Tenant(tenant)
		for range n {
			cell.Start(0)
			cell.Done(0, ClassOK, 0, 0, time.Millisecond)
		}
	}
	labeled := func() string {
		values := tenantValues(scrape(t, stats))[metricRequests]
		require.Len(t, values, 2)
		for tenant := range values {
			if tenant != OtherTenant {
				return tenant
			}
		}
		return ""
	}

	request("acme", 100)
	request("globex", 50)
	require.Equal(t, "acme", labeled())

	request("globex", 55) // 105 against acme's 100
	assert.Equal(t, "acme", labeled(), "a lead of less than a tenth does not move the label")

	request("globex", 10) // 115 against acme's 100
	assert.Equal(t, "globex", labeled())
}

func TestWritePrometheusWithinCap(t *testing.T) {
	stats := NewStats()
	stats.SetTenantLabelCap(3)
	for _, tenant := range []string{"acme", "globex", "initech"} {
		stats.Pair(tenant, "i1").Start(0)
		stats.Tenant(tenant).Start(0)
	}

	samples := scrape(t, stats)
	assert.Len(t, tenantValues(samples)[metricRequests], 3)
	assert.Empty(t, findSamples(samples, metricRequests, map[string]string{"tenant": OtherTenant}))
	assert.Empty(t, findSamples(samples, metricUpstreamRequests, map[string]string{"tenant": OtherTenant}))
}

func TestWritePrometheusCapZeroLabelsAll(t *testing.T) {
	stats := NewStats()
	stats.SetTenantLabelCap(0)
	const tenants = 2 * DefaultTenantLabelCap
	for i := range tenants {
		stats.Tenant(fmt.Sprintf("tenant-%04d", i)).Start(0)
	}

	values := tenantValues(scrape(t, stats))
	for family, tenantsSeen := range values {
		assert.Len(t, tenantsSeen, tenants, "tenant label values of %s", family)
		assert.False(t, tenantsSeen[OtherTenant], "%s has no tenant=%q", family, OtherTenant)
	}
}

func TestWritePrometheusTenantNamedOther(t *testing.T) {
	stats := NewStats()
	stats.SetTenantLabelCap(1)
	for tenant, n := range map[string]int{"acme": 5, OtherTenant: 50, "globex": 2} {
		cell := stats.Tenant(tenant)
		for range n {
			cell.Start(0)
			cell.Done(0, ClassOK, 0, 0, time.Millisecond)
		}
		stats.Pair(tenant, "i1").Start(0)
	}

	samples := scrape(t, stats) // parseExposition rejects a duplicate series
	ok := func(tenant string) float64 {
		return oneValue(t, samples, metricRequests, map[string]string{"tenant": tenant, "class": "ok"})
	}
	assert.Equal(t, 5.0, ok("acme"), "acme is the top tenant besides the one named other")
	assert.Equal(t, 52.0, ok(OtherTenant), "the tenant named other is summed with globex")
}

func TestSetTenantLabelCap(t *testing.T) {
	stats := NewStats()
	assert.Equal(t, DefaultTenantLabelCap, stats.TenantLabelCap())

	stats.SetTenantLabelCap(7)
	assert.Equal(t, 7, stats.TenantLabelCap())
	assert.Equal(t, DefaultTenantLabelCap, NewStats().TenantLabelCap(), "each Stats has its own cap")

	stats.SetTenantLabelCap(-1)
	assert.Equal(t, 0, stats.TenantLabelCap(), "a negative cap counts as 0")
}

// BenchmarkWritePrometheus10000Tenants measures a scrape of 10,000 tenants on two
// instances each, under the default label cap.
func BenchmarkWritePrometheus10000Tenants(b *testing.B) {
	stats := NewStats()
	for i := range 10_000 {
		tenant := fmt.Sprintf("tenant-%05d", i)
		stats.Tenant(tenant).Start(uint64(i))
		stats.Pair(tenant, "i1").Start(0)
		stats.Pair(tenant, "i2").Start(0)
	}
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		stats.WritePrometheus(&buf)
	}
}
