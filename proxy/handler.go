package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dflb/dflb/balancer"
	"github.com/dflb/dflb/tenant"
)

// handle serves one request: find the tenant, look up its route, forward,
// count. Every early return responds to the client with a short text body.
func (p *Proxy) handle(ctx *fasthttp.RequestCtx) {
	if err := p.checkFraming(ctx); err != nil {
		p.fail(ctx, err, "")
		return
	}

	var res tenant.Result
	uri := ctx.Request.Header.RequestURI()
	if err := p.extractor.Load().Extract(ctx.Request.Header.Host(), requestPath(uri), &ctx.Request.Header, &res); err != nil {
		p.fail(ctx, err, err.Error())
		return
	}

	route, err := p.router.Load().Lookup(res.Tenant(), res.Component)
	if err != nil {
		// Copies keep res, which holds the tenant ID buffer, on the stack.
		p.fail(ctx, err, routeErrorBody(err, string(res.Tenant()), strings.Clone(res.Component)))
		return
	}

	shard := ctx.ConnID()
	route.Stats.Start(shard)
	limiter := p.limiterOf(route.Tenant)
	if limiter != nil {
		retryAfter, err := limiter.admit(ctx, ctx.Time(), p.opts.TenantQueueTimeout)
		if err != nil {
			f := p.rejectLimited(ctx, route, err, retryAfter)
			route.Stats.Done(shard, f.class, requestBytes(ctx), 0, time.Since(ctx.Time()))
			return
		}
	}

	// forward takes the tenant from route, because res.Tenant may alias the
	// request path, which forwarding rewrites.
	class, bytesOut, elapsed := p.forward(ctx, route, res.StripLen, shard)
	if limiter != nil {
		// NOTE: a streamed response body is still being sent to the client
		// after this point, so the slot covers the wait for the backend's
		// response head, not the whole download.
		limiter.release()
	}
	route.Stats.Done(shard, class, requestBytes(ctx), bytesOut, elapsed)
}

// routeErrorBody names the tenant, or the tenant and component, that has no
// route. Both are validated names, so they are safe to echo.
func routeErrorBody(err error, tenantID, component string) string {
	if errors.Is(err, balancer.ErrUnknownTenant) {
		return fmt.Sprintf("unknown tenant %q", tenantID)
	}
	return fmt.Sprintf("tenant %q has no component %q", tenantID, component)
}

// checkFraming rejects what fasthttp accepts but a proxy must not forward:
// a body larger than MaxBodyBytes announced up front, and a request with both
// Content-Length and Transfer-Encoding. RFC 9112 section 6.3 lets a server
// process the latter by Transfer-Encoding, and fasthttp does, but a proxy
// that forwards it invites request smuggling, so it gets 400.
func (p *Proxy) checkFraming(ctx *fasthttp.RequestCtx) error {
	length := ctx.Request.Header.ContentLength()
	if int64(length) > p.opts.MaxBodyBytes {
		return errBodyTooLarge
	}
	if length == -1 && hasRawField(ctx.Request.Header.RawHeaders(), fasthttp.HeaderContentLength) {
		return errAmbiguousFraming
	}
	return nil
}

var errAmbiguousFraming = errors.New("proxy: request has both Content-Length and Transfer-Encoding")

// hasRawField reports whether the raw header block contains a field named name.
func hasRawField(raw []byte, name string) bool {
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			continue
		}
		if bytes.EqualFold(bytes.TrimSpace(line[:colon]), []byte(name)) {
			return true
		}
	}
	return false
}

