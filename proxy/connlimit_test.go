package proxy

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/balancer"
)

const rawGet = "GET / HTTP/1.1\r\nHost: acme.apps.test\r\n\r\n"

func TestMaxConnsRejectsOverCap(t *testing.T) {
	backend := newRecorder(t, nil)
	tp := startProxy(t, Options{MaxConns: 2}, instance("i1", backend.addr(), "acme"))

	first := dialRaw(t, tp.addr)
	second := dialRaw(t, tp.addr)
	for _, c := range []*rawConn{first, second} {
		resp := c.roundTrip(t, rawGet, false)
		require.Equal(t, http.StatusOK, resp.StatusCode())
	}

	third := dialRaw(t, tp.addr)
	resp := third.roundTrip(t, rawGet, false)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode())
	assert.Equal(t, "too many connections\n", string(resp.Body()))
	assert.Equal(t, "1", string(resp.Header.Peek("Retry-After")))
	assert.True(t, resp.ConnectionClose())
	assert.True(t, third.closed(), "the proxy closes a rejected connection")
	assert.Equal(t, 2, backend.count(), "a rejected connection never reaches a backend")

	metrics := scrape(tp)
	assert.Contains(t, metrics, "dflb_proxy_connections 2\n")
	assert.Contains(t, metrics, "dflb_proxy_connections_rejected_total 1\n")

	require.NoError(t, first.Close())
	require.Eventually(t, func() bool { return tp.conns.open.Load() == 1 }, 5*time.Second, 5*time.Millisecond,
		"a closed connection frees its slot")
	fourth := dialRaw(t, tp.addr)
	resp = fourth.roundTrip(t, rawGet, false)
	assert.Equal(t, http.StatusOK, resp.StatusCode(), "a freed slot takes a new connection")

	resp = second.roundTrip(t, rawGet, false)
	assert.Equal(t, http.StatusOK, resp.StatusCode(), "connections within the cap keep working")
}

func TestMaxConnsNetHTTPClientReads503(t *testing.T) {
	backend := newRecorder(t, nil)
	tp := startProxy(t, Options{MaxConns: 1}, instance("i1", backend.addr(), "acme"))
	first := dialRaw(t, tp.addr)
	require.Equal(t, http.StatusOK, first.roundTrip(t, rawGet, false).StatusCode())

	// A POST with a body that the proxy never reads must still get the 503
	// rather than a reset.
	for i := range 5 {
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		req := newPost(t, tp.addr, "acme.apps.test", "payload that nobody reads")
		resp, err := client.Do(req)
		require.NoError(t, err, "request %d", i)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "request %d", i)
		assert.Equal(t, "too many connections\n", string(body))
	}
	assert.Equal(t, uint64(5), tp.conns.rejected.Load())
}

func TestMaxConnsOffByDefault(t *testing.T) {
	p, err := New(Options{}, testExtractor(t), &balancer.Router{}, nil)
	require.NoError(t, err)
	assert.Nil(t, p.conns, "no cap and no listener wrapper unless MaxConns is set")
	assert.NotContains(t, scrapeProxy(p), "dflb_proxy_connections")

	_, err = New(Options{MaxConns: -1}, testExtractor(t), &balancer.Router{}, nil)
	assert.ErrorContains(t, err, "max conns -1 is negative")
}
