package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"github.com/dflb/dflb/balancer"
)

// fastBackend is a fasthttp server on a loopback address that a test can
// stop and start again on the same address, as a restarted component does.
type fastBackend struct {
	t      *testing.T
	addr   string
	name   string
	ln     net.Listener
	server *fasthttp.Server
	done   chan error
	// requests counts the requests served, and bodies the request body
	// bytes received, over every start.
	requests atomic.Int64
	bodies   atomic.Int64
}

// startFastBackend serves on addr, or on a free loopback port when addr is
// empty. Each response body is the backend's name.
func startFastBackend(t *testing.T, addr, name string) *fastBackend {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	b := &fastBackend{t: t, addr: addr, name: name}
	b.start()
	t.Cleanup(b.stop)
	return b
}

func (b *fastBackend) start() {
	b.t.Helper()
	ln, err := net.Listen("tcp", b.addr)
	require.NoError(b.t, err)
	b.addr = ln.Addr().String()
	b.ln = ln
	b.server = &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		b.requests.Add(1)
		b.bodies.Add(int64(len(ctx.PostBody())))
		ctx.SetBodyString(b.name)
	}}
	b.done = make(chan error, 1)
	go func() { b.done <- b.server.Serve(ln) }()
}

// stop closes the listener and every connection, so connects are refused.
func (b *fastBackend) stop() {
	if b.server == nil {
		return
	}
	// Shutdown returns at once when Serve has not registered the listener
	// yet, so the listener is closed here first.
	_ = b.ln.Close()
	_ = b.server.Shutdown()
	<-b.done
	b.server = nil
}

// dropper accepts connections and closes each one once a request arrives,
// counting the connections.
type dropper struct {
	addr  string
	conns atomic.Int64
}

func newDropper(t *testing.T) *dropper {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	d := &dropper{addr: ln.Addr().String()}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			d.conns.Add(1)
			go func() {
				buf := make([]byte, 4096)
				_, _ = conn.Read(buf)
				conn.Close()
			}()
		}
	}()
	return d
}

// startTryProxy starts a proxy with TryDuration and the given passive health.
func startTryProxy(t *testing.T, try time.Duration, hc balancer.HealthConfig, instances ...balancer.InstanceSpec) *testProxy {
	t.Helper()
	tp := startProxy(t, Options{TryDuration: try, TryInterval: 50 * time.Millisecond})
	tp.pool = balancer.NewPool(tp.NewTransport, hc, CloseTransport)
	tp.publish(t, instances...)
	return tp
}

type timedResult struct {
	status  int
	body    string
	header  http.Header
	elapsed time.Duration
}

// sendAsync sends req in the background and returns the result on the channel.
func sendAsync(t *testing.T, req *http.Request) <-chan timedResult {
	t.Helper()
	out := make(chan timedResult, 1)
	go func() {
		start := time.Now()
		resp, err := testClient.Do(req)
		if err != nil {
			t.Errorf("request failed: %v", err)
			out <- timedResult{}
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		out <- timedResult{resp.StatusCode, string(body), resp.Header, time.Since(start)}
	}()
	return out
}

func newGet(t *testing.T, proxyAddr, host string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+proxyAddr+"/", nil)
	require.NoError(t, err)
	req.Host = host
	return req
}

func newPost(t *testing.T, proxyAddr, host, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+proxyAddr+"/", strings.NewReader(body))
	require.NoError(t, err)
	req.Host = host
	return req
}

func receive(t *testing.T, results <-chan timedResult) timedResult {
	t.Helper()
	select {
	case r := <-results:
		return r
	case <-time.After(15 * time.Second):
		t.Fatal("no response within 15s")
		return timedResult{}
	}
}

func TestTryDurationWaitsForRestart(t *testing.T) {
	backend := startFastBackend(t, "", "restarted")
	health := balancer.HealthConfig{Failures: 3, Cooloff: 100 * time.Millisecond}
	tp := startTryProxy(t, 3*time.Second, health, instance("i1", backend.addr, "acme"))
	status, _, _ := get(t, tp.addr, "acme.apps.test", "/")
	require.Equal(t, http.StatusOK, status)

	backend.stop()
	results := sendAsync(t, newGet(t, tp.addr, "acme.apps.test"))
	time.Sleep(300 * time.Millisecond)
	backend.start()

	r := receive(t, results)
	assert.Equal(t, http.StatusOK, r.status, r.body)
	assert.Equal(t, "restarted", r.body)
	assert.GreaterOrEqual(t, r.elapsed, 250*time.Millisecond, "the request waited for the restart")
	t.Logf("answered after %s", r.elapsed)
}

func TestTryDurationUsesSwappedTable(t *testing.T) {
	live := startFastBackend(t, "", "new instance")
	health := balancer.HealthConfig{Failures: 1, Cooloff: time.Minute}
	tp := startTryProxy(t, 3*time.Second, health, instance("i1", refusedAddr(t), "acme"))

	results := sendAsync(t, newGet(t, tp.addr, "acme.apps.test"))
	time.Sleep(200 * time.Millisecond)
	tp.publish(t, instance("i2", live.addr, "acme"))

	r := receive(t, results)
	assert.Equal(t, http.StatusOK, r.status, r.body)
	assert.Equal(t, "new instance", r.body)
	assert.Less(t, r.elapsed, 2*time.Second, "the request used the new route before its deadline")
}