// forward rewrites the request for the backend and sends it to one of the
// route's targets. An idempotent request goes to another target when the
// first could not be reached or dropped the connection. With TryDuration
// set, a request that found no backend or could not reach one tries again
// until TryDuration after its arrival. The backend's response, or an error
// response, is left in ctx.Response. forward returns the outcome and the
// time since the request arrived.
//
// Time is read as rarely as possible: clock reads showed up in profiles at
// full load. ctx.Time() is the arrival time that fasthttp already took.
func (p *Proxy) forward(ctx *fasthttp.RequestCtx, route *balancer.Route, stripLen int, shard uint64) (balancer.Class, int64, time.Duration) {
	clientClose := ctx.Request.Header.ConnectionClose()
	upgrade := isWebSocketUpgrade(&ctx.Request.Header)
	p.prepareRequest(ctx, route.Tenant, stripLen, upgrade)

	if upgrade {
		class, bytesOut := p.tunnel(ctx, route, shard)
		return class, bytesOut, time.Since(ctx.Time())
	}

	req, release := p.upstreamRequest(ctx)
	defer release()

	start := ctx.Time()
	elapsed, err := p.tryTargets(req, &ctx.Response, route, shard, requestBytes(ctx), start, start.UnixNano())
	if err != nil && p.opts.TryDuration > 0 {
		route, elapsed, err = p.keepTrying(ctx, req, route, shard, err)
	}
	if err != nil {
		detail := fmt.Sprintf("%s for tenant %q", classify(err).body, route.Tenant)
		if errors.Is(err, balancer.ErrUnknownTenant) || errors.Is(err, balancer.ErrUnknownComponent) {
			// The route left the table while the request waited.
			detail = routeErrorBody(err, route.Tenant, route.Component)
		}
		f := p.fail(ctx, err, detail)
		p.logFailure(route, err, f)
		return f.class, 0, time.Since(start)
	}

	stripHopByHop(&ctx.Response.Header, false)
	if clientClose {
		ctx.Response.SetConnectionClose()
	}
	return balancer.StatusClass(ctx.Response.StatusCode()), responseBytes(&ctx.Response), elapsed
}

// prepareRequest applies the header rules to the request in place: remove
// hop-by-hop fields, strip the first stripLen bytes of the path, set the
// forwarding fields, the request ID and the tenant.
func (p *Proxy) prepareRequest(ctx *fasthttp.RequestCtx, tenantID string, stripLen int, upgrade bool) {
	h := &ctx.Request.Header
	stripHopByHop(h, upgrade)

	if stripLen > 0 {
		stripPathPrefix(&ctx.Request, stripLen)
	}
	p.setForwarded(h, peerAddr(ctx))
	p.setRequestID(h)
	h.Set(HeaderTenant, tenantID)

	// fasthttp would otherwise add "Content-Type: application/octet-stream"
	// to a body sent without one.
	h.SetNoDefaultContentType(true)
}

// upstreamRequest returns the request to send. A streamed body of unknown
// length is wrapped in a limit. fasthttp offers no way to wrap the stream of
// the server's own request, so such a request is copied.
func (p *Proxy) upstreamRequest(ctx *fasthttp.RequestCtx) (*fasthttp.Request, func()) {
	if !ctx.Request.IsBodyStream() || ctx.Request.Header.ContentLength() >= 0 {
		return &ctx.Request, func() {}
	}

	out := fasthttp.AcquireRequest()
	ctx.Request.Header.CopyTo(&out.Header)
	out.SetBodyStream(&limitedReader{r: ctx.Request.BodyStream(), remaining: p.opts.MaxBodyBytes}, -1)
	return out, func() { fasthttp.ReleaseRequest(out) }
}

// roundTrip sends req to one target and records the outcome in the target's
// statistics and passive health. It returns the time since start, the
// request's arrival, so that a retried request counts its whole wait.
func (p *Proxy) roundTrip(req *fasthttp.Request, resp *fasthttp.Response, target *balancer.Target, shard uint64, bytesIn int64, start time.Time) (time.Duration, error) {
	backend := target.Backend
	client, ok := backend.Transport.(*fasthttp.HostClient)
	if !ok {
		return 0, fmt.Errorf("proxy: backend %s of instance %s has no transport", backend.Addr, backend.Instance)
	}

	backend.Acquire()
	target.Stats.Start(shard)
	err := client.Do(req, resp)
	backend.Release()
	end := time.Now()
	elapsed := end.Sub(start)

	if err != nil {
		target.Stats.Done(shard, classify(err).class, bytesIn, 0, elapsed)
		if isBackendFailure(err) && backend.ReportFailure(end.UnixNano()) {
			p.log.Warn("backend marked down", "instance", backend.Instance, "component", backend.Component,
				"upstream", backend.Addr, "error", err)
		}
		return elapsed, err
	}

	if backend.ReportSuccess() {
		p.log.Info("backend up", "instance", backend.Instance, "component", backend.Component, "upstream", backend.Addr)
	}
	target.Stats.Done(shard, balancer.StatusClass(resp.StatusCode()), bytesIn, responseBytes(resp), elapsed)
	return elapsed, nil
}

