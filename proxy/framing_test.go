package proxy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestContentLengthWithChunkedRejected(t *testing.T) {
	backend := newRecorder(t, nil)
	tp := startProxy(t, Options{}, instance("i1", backend.addr(), "acme"))

	c := dialRaw(t, tp.addr)
	resp := c.roundTrip(t, "POST / HTTP/1.1\r\nHost: acme.apps.test\r\nContent-Length: 5\r\n"+
		"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", false)

	assert.Equal(t, http.StatusBadRequest, resp.StatusCode())
	assert.Contains(t, string(resp.Body()), "Content-Length and Transfer-Encoding")
	assert.True(t, c.closed(), "the connection must be closed after an ambiguous request")
	assert.Zero(t, backend.count(), "nothing may reach a backend")
}

func TestAnnouncedBodyTooLarge(t *testing.T) {
	backend := newRecorder(t, nil)
	tp := startProxy(t, Options{MaxBodyBytes: 1 << 20}, instance("i1", backend.addr(), "acme"))

	req, err := http.NewRequest(http.MethodPost, "http://"+tp.addr+"/", strings.NewReader(strings.Repeat("a", 2000000)))
	require.NoError(t, err)
	req.Host = "acme.apps.test"
	status, body, _ := do(t, req)
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)
	assert.Contains(t, body, "too large")
	assert.Zero(t, backend.count())
}

func TestChunkedBodyTooLarge(t *testing.T) {
	backend := newRecorder(t, nil)
	tp := startProxy(t, Options{MaxBodyBytes: 64 << 10, StreamThreshold: 4 << 10}, instance("i1", backend.addr(), "acme"))

	req, err := http.NewRequest(http.MethodPost, "http://"+tp.addr+"/", io.LimitReader(zeros{}, 256<<10))
	require.NoError(t, err)
	req.Host = "acme.apps.test"
	req.ContentLength = -1
	status, body, _ := do(t, req)
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)
	assert.Contains(t, body, "too large")
}

func TestHeaderTooLarge(t *testing.T) {
	backend := newRecorder(t, nil)
	tp := startProxy(t, Options{MaxHeaderBytes: 4096}, instance("i1", backend.addr(), "acme"))

	c := dialRaw(t, tp.addr)
	resp := c.roundTrip(t, "GET / HTTP/1.1\r\nHost: acme.apps.test\r\nX-Big: "+strings.Repeat("a", 8000)+"\r\n\r\n", false)
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode())
	assert.Zero(t, backend.count())
}

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

func TestChunkedUpload64MiBStreamed(t *testing.T) {
	const size = 64 << 20
	backend := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {})
	// The recorder reads bodies whole; this backend hashes them instead.
	hasher := newHashingBackend(t)
	tp := startProxy(t, Options{}, instance("i1", hasher.addr(), "acme"))
	_ = backend

	want := sha256.New()
	body := io.TeeReader(io.LimitReader(pattern{}, size), want)

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	req, err := http.NewRequest(http.MethodPut, "http://"+tp.addr+"/upload", body)
	require.NoError(t, err)
	req.Host = "acme.apps.test"
	req.ContentLength = -1 // chunked
	status, got, _ := do(t, req)

	var after runtime.MemStats
	runtime.ReadMemStats(&after)

	require.Equal(t, http.StatusOK, status, got)
	assert.Equal(t, fmt.Sprintf("%d %s", size, hex.EncodeToString(want.Sum(nil))), got)
	// The whole process (client, proxy and backend) allocated far less than
	// the body, so no part of the path held it in memory.
	allocated := after.TotalAlloc - before.TotalAlloc
	assert.Less(t, allocated, uint64(size/4), "allocated %d MiB while streaming 64 MiB", allocated>>20)
}

// pattern is an endless reader of a repeating byte pattern.
type pattern struct{}

func (pattern) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(i * 7)
	}
	return len(b), nil
}

func newHashingBackend(t *testing.T) *recorder {
	t.Helper()
	r := newRecorder(t, nil)
	r.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d %s", n, hex.EncodeToString(h.Sum(nil)))
	})
	return r
}

