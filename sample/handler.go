package sample

import (
	"fmt"
	"time"

	"github.com/valyala/fasthttp"
)

// TenantHeader is the request header that names the tenant. DFLB always sets it.
const TenantHeader = "X-Tenant-ID"

// Limits of the query parameters.
const (
	MaxSize   = 16 << 20 // bytes, for ?size
	MaxMillis = 60_000   // milliseconds, for ?work and ?sleep
)

const (
	contentTypeText = "text/plain; charset=utf-8"
	contentTypeJSON = "application/json"
)

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	if string(ctx.Path()) == "/healthz" {
		ctx.SetContentType(contentTypeText)
		ctx.SetBodyString("ok")
		return
	}

	tenant := ctx.Request.Header.Peek(TenantHeader)
	if len(tenant) == 0 {
		s.logReject(ctx, fasthttp.StatusBadRequest, "missing "+TenantHeader+" header")
		replyText(ctx, fasthttp.StatusBadRequest, "missing "+TenantHeader+" header\n")
		return
	}
	if !s.tenants.Load().contains(tenant) {
		s.logReject(ctx, fasthttp.StatusMisdirectedRequest, "tenant not served")
		replyText(ctx, fasthttp.StatusMisdirectedRequest,
			fmt.Sprintf("tenant %q is not served by instance %q\n", cut(string(tenant)), s.instance))
		return
	}

	if string(ctx.Path()) == "/ws" {
		s.serveWebSocket(ctx)
		return
	}

	switch string(ctx.Method()) {
	case fasthttp.MethodPost, fasthttp.MethodPut, fasthttp.MethodPatch:
		echoBody(ctx)
	default:
		s.describe(ctx, tenant)
	}
}

// describe responds with a JSON document naming the instance, component,
// tenant, method and request URI, after ?sleep and ?work, padded to ?size.
func (s *Server) describe(ctx *fasthttp.RequestCtx, tenant []byte) {
	params, err := parseParams(ctx.QueryArgs())
	if err != nil {
		s.logReject(ctx, fasthttp.StatusBadRequest, err.Error())
		replyText(ctx, fasthttp.StatusBadRequest, err.Error()+"\n")
		return
	}

	// A request in flight completes even while the server shuts down: the
	// shutdown grace period bounds how long that may take.
	if params.sleep > 0 {
		time.Sleep(params.sleep)
	}
	if params.work > 0 {
		s.burned.Add(burnCPU(params.work))
	}

	ctx.SetContentType(contentTypeJSON)
	var scratch [512]byte
	doc := appendDocument(scratch[:0], document{
		instance:  s.instance,
		component: s.component,
		tenant:    tenant,
		method:    ctx.Method(),
		path:      ctx.RequestURI(),
	})
	writePadded(&ctx.Response, doc, params.size)
}

// echoBody streams the request body back as the response body, so memory use
// does not grow with the upload.
func echoBody(ctx *fasthttp.RequestCtx) {
	contentType := ctx.Request.Header.ContentType()
	if len(contentType) == 0 {
		ctx.SetContentType("application/octet-stream")
	} else {
		ctx.Response.Header.SetContentTypeBytes(contentType)
	}

	body := ctx.RequestBodyStream()
	if body == nil {
		ctx.SetBody(nil)
		return
	}
	// A length of -1, for a chunked request, makes the response chunked too.
	ctx.SetBodyStream(body, ctx.Request.Header.ContentLength())
}

// logReject logs a rejected request, at most once a second, with the number
// of rejections left out since the last line.
func (s *Server) logReject(ctx *fasthttp.RequestCtx, status int, reason string) {
	ok, suppressed := s.rejectLog.allow(time.Now())
	if !ok {
		return
	}
	s.logger.Warn("request rejected", "status", status, "reason", reason,
		"tenant", cut(string(ctx.Request.Header.Peek(TenantHeader))),
		"uri", cut(string(ctx.RequestURI())), "remote", ctx.RemoteAddr().String(),
		"not_logged_since_last", suppressed)
}

func replyText(ctx *fasthttp.RequestCtx, status int, body string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType(contentTypeText)
	ctx.SetBodyString(body)
}

// burnCPU keeps one core busy for d.
func burnCPU(d time.Duration) uint64 {
	deadline := time.Now().Add(d)
	x := uint64(1)
	for time.Now().Before(deadline) {
		for range 1000 {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	return x
}
