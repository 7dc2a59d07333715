package proxy

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
)

// limitedReader passes a streamed request body through until remaining
// bytes have gone by, then fails with errBodyTooLarge. fasthttp does not
// enforce MaxRequestBodySize on streamed bodies of unknown length.
type limitedReader struct {
	r         io.Reader
	remaining int64
}

func (l *limitedReader) Read(b []byte) (int, error) {
	if l.remaining <= 0 {
		// One more byte decides between a body of exactly the limit and a
		// longer one.
		var probe [1]byte
		n, err := l.r.Read(probe[:])
		if n > 0 {
			return 0, errBodyTooLarge
		}
		return 0, err
	}
	if int64(len(b)) > l.remaining {
		b = b[:l.remaining]
	}
	n, err := l.r.Read(b)
	l.remaining -= int64(n)
	return n, err
}

// handleParseError responds to requests that fasthttp could not parse, with the
// same short bodies as every other rejection.
func (p *Proxy) handleParseError(ctx *fasthttp.RequestCtx, err error) {
	status := fasthttp.StatusBadRequest
	body := "malformed request"
	switch {
	case isTimeout(err):
		status, body = fasthttp.StatusRequestTimeout, "request read timed out"
	case err == fasthttp.ErrBodyTooLarge:
		status, body = fasthttp.StatusRequestEntityTooLarge, "request body too large"
	case isSmallBuffer(err):
		status, body = fasthttp.StatusRequestHeaderFieldsTooLarge, "request header too large"
	}
	ctx.Response.Reset()
	ctx.Response.SetStatusCode(status)
	ctx.Response.Header.SetContentType("text/plain; charset=utf-8")
	ctx.Response.SetBodyString(body + "\n")
	ctx.Response.SetConnectionClose()
	p.rejected.add(status)
}

// rejectCounters counts requests that the proxy responded to itself, by status.
// They are not per tenant: most have no valid tenant to count under.
type rejectCounters struct {
	byStatus [len(rejectStatuses)]atomic.Uint64
}

// rejectStatuses lists the statuses that rejectCounters tracks, in order.
var rejectStatuses = [...]int{400, 404, 413, 429, 431, 502, 503}

func (r *rejectCounters) add(status int) {
	for i, s := range rejectStatuses {
		if s == status {
			r.byStatus[i].Add(1)
			return
		}
	}
}

// logLimiter lets through at most perSecond log lines each second and counts
// the rest, so a backend outage at full request rate does not flood the log.
type logLimiter struct {
	perSecond  int64
	second     atomic.Int64
	count      atomic.Int64
	suppressed atomic.Int64
}

// allow reports whether a line may be logged now, and how many were
// suppressed since the last one let through.
func (l *logLimiter) allow(now time.Time) (bool, int64) {
	sec := now.Unix()
	if l.second.Load() != sec {
		l.second.Store(sec)
		l.count.Store(0)
	}
	if l.count.Add(1) > l.perSecond {
		l.suppressed.Add(1)
		return false, 0
	}
	return true, l.suppressed.Swap(0)
}

// WritePrometheus writes the proxy's own counters: requests it responded to
// without a backend, by status, open and rejected client connections when
// MaxConns is set, and the state of tenant limits (see writeTenantLimits).
//
// Sample lines are written directly: metrics.WriteCounterUint64 repeats
// HELP and TYPE for every series when metadata is on, and Prometheus
// rejects a family whose TYPE appears twice.
func (p *Proxy) WritePrometheus(w io.Writer) {
	metrics.WriteMetadataIfNeeded(w, "dflb_proxy_rejected_total", "counter")
	for i, status := range rejectStatuses {
		fmt.Fprintf(w, "dflb_proxy_rejected_total{code=\"%d\"} %d\n", status, p.rejected.byStatus[i].Load())
	}
	metrics.WriteMetadataIfNeeded(w, "dflb_websocket_tunnels", "gauge")
	fmt.Fprintf(w, "dflb_websocket_tunnels %d\n", p.tunnels.count())
	if p.conns != nil {
		metrics.WriteMetadataIfNeeded(w, "dflb_proxy_connections", "gauge")
		fmt.Fprintf(w, "dflb_proxy_connections %d\n", max(p.conns.open.Load(), 0))
		metrics.WriteMetadataIfNeeded(w, "dflb_proxy_connections_rejected_total", "counter")
		fmt.Fprintf(w, "dflb_proxy_connections_rejected_total %d\n", p.conns.rejected.Load())
	}
	p.writeTenantLimits(w)
}
