package proxy

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// BenchmarkProxyRoundTrip measures one GET of a 1 KiB response through the
// proxy, with a fasthttp client and backend on loopback in the same process.
func BenchmarkProxyRoundTrip(b *testing.B) {
	body := strings.Repeat("x", 1024)
	backendLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	backend := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString(body) }}
	go backend.Serve(backendLn) //nolint:errcheck // ends with the listener
	defer backend.Shutdown()    //nolint:errcheck

	t := &testing.T{}
	tp := startProxy(t, Options{}, instance("i1", backendLn.Addr().String(), "acme"))
	defer tp.server.Shutdown() //nolint:errcheck

	client := &fasthttp.HostClient{Addr: tp.addr, MaxConns: 64}
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := fasthttp.AcquireRequest()
		resp := fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI("http://acme.apps.test/bench")
		for pb.Next() {
			if err := client.DoTimeout(req, resp, 5*time.Second); err != nil {
				b.Fatal(err)
			}
			if resp.StatusCode() != fasthttp.StatusOK || len(resp.Body()) != len(body) {
				b.Fatalf("status %d, %d body bytes", resp.StatusCode(), len(resp.Body()))
			}
		}
	})
}
