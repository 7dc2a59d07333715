package balancer

import (
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/VictoriaMetrics/metrics"
)

// Metric families written by Stats.WritePrometheus and Pool.WritePrometheus.
const (
	metricRequests         = "dflb_requests_total"
	metricInflight         = "dflb_inflight"
	metricBytesReceived    = "dflb_received_bytes_total"
	metricBytesSent        = "dflb_sent_bytes_total"
	metricDuration         = "dflb_request_duration_seconds"
	metricUpstreamRequests = "dflb_upstream_requests_total"
	metricBackendUp        = "dflb_backend_up"
	metricBackendInflight  = "dflb_backend_inflight"
)

// flushSize is the buffered output size at which a promWriter writes to w.
const flushSize = 64 << 10

// labelInstance names the label of a platform instance. Prometheus sets a
// label named "instance" on every scraped series, naming the scrape target,
// and renames a scraped "instance" label to "exported_instance".
const labelInstance = "instance_id"

// WritePrometheus writes every cell in the Prometheus text format, sorted by
// tenant and instance:
//
//   - dflb_requests_total{tenant,class}: client requests done, from the
//     tenant cells
//   - dflb_inflight{tenant}: client requests in flight
//   - dflb_received_bytes_total{tenant}, dflb_sent_bytes_total{tenant}
//   - dflb_request_duration_seconds{tenant}: histogram with the buckets of
//     LatencyBounds
//   - dflb_upstream_requests_total{tenant,instance_id,class}: attempts sent to
//     each instance, from the pair cells
//
// Every class appears for every tenant and pair, so each series exists
// from the first scrape on. HELP and TYPE lines appear once per family when
// metrics.ExposeMetadata(true) is set.
//
// When there are more tenants than the cap set by SetTenantLabelCap, only
// the tenants with the most requests keep their own label. The series of
// the others are summed under tenant="other", written after the labeled
// tenants. WritePrometheus chooses the tenants from the counters, so the
// request path does no extra work for the cap.
func (s *Stats) WritePrometheus(w io.Writer) {
	tenants := s.tenantsToWrite()
	pw := &promWriter{w: w}

	pw.family(metricRequests, "counter")
	for _, t := range tenants {
		for cls, n := range t.counts.Classes {
			pw.series(metricRequests, "tenant", t.tenant, "class", Class(cls).String())
			pw.uintValue(n)
		}
	}

	pw.family(metricInflight, "gauge")
	for _, t := range tenants {
		pw.series(metricInflight, "tenant", t.tenant)
		// Read sums shards one at a time, so a request that starts on a shard
		// already read and ends on one not yet read adds only its -1.
		pw.uintValue(uint64(max(t.counts.Inflight, 0)))
	}

	pw.family(metricBytesReceived, "counter")
	for _, t := range tenants {
		pw.series(metricBytesReceived, "tenant", t.tenant)
		pw.uintValue(t.counts.BytesIn)
	}

	pw.family(metricBytesSent, "counter")
	for _, t := range tenants {
		pw.series(metricBytesSent, "tenant", t.tenant)
		pw.uintValue(t.counts.BytesOut)
	}

	pw.family(metricDuration, "histogram")
	le := bucketLabels()
	for _, t := range tenants {
		pw.histogram(t.tenant, t.counts, &le)
	}

	pw.family(metricUpstreamRequests, "counter")
	for _, t := range tenants {
		for _, pair := range t.pairs {
			for cls, n := range pair.classes {
				pw.series(metricUpstreamRequests, "tenant", t.tenant, labelInstance, pair.instance, "class", Class(cls).String())
				pw.uintValue(n)
			}
		}
	}

	pw.flush()
}