// isBackendFailure reports whether err means the backend is unreachable,
// hung or dropping connections, as opposed to a problem of this one request.
// A pooled connection that the backend had closed is not counted, because
// fasthttp retries it once on a fresh connection before returning an error.
func isBackendFailure(err error) bool {
	return isDialError(err) || isTimeout(err) || isConnectionLost(err)
}

// fail responds to the client with the status that classify assigns to err
// and a one-line body. detail replaces the generic body when set.
func (p *Proxy) fail(ctx *fasthttp.RequestCtx, err error, detail string) failure {
	f := classify(err)
	body := f.body
	if detail != "" {
		body = detail
	}

	ctx.Response.Reset()
	ctx.Response.SetStatusCode(f.status)
	ctx.Response.Header.SetContentType("text/plain; charset=utf-8")
	ctx.Response.SetBodyString(body + "\n")
	switch f.status {
	case fasthttp.StatusServiceUnavailable:
		ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, "1")
	case fasthttp.StatusBadRequest, fasthttp.StatusRequestEntityTooLarge:
		// The rest of the request may still be on the connection, and
		// after a framing error it cannot be distinguished from the next request.
		ctx.Response.SetConnectionClose()
		discardBody(ctx)
	}
	p.rejected.add(f.status)
	return f
}

// maxDiscard bounds how much of a rejected request body is read and thrown
// away before the connection closes. Closing a socket with unread input makes
// the kernel send a reset, so a client still writing its body would lose
// the response. Past this size that happens anyway.
const maxDiscard = 8 << 20

// discardBody reads and drops what is left of a streamed request body, up to
// maxDiscard and within the server's read timeout.
func discardBody(ctx *fasthttp.RequestCtx) {
	if !ctx.Request.IsBodyStream() {
		return
	}
	_, _ = io.CopyN(io.Discard, ctx.RequestBodyStream(), maxDiscard)
}

func (p *Proxy) logFailure(route *balancer.Route, err error, f failure) {
	ok, suppressed := p.failureLog.allow(time.Now())
	if !ok {
		return
	}
	p.log.LogAttrs(context.Background(), slog.LevelWarn, "request failed",
		slog.String("tenant", route.Tenant), slog.String("component", route.Component),
		slog.Int("status", f.status), slog.String("error", err.Error()),
		slog.Int64("suppressed", suppressed))
}

// requestPath returns the path of a request target, without the query, for
// origin-form ("/a?b") and absolute-form ("http://h/a?b") targets.
func requestPath(uri []byte) []byte {
	start, end := pathBounds(uri)
	if start == end {
		return rootPath
	}
	return uri[start:end]
}

// rootPath is the path of a target without one; it is never written to.
var rootPath = []byte("/")

// pathBounds returns where the path of a request target starts and ends.
func pathBounds(uri []byte) (start, end int) {
	if len(uri) > 0 && uri[0] != '/' {
		if i := bytes.Index(uri, []byte("://")); i >= 0 {
			start = len(uri)
			if j := bytes.IndexByte(uri[i+3:], '/'); j >= 0 {
				start = i + 3 + j
			}
		}
	}
	end = len(uri)
	if i := bytes.IndexByte(uri[start:], '?'); i >= 0 {
		end = start + i
	}
	return start, end
}

// stripPathPrefix drops the first n bytes of the request path, keeps the
// query, and makes sure that the result starts with "/".
func stripPathPrefix(req *fasthttp.Request, n int) {
	uri := req.Header.RequestURI()
	start, end := pathBounds(uri)
	if start+n > end {
		return
	}
	rest := uri[start+n:]

	var scratch [512]byte
	out := scratch[:0]
	if len(rest) == 0 || rest[0] != '/' {
		out = append(out, '/')
	}
	out = append(out, rest...)
	// The Request method, unlike the header's, also drops a parsed URI
	// that fasthttp would otherwise write instead.
	req.SetRequestURIBytes(out)
}

func peerAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	if tcp, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		return tcp.AddrPort().Addr().Unmap()
	}
	return netip.IPv4Unspecified()
}

func requestBytes(ctx *fasthttp.RequestCtx) int64 {
	return max(int64(ctx.Request.Header.ContentLength()), 0)
}

// responseBytes is the response body size when the backend announced it.
// NOTE: chunked responses count as zero bytes; counting them would need a
// counting wrapper around the streamed body.
func responseBytes(resp *fasthttp.Response) int64 {
	return max(int64(resp.Header.ContentLength()), 0)
}
