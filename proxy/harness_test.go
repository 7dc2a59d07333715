package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"github.com/dflb/dflb/balancer"
	"github.com/dflb/dflb/tenant"
)

// testProxy is a running proxy on a loopback port with its routing parts.
type testProxy struct {
	*Proxy
	addr   string
	router *balancer.Router
	pool   *balancer.Pool
	stats  *balancer.Stats
}

func testExtractor(t *testing.T) *tenant.Extractor {
	t.Helper()
	e, err := tenant.New(tenant.Config{
		Rules: []tenant.Rule{
			{Host: "{tenant}.apps.test"},
			{Path: "/t/{tenant}/", Strip: true},
			{Header: HeaderTenant},
		},
		Components: []string{"app"},
	})
	require.NoError(t, err)
	return e
}

// startProxy serves a proxy for instances on 127.0.0.1 and stops it when the
// test ends.
func startProxy(t *testing.T, opts Options, instances ...balancer.InstanceSpec) *testProxy {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}

	tp := &testProxy{router: &balancer.Router{}, stats: balancer.NewStats()}
	p, err := New(opts, testExtractor(t), tp.router, logger)
	require.NoError(t, err)
	tp.Proxy = p
	tp.pool = balancer.NewPool(p.NewTransport, balancer.HealthConfig{Failures: 3, Cooloff: 10 * time.Second}, CloseTransport)
	tp.publish(t, instances...)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	tp.addr = ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- p.Serve(ln) }()
	t.Cleanup(func() {
		// An error here means that a test left a connection open past
		// the grace period, which Shutdown then closed.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.Shutdown(ctx)
		<-done
	})
	return tp
}

func (tp *testProxy) publish(t *testing.T, instances ...balancer.InstanceSpec) {
	t.Helper()
	table, err := tp.pool.Build(instances, tp.stats)
	require.NoError(t, err)
	tp.router.Store(table)
	tp.pool.Prune(table)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// instance returns a spec serving tenants on one backend address.
func instance(id, addr string, tenants ...string) balancer.InstanceSpec {
	return balancer.InstanceSpec{ID: id, Components: map[string]string{"app": addr}, Tenants: tenants}
}

// recorder is a loopback backend that keeps a copy of each request it got.
type recorder struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*http.Request
	bodies   []string
	conns    atomic.Int64 // connections accepted
}

func newRecorder(t *testing.T, handler http.HandlerFunc) *recorder {
	t.Helper()
	r := &recorder{}
	r.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.requests = append(r.requests, req.Clone(req.Context()))
		r.bodies = append(r.bodies, string(body))
		r.mu.Unlock()
		if handler != nil {
			handler(w, req)
			return
		}
		fmt.Fprintf(w, "tenant=%s uri=%s", req.Header.Get(HeaderTenant), req.RequestURI)
	}))
	r.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			r.conns.Add(1)
		}
	}
	r.Start()
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) addr() string { return r.Listener.Addr().String() }

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.requests)
}

func (r *recorder) last(t *testing.T) *http.Request {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.NotEmpty(t, r.requests, "backend received no request")
	return r.requests[len(r.requests)-1]
}

// rawConn is a client connection that sends bytes as written and parses
// responses with fasthttp, for cases that clients libraries would normalize.
type rawConn struct {
	net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return &rawConn{Conn: conn, br: bufio.NewReader(conn)}
}

// roundTrip writes raw and reads one response; head requests must set skipBody.
func (c *rawConn) roundTrip(t *testing.T, raw string, skipBody bool) *fasthttp.Response {
	t.Helper()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err := io.WriteString(c, raw)
	require.NoError(t, err)
	resp := &fasthttp.Response{SkipBody: skipBody}
	require.NoError(t, resp.Read(c.br))
	return resp
}

// closed reports whether the peer closed the connection within a second.
func (c *rawConn) closed() bool {
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	_, err := c.br.ReadByte()
	return err == io.EOF
}

// get sends a GET for host and uri through a fresh net/http request.
func get(t *testing.T, proxyAddr, host, uri string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+proxyAddr+uri, nil)
	require.NoError(t, err)
	req.Host = host
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, string, http.Header) {
	t.Helper()
	resp, err := testClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body), resp.Header
}

var testClient = &http.Client{Timeout: 20 * time.Second}

// refusedAddr returns a loopback address where nothing listens.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func deadline() time.Time { return time.Now().Add(10 * time.Second) }