func TestBackendConnectionCloseKeepsClientConnection(t *testing.T) {
	backend := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "ok")
	})
	tp := startProxy(t, Options{}, instance("i1", backend.addr(), "acme"))

	requests := 10000
	if testing.Short() {
		requests = 1000
	}
	c := dialRaw(t, tp.addr)
	for i := range requests {
		resp := c.roundTrip(t, "GET / HTTP/1.1\r\nHost: acme.apps.test\r\n\r\n", false)
		require.Equal(t, http.StatusOK, resp.StatusCode(), "request %d", i)
		require.False(t, resp.ConnectionClose(), "request %d: the backend's Connection: close reached the client", i)
		require.Equal(t, "ok", string(resp.Body()))
	}
	assert.Equal(t, requests, backend.count())
}

func TestHeadKeepsContentLength(t *testing.T) {
	backend := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		if r.Method != http.MethodHead {
			io.WriteString(w, strings.Repeat("x", 1000))
		}
	})
	tp := startProxy(t, Options{}, instance("i1", backend.addr(), "acme"))

	c := dialRaw(t, tp.addr)
	head := c.roundTrip(t, "HEAD / HTTP/1.1\r\nHost: acme.apps.test\r\n\r\n", true)
	require.Equal(t, http.StatusOK, head.StatusCode())
	assert.Equal(t, "1000", string(head.Header.Peek("Content-Length")))
	assert.Empty(t, head.Body())

	next := c.roundTrip(t, "GET / HTTP/1.1\r\nHost: acme.apps.test\r\n\r\n", false)
	require.Equal(t, http.StatusOK, next.StatusCode())
	assert.Len(t, next.Body(), 1000)
}

func TestSlowBackendTimesOut(t *testing.T) {
	backend := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	})
	tp := startProxy(t, Options{ResponseHeaderTimeout: 300 * time.Millisecond}, instance("i1", backend.addr(), "acme"))

	start := time.Now()
	status, body, _ := get(t, tp.addr, "acme.apps.test", "/")
	assert.Equal(t, http.StatusGatewayTimeout, status)
	assert.Contains(t, body, "timed out")
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Equal(t, 1, backend.count(), "a timed-out request must not be retried")
}

func TestStreamedResponseOutlivesReadTimeout(t *testing.T) {
	// Each chunk arrives within the idle timeout, while the whole response
	// takes longer than it: the read timeout is per read, not per response.
	backend := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {
		for range 6 {
			io.WriteString(w, "tick\n")
			w.(http.Flusher).Flush()
			time.Sleep(100 * time.Millisecond)
		}
	})
	tp := startProxy(t, Options{ResponseHeaderTimeout: 400 * time.Millisecond}, instance("i1", backend.addr(), "acme"))

	status, body, _ := get(t, tp.addr, "acme.apps.test", "/")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, strings.Repeat("tick\n", 6), body)
}

func TestRequestTrailersNotForwarded(t *testing.T) {
	var trailers http.Header
	backend := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		trailers = r.Trailer.Clone()
	})
	tp := startProxy(t, Options{}, instance("i1", backend.addr(), "acme", "globex"))

	c := dialRaw(t, tp.addr)
	resp := c.roundTrip(t, "POST / HTTP/1.1\r\nHost: acme.apps.test\r\nTransfer-Encoding: chunked\r\n"+
		"Trailer: X-Tenant-ID, X-Sig\r\n\r\n5\r\nhello\r\n0\r\nX-Tenant-ID: globex\r\nX-Sig: abc\r\n\r\n", false)
	require.Equal(t, http.StatusOK, resp.StatusCode())
	assert.Empty(t, trailers, "request trailers must not reach the backend")
	assert.Equal(t, "acme", backend.last(t).Header.Get(HeaderTenant))
	assert.Equal(t, "hello", backend.bodies[0])
}

func TestTrailerCannotNameTenant(t *testing.T) {
	backend := newRecorder(t, nil)
	tp := startProxy(t, Options{}, instance("i1", backend.addr(), "acme", "globex"))

	// RFC 9110 section 6.5.1: trailer fields must not decide routing.
	c := dialRaw(t, tp.addr)
	resp := c.roundTrip(t, "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"+
		"Trailer: X-Tenant-ID\r\n\r\n5\r\nhello\r\n0\r\nX-Tenant-ID: globex\r\n\r\n", false)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode())
	assert.Zero(t, backend.count())
}