// WritePrometheus writes the state of every backend in the pool in the
// Prometheus text format:
//
//   - dflb_backend_up{instance_id,component,addr}: 0 while marked down, else 1
//   - dflb_backend_inflight{instance_id,component,addr}: requests in flight
func (p *Pool) WritePrometheus(w io.Writer) {
	backends := p.Backends()
	pw := &promWriter{w: w}

	pw.family(metricBackendUp, "gauge")
	for _, b := range backends {
		pw.series(metricBackendUp, labelInstance, b.Instance, "component", b.Component, "addr", b.Addr)
		up := uint64(1)
		if b.Down() {
			up = 0
		}
		pw.uintValue(up)
	}

	pw.family(metricBackendInflight, "gauge")
	for _, b := range backends {
		pw.series(metricBackendInflight, labelInstance, b.Instance, "component", b.Component, "addr", b.Addr)
		pw.uintValue(uint64(max(b.Inflight(), 0)))
	}

	pw.flush()
}

// promWriter buffers sample lines and writes metadata through the
// VictoriaMetrics helper. It does not use metrics.WriteCounterUint64 for
// samples, because that helper repeats HELP and TYPE for every labelled
// series when metadata is on, and Prometheus rejects a second TYPE line.
type promWriter struct {
	w   io.Writer
	buf []byte
}

func (p *promWriter) family(name, metricType string) {
	p.flush()
	metrics.WriteMetadataIfNeeded(p.w, name, metricType)
}

// series starts a sample line with name and labels, given as name-value
// pairs. uintValue or floatValue ends the line.
func (p *promWriter) series(name string, labels ...string) {
	p.buf = append(p.buf, name...)
	if len(labels) == 0 {
		return
	}
	p.buf = append(p.buf, '{')
	for i := 0; i+1 < len(labels); i += 2 {
		if i > 0 {
			p.buf = append(p.buf, ',')
		}
		p.buf = append(p.buf, labels[i]...)
		p.buf = append(p.buf, '=', '"')
		p.buf = appendLabelValue(p.buf, labels[i+1])
		p.buf = append(p.buf, '"')
	}
	p.buf = append(p.buf, '}')
}

func (p *promWriter) uintValue(v uint64) {
	p.buf = append(p.buf, ' ')
	p.buf = strconv.AppendUint(p.buf, v, 10)
	p.endLine()
}

func (p *promWriter) floatValue(v float64) {
	p.buf = append(p.buf, ' ')
	p.buf = strconv.AppendFloat(p.buf, v, 'g', -1, 64)
	p.endLine()
}

func (p *promWriter) endLine() {
	p.buf = append(p.buf, '\n')
	if len(p.buf) >= flushSize {
		p.flush()
	}
}

func (p *promWriter) flush() {
	if len(p.buf) == 0 {
		return
	}
	// Write errors are dropped, as the metrics helpers drop them, because a
	// scrape whose response write failed is lost either way.
	_, _ = p.w.Write(p.buf)
	p.buf = p.buf[:0]
}

// bucketLabels returns the le label value of each bucket, in seconds.
func bucketLabels() [NumBuckets]string {
	var le [NumBuckets]string
	for i, bound := range LatencyBounds() {
		le[i] = strconv.FormatFloat(bound.Seconds(), 'f', -1, 64)
	}
	le[NumBuckets-1] = "+Inf"
	return le
}

// histogram writes the dflb_request_duration_seconds _bucket, _sum and _count lines of one tenant, with
// cumulative bucket counts as Prometheus requires.
func (p *promWriter) histogram(tenant string, c CounterSnapshot, le *[NumBuckets]string) {
	var cumulative uint64
	for i, n := range c.Buckets {
		cumulative += n
		p.series(metricDuration+"_bucket", "tenant", tenant, "le", le[i])
		p.uintValue(cumulative)
	}
	p.series(metricDuration+"_sum", "tenant", tenant)
	p.floatValue(c.LatencySum.Seconds())
	p.series(metricDuration+"_count", "tenant", tenant)
	p.uintValue(cumulative)
}

// appendLabelValue appends v escaped for a Prometheus label value: backslash,
// double quote and line feed are escaped, and invalid UTF-8 becomes U+FFFD.
func appendLabelValue(dst []byte, v string) []byte {
	if !utf8.ValidString(v) {
		v = strings.ToValidUTF8(v, "\uFFFD")
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '"':
			dst = append(dst, '\\', '"')
		case '\n':
			dst = append(dst, '\\', 'n')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