func TestTryDurationTenantRemoved(t *testing.T) {
	other := startFastBackend(t, "", "other")
	health := balancer.HealthConfig{Failures: 1, Cooloff: time.Minute}
	tp := startTryProxy(t, 3*time.Second, health, instance("i1", refusedAddr(t), "acme"))

	results := sendAsync(t, newGet(t, tp.addr, "acme.apps.test"))
	time.Sleep(200 * time.Millisecond)
	tp.publish(t, instance("i2", other.addr, "globex"))

	r := receive(t, results)
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, "unknown tenant \"acme\"\n", r.body)
	assert.Less(t, r.elapsed, 2*time.Second, "the wait ends when the tenant leaves the table")
	assert.Zero(t, other.requests.Load())
}

func TestTryDurationExpires(t *testing.T) {
	const try = 500 * time.Millisecond
	cases := []struct {
		name   string
		health balancer.HealthConfig
		status int
	}{
		{"backend marked down", balancer.HealthConfig{Failures: 1, Cooloff: time.Minute}, http.StatusServiceUnavailable},
		{"connect refused", balancer.HealthConfig{}, http.StatusBadGateway},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tp := startTryProxy(t, try, tc.health, instance("i1", refusedAddr(t), "acme"))

			r := receive(t, sendAsync(t, newGet(t, tp.addr, "acme.apps.test")))
			assert.Equal(t, tc.status, r.status, r.body)
			assert.GreaterOrEqual(t, r.elapsed, try)
			assert.Less(t, r.elapsed, try+time.Second)
			assert.Contains(t, r.body, `tenant "acme"`)
			if tc.status == http.StatusServiceUnavailable {
				assert.Equal(t, "1", r.header.Get("Retry-After"))
			}
		})
	}
}

func TestTryDurationPostAfterRefusal(t *testing.T) {
	cases := []struct {
		name string
		body string
	}{
		{"read whole", "payload"},
		{"streamed", strings.Repeat("x", 2*DefaultStreamThreshold)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			backend := startFastBackend(t, "", "restarted")
			addr := backend.addr
			backend.stop()
			tp := startTryProxy(t, 3*time.Second, balancer.HealthConfig{}, instance("i1", addr, "acme"))

			results := sendAsync(t, newPost(t, tp.addr, "acme.apps.test", tc.body))
			time.Sleep(300 * time.Millisecond)
			backend.start()

			r := receive(t, results)
			assert.Equal(t, http.StatusOK, r.status, "a refused connect never reached the backend, so a POST may be retried")
			assert.Equal(t, int64(1), backend.requests.Load(), "the POST arrived once")
			assert.Equal(t, int64(len(tc.body)), backend.bodies.Load(), "with its whole body")
		})
	}
}

func TestTryDurationPostNotRetriedAfterDrop(t *testing.T) {
	d := newDropper(t)
	tp := startTryProxy(t, 2*time.Second, balancer.HealthConfig{}, instance("i1", d.addr, "acme"))

	r := receive(t, sendAsync(t, newPost(t, tp.addr, "acme.apps.test", "payload")))
	assert.Equal(t, http.StatusBadGateway, r.status, r.body)
	assert.Equal(t, int64(1), d.conns.Load(), "the backend may have received the POST, so it is not sent again")
	assert.Less(t, r.elapsed, time.Second, "no waiting for a request that cannot be retried")
}

func TestTryDurationGetRetriedAfterDrop(t *testing.T) {
	const try = 600 * time.Millisecond
	d := newDropper(t)
	tp := startTryProxy(t, try, balancer.HealthConfig{}, instance("i1", d.addr, "acme"))

	r := receive(t, sendAsync(t, newGet(t, tp.addr, "acme.apps.test")))
	assert.Equal(t, http.StatusBadGateway, r.status, r.body)
	assert.GreaterOrEqual(t, r.elapsed, try)
	// The transport retries a dropped idempotent request once on a new
	// connection, so each round costs two connections.
	assert.Greater(t, d.conns.Load(), int64(4), "an idempotent request is retried in every round")
}

func TestTryDurationStopsOnShutdown(t *testing.T) {
	health := balancer.HealthConfig{Failures: 1, Cooloff: time.Minute}
	tp := startTryProxy(t, 30*time.Second, health, instance("i1", refusedAddr(t), "acme"))

	results := sendAsync(t, newGet(t, tp.addr, "acme.apps.test"))
	time.Sleep(200 * time.Millisecond)

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, tp.Shutdown(ctx))
	assert.Less(t, time.Since(start), 2*time.Second, "the drain does not wait for TryDuration")

	r := receive(t, results)
	assert.Equal(t, http.StatusServiceUnavailable, r.status, r.body)
	assert.Less(t, r.elapsed, 3*time.Second)
}

func TestTryDurationOptionsValidated(t *testing.T) {
	_, err := New(Options{TryDuration: -time.Second}, testExtractor(t), &balancer.Router{}, nil)
	assert.ErrorContains(t, err, "try duration -1s is negative")

	_, err = New(Options{TryInterval: time.Microsecond}, testExtractor(t), &balancer.Router{}, nil)
	assert.ErrorContains(t, err, "try interval 1µs is below 1ms")

	p, err := New(Options{}, testExtractor(t), &balancer.Router{}, nil)
	require.NoError(t, err)
	assert.Equal(t, DefaultTryInterval, p.opts.TryInterval)
	assert.Zero(t, p.opts.TryDuration, "no waiting unless configured")
}
