package alert

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/internal/testutil"
)

// fakeClock is a Clock that moves only when a test advances it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 5, 4, 21, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// request is one request that a receiver accepted.
type request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// receiver is an HTTP server on loopback that records the requests it
// accepts. It can respond to the first requests with an error status.
type receiver struct {
	srv *httptest.Server

	mu         sync.Mutex
	failFirst  int // number of requests to respond to with failStatus
	failStatus int
	attempts   int
	accepted   []request
	hold       chan struct{} // when not nil, each request waits for a value
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// newReceiverAt starts a receiver on addr, an address that reserveAddr
// returned earlier.
func newReceiverAt(t *testing.T, addr string) *receiver {
	t.Helper()
	r := &receiver{}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	r.srv.Listener.Close()
	r.srv.Listener = ln
	r.srv.Start()
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) url() string { return r.srv.URL }

func (r *receiver) failNext(n, status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failFirst = n
	r.failStatus = status
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)

	r.mu.Lock()
	hold := r.hold
	r.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-req.Context().Done():
			return
		}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts++
	if r.failFirst > 0 {
		r.failFirst--
		http.Error(w, "receiver failing on purpose", r.failStatus)
		return
	}
	r.accepted = append(r.accepted, request{Method: req.Method, Path: req.URL.Path, Header: req.Header.Clone(), Body: body})
	w.WriteHeader(http.StatusOK)
}

func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.accepted...)
}

// webhookBodies decodes the accepted webhook bodies.
func (r *receiver) webhookBodies(t *testing.T) []Notification {
	t.Helper()
	var list []Notification
	for _, req := range r.requests() {
		var n Notification
		require.NoError(t, json.Unmarshal(req.Body, &n), "body %s", req.Body)
		list = append(list, n)
	}
	return list
}

// reserveAddr returns a loopback address that nothing listens on now.
func reserveAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// testConfig returns the default configuration with a short check interval.
func testConfig(sinks ...SinkConfig) Config {
	cfg := DefaultConfig()
	cfg.CheckInterval = 10 * time.Millisecond
	cfg.Sinks = sinks
	return cfg
}

// testSink returns a sink configuration with short waits: up to 100
// attempts 5 to 20 ms apart, a retry budget of about 2 s.
func testSink(name, kind, url string) SinkConfig {
	s := DefaultSinkConfig()
	s.Name = name
	s.Kind = kind
	s.URL = url
	s.Timeout = 2 * time.Second
	s.MaxAttempts = 100
	s.RetryWaitMin = 5 * time.Millisecond
	s.RetryWaitMax = 20 * time.Millisecond
	return s
}

// recorder collects what the hooks receive.
type recorder struct {
	mu            sync.Mutex
	notifications []Notification
	deliveries    []Delivery
}

func (r *recorder) notify(n Notification) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notifications = append(r.notifications, n)
}

func (r *recorder) deliver(d Delivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deliveries = append(r.deliveries, d)
}

func (r *recorder) sent() []Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Notification(nil), r.notifications...)
}

func (r *recorder) delivered() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Delivery(nil), r.deliveries...)
}

// statuses returns "status rule/key" of each notification, for asserting
// order.
func statuses(ns []Notification) []string {
	list := make([]string, 0, len(ns))
	for _, n := range ns {
		list = append(list, string(n.Status)+" "+string(n.Rule)+"/"+n.Key)
	}
	return list
}

// newTestManager returns a Manager that logs at debug level into the
// returned buffer and reports to the returned recorder.
func newTestManager(t *testing.T, cfg Config, opts ...Option) (*Manager, *recorder, *testutil.LogBuffer) {
	t.Helper()
	logs := &testutil.LogBuffer{}
	rec := &recorder{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	all := append([]Option{WithLogger(logger), WithNotifyHook(rec.notify), WithDeliveryHook(rec.deliver)}, opts...)

	m, err := New(cfg, all...)
	require.NoError(t, err)
	return m, rec, logs
}

// run runs m until the test ends.
func run(t *testing.T, m *Manager) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// flush waits up to 5 s for every sink to empty its queue.
func flush(t *testing.T, m *Manager) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.Zero(t, m.Flush(ctx), "notifications still queued after 5s")
}
