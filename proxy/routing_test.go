package proxy

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/balancer"
)

func TestUnknownTenantNotFound(t *testing.T) {
	backend := newRecorder(t, nil)
	tp := startProxy(t, Options{}, instance("i1", backend.addr(), "acme"))

	status, body, _ := get(t, tp.addr, "initech.apps.test", "/")
	assert.Equal(t, http.StatusNotFound, status)
	assert.Contains(t, body, `"initech"`)
	assert.Zero(t, backend.count())
}

func TestMalformedTenantRejected(t *testing.T) {
	backend := newRecorder(t, nil)
	tp := startProxy(t, Options{}, instance("i1", backend.addr(), "acme"))

	cases := []struct{ name, raw string }{
		{"dots", "GET / HTTP/1.1\r\nHost: ..x.apps.test\r\n\r\n"},
		{"too long", "GET / HTTP/1.1\r\nHost: " + strings.Repeat("a", 64) + ".apps.test\r\n\r\n"},
		{"control character", "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Tenant-ID: ac\x01me\r\n\r\n"},
		{"path dots", "GET /t/..x/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"},
	}
	for _, tc := range cases {
		c := dialRaw(t, tp.addr)
		resp := c.roundTrip(t, tc.raw, false)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode(), tc.name)
		assert.NotContains(t, string(resp.Body()), "\x01", tc.name)
	}
	assert.Zero(t, backend.count())
}

func TestMissingTenantRejected(t *testing.T) {
	backend := newRecorder(t, nil)
	tp := startProxy(t, Options{}, instance("i1", backend.addr(), "acme"))

	status, body, _ := get(t, tp.addr, "127.0.0.1", "/")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, "no tenant")
}

func TestIdempotentRetriedOnRefusedBackend(t *testing.T) {
	live := newRecorder(t, nil)
	dead := refusedAddr(t)
	tp := startProxy(t, Options{Balance: balancer.RoundRobin},
		instance("i1", dead, "acme"), instance("i2", live.addr(), "acme"))

	for i := range 50 {
		status, body, _ := get(t, tp.addr, "acme.apps.test", "/")
		require.Equal(t, http.StatusOK, status, "GET %d: %s", i, body)
	}
	assert.Equal(t, 50, live.count())
}

func TestPostNotRetriedOnRefusedBackend(t *testing.T) {
	live := newRecorder(t, nil)
	dead := refusedAddr(t)
	// Passive health would take the dead backend out after a few failures;
	// a high threshold keeps every POST on the round-robin.
	tp := startProxy(t, Options{Balance: balancer.RoundRobin},
		instance("i1", dead, "acme"), instance("i2", live.addr(), "acme"))
	tp.pool = balancer.NewPool(tp.NewTransport, balancer.HealthConfig{Failures: 1000, Cooloff: time.Second}, CloseTransport)
	tp.publish(t, instance("i1", dead, "acme"), instance("i2", live.addr(), "acme"))

	var ok, badGateway int
	for range 10 {
		req, err := http.NewRequest(http.MethodPost, "http://"+tp.addr+"/", strings.NewReader("payload"))
		require.NoError(t, err)
		req.Host = "acme.apps.test"
		status, _, _ := do(t, req)
		switch status {
		case http.StatusOK:
			ok++
		case http.StatusBadGateway:
			badGateway++
		default:
			t.Fatalf("unexpected status %d", status)
		}
	}
	assert.Equal(t, 5, badGateway, "round robin sends every second POST to the dead backend")
	assert.Equal(t, ok, live.count(), "a failed POST was retried on the live backend")
}

func TestAllBackendsDownUnavailable(t *testing.T) {
	tp := startProxy(t, Options{}, instance("i1", refusedAddr(t), "acme"), instance("i2", refusedAddr(t), "acme"))

	// Connect failures mark both down after three attempts each.
	for range 6 {
		get(t, tp.addr, "acme.apps.test", "/")
	}
	start := time.Now()
	status, body, header := get(t, tp.addr, "acme.apps.test", "/")
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "1", header.Get("Retry-After"))
	assert.Contains(t, body, "no backend")
	assert.Less(t, time.Since(start), time.Second)
}

func TestTableSwapsUnderLoad(t *testing.T) {
	a := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {})
	b := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {})
	tables := [][]balancer.InstanceSpec{
		{instance("i1", a.addr(), "acme", "globex")},
		{instance("i2", b.addr(), "acme", "globex")},
		{instance("i1", a.addr(), "acme"), instance("i2", b.addr(), "acme", "globex")},
	}
	tp := startProxy(t, Options{}, tables[0]...)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			host := []string{"acme.apps.test", "globex.apps.test"}[w%2]
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+tp.addr+"/", nil)
				req.Host = host
				resp, err := testClient.Do(req)
				if ctx.Err() != nil {
					return
				}
				sent.Add(1)
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
					if err == nil {
						resp.Body.Close()
					}
					continue
				}
				resp.Body.Close()
			}
		}()
	}

	for i := range 1000 {
		tp.publish(t, tables[i%len(tables)]...)
		time.Sleep(time.Millisecond)
	}
	cancel()
	wg.Wait()

	t.Logf("requests during 1,000 swaps: %d", sent.Load())
	assert.Greater(t, sent.Load(), int64(100))
	assert.Zero(t, failed.Load(), fmt.Sprintf("%d of %d requests failed during swaps", failed.Load(), sent.Load()))
}

// newDroppingBackend accepts connections and closes each one as soon as a
// request arrives, as an instance that dies mid-request does.
func newDroppingBackend(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 4096)
				_, _ = conn.Read(buf)
				conn.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

func TestIdempotentRetriedWhenBackendDrops(t *testing.T) {
	live := newRecorder(t, nil)
	dropping := newDroppingBackend(t)
	tp := startProxy(t, Options{Balance: balancer.RoundRobin},
		instance("i1", dropping, "acme"), instance("i2", live.addr(), "acme"))

	for i := range 20 {
		status, body, _ := get(t, tp.addr, "acme.apps.test", "/")
		require.Equal(t, http.StatusOK, status, "GET %d: %s", i, body)
	}

	var droppingDown bool
	for _, b := range tp.pool.Backends() {
		if b.Addr == dropping {
			droppingDown = b.Down()
		}
	}
	assert.True(t, droppingDown, "a backend that drops every connection must be taken out of rotation")
}

func TestPostNotRetriedWhenBackendDrops(t *testing.T) {
	live := newRecorder(t, nil)
	dropping := newDroppingBackend(t)
	tp := startProxy(t, Options{Balance: balancer.RoundRobin})
	// A high failure threshold keeps the dropping backend in rotation.
	tp.pool = balancer.NewPool(tp.NewTransport, balancer.HealthConfig{Failures: 1000, Cooloff: time.Second}, CloseTransport)
	tp.publish(t, instance("i1", dropping, "acme"), instance("i2", live.addr(), "acme"))

	var ok, badGateway int
	for range 4 {
		req, err := http.NewRequest(http.MethodPost, "http://"+tp.addr+"/", strings.NewReader("payload"))
		require.NoError(t, err)
		req.Host = "acme.apps.test"
		switch status, _, _ := do(t, req); status {
		case http.StatusOK:
			ok++
		case http.StatusBadGateway:
			badGateway++
		}
	}
	assert.Equal(t, 2, badGateway, "a POST that met the dropping backend must fail, not be sent again")
	assert.Equal(t, ok, live.count())
}
