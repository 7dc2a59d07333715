package proxy

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"github.com/dflb/dflb/internal/testutil"
)

func TestDownload64MiBStreamed(t *testing.T) {
	const size = 64 << 20
	backend := downloadBackend(t, size)
	conns := &backend.conns
	tp := startProxy(t, Options{}, instance("i1", backend.addr(), "acme"))

	want := sha256.New()
	io.Copy(want, io.LimitReader(pattern{}, size)) //nolint:errcheck // writes to a hash do not fail

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	got := hashGet(t, tp.addr, "/download")
	runtime.ReadMemStats(&after)

	assert.Equal(t, fmt.Sprintf("%d %s", size, hex.EncodeToString(want.Sum(nil))), got)
	allocated := after.TotalAlloc - before.TotalAlloc
	assert.Less(t, allocated, uint64(size/4), "allocated %d MiB while streaming 64 MiB", allocated>>20)

	// A streamed body read to its end leaves the backend connection
	// reusable, for a short body as for another long one.
	status, body, _ := get(t, tp.addr, "acme.apps.test", "/small")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "small", body)
	assert.Equal(t, fmt.Sprintf("%d %s", size, hex.EncodeToString(want.Sum(nil))), hashGet(t, tp.addr, "/download"))
	assert.Equal(t, int64(1), conns.Load(), "backend connections opened")
}

// downloadBackend serves size bytes of pattern with a Content-Length at any
// path but /small, which gets the body "small".
func downloadBackend(t *testing.T, size int) *recorder {
	t.Helper()
	return newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/small" {
			io.WriteString(w, "small")
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(size))
		io.Copy(w, io.LimitReader(pattern{}, int64(size))) //nolint:errcheck // clients check the body or hang up midway
	})
}

// hashGet downloads uri of tenant acme through the proxy and returns the
// body's length and SHA-256.
func hashGet(t *testing.T, proxyAddr, uri string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+proxyAddr+uri, nil)
	require.NoError(t, err)
	req.Host = "acme.apps.test"
	resp, err := testClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	require.NoError(t, err)
	return fmt.Sprintf("%d %s", n, hex.EncodeToString(h.Sum(nil)))
}

func TestChunkedResponseArrivesAsSent(t *testing.T) {
	seen := make(chan struct{})
	backend := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "first;")
		w.(http.Flusher).Flush()
		// The rest follows only once the client has the first part, so a
		// proxy that waits for the whole body never completes.
		select {
		case <-seen:
			io.WriteString(w, "second")
		case <-time.After(5 * time.Second):
			io.WriteString(w, "timeout")
		}
	})
	tp := startProxy(t, Options{}, instance("i1", backend.addr(), "acme"))

	req, err := http.NewRequest(http.MethodGet, "http://"+tp.addr+"/", nil)
	require.NoError(t, err)
	req.Host = "acme.apps.test"
	resp, err := testClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, []string{"chunked"}, resp.TransferEncoding)

	first := make([]byte, len("first;"))
	_, err = io.ReadFull(resp.Body, first)
	require.NoError(t, err)
	close(seen)
	rest, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "first;second", string(first)+string(rest))
}

func TestAbortedDownloadClosesBackendConnection(t *testing.T) {
	const size = 8 << 20
	backend := downloadBackend(t, size)
	conns := &backend.conns
	tp := startProxy(t, Options{}, instance("i1", backend.addr(), "acme"))

	c := dialRaw(t, tp.addr)
	_, err := io.WriteString(c, "GET /download HTTP/1.1\r\nHost: acme.apps.test\r\n\r\n")
	require.NoError(t, err)
	_, err = io.ReadFull(c.br, make([]byte, 64<<10))
	require.NoError(t, err)
	require.NoError(t, c.Close())

	// The rest of the aborted body must not be read as the next response.
	requireBodies(t, tp.addr, "/small", "small", 5)
	assert.Equal(t, int64(2), conns.Load(), "backend connections opened")
}

// requireBodies sends n GETs of path for tenant acme through the proxy at
// addr, one after another, and requires each to get 200 with body want.
func requireBodies(t *testing.T, addr, path, want string, n int) {
	t.Helper()
	for i := range n {
		status, body, _ := get(t, addr, "acme.apps.test", path)
		require.Equal(t, http.StatusOK, status, "request %d", i)
		require.Equal(t, want, body, "request %d", i)
	}
}

func TestResponseEndingAtClose(t *testing.T) {
	backend := scriptedBackend(t, func(conn net.Conn, br *bufio.Reader) {
		if readHead(br) != nil {
			return
		}
		io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nthe body ends when the backend closes") //nolint:errcheck
	})
	tp := startProxy(t, Options{}, instance("i1", backend.addr(), "acme"))

	requireBodies(t, tp.addr, "/", "the body ends when the backend closes", 3)
	assert.Equal(t, int64(3), backend.conns.Load(), "each response used up its backend connection")
}

func TestInterimResponsesSkipped(t *testing.T) {
	backend := scriptedBackend(t, func(conn net.Conn, br *bufio.Reader) {
		for readHead(br) == nil {
			io.WriteString(conn, "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"+ //nolint:errcheck
				"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal")
		}
	})
	tp := startProxy(t, Options{}, instance("i1", backend.addr(), "acme"))

	requireBodies(t, tp.addr, "/", "final", 3)
	assert.Equal(t, int64(1), backend.conns.Load(), "backend connections opened")
}

func TestNotModifiedReadsNoBody(t *testing.T) {
	// A 304 may name the length of the body it stands for; no body follows.
	backend := scriptedBackend(t, func(conn net.Conn, br *bufio.Reader) {
		for n := 0; readHead(br) == nil; n++ {
			if n%2 == 0 {
				io.WriteString(conn, "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\nETag: \"v1\"\r\n\r\n") //nolint:errcheck
			} else {
				io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh") //nolint:errcheck
			}
		}
	})
	tp := startProxy(t, Options{}, instance("i1", backend.addr(), "acme"))

	c := dialRaw(t, tp.addr)
	for i := range 4 {
		resp := c.roundTrip(t, "GET / HTTP/1.1\r\nHost: acme.apps.test\r\n\r\n", false)
		if i%2 == 0 {
			require.Equal(t, http.StatusNotModified, resp.StatusCode(), "request %d", i)
			require.Empty(t, resp.Body(), "request %d", i)
			continue
		}
		require.Equal(t, http.StatusOK, resp.StatusCode(), "request %d", i)
		require.Equal(t, "fresh", string(resp.Body()), "request %d", i)
	}
	assert.Equal(t, int64(1), backend.conns.Load(), "backend connections opened")
}

func TestShortResponseAllocatesNothing(t *testing.T) {
	if testing.Short() || testutil.RaceEnabled {
		t.Skip("measures allocations over many requests, which the race detector adds")
	}
	body := strings.Repeat("x", 1024)
	backendLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	backend := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString(body) }}
	go backend.Serve(backendLn)              //nolint:errcheck // ends with the listener
	t.Cleanup(func() { backend.Shutdown() }) //nolint:errcheck
	tp := startProxy(t, Options{}, instance("i1", backendLn.Addr().String(), "acme"))

	client := &fasthttp.HostClient{Addr: tp.addr}
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	req.SetRequestURI("http://acme.apps.test/")
	get := func() {
		if err := client.Do(req, resp); err != nil || resp.StatusCode() != fasthttp.StatusOK || len(resp.Body()) != len(body) {
			t.Fatalf("status %d, %d body bytes, error %v", resp.StatusCode(), len(resp.Body()), err)
		}
	}
	// fasthttp's buffer pools size their buffers from the last 42,000
	// uses, which earlier tests with other body sizes may have made.
	for range 45000 {
		get()
	}

	// The count covers the whole process: client, proxy and backend.
	allocs := testing.AllocsPerRun(2000, get)
	assert.Less(t, allocs, 0.5, "allocations per proxied request")
}

// rawBackend serves each accepted connection with a script that reads
// requests and writes raw response bytes, for responses that net/http would
// not send.
type rawBackend struct {
	ln    net.Listener
	conns atomic.Int64

	mu   sync.Mutex
	open []net.Conn
}

func scriptedBackend(t *testing.T, script func(conn net.Conn, br *bufio.Reader)) *rawBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	b := &rawBackend{ln: ln}

	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		// The proxy may keep idle connections to the backend open.
		b.mu.Lock()
		for _, conn := range b.open {
			conn.Close()
		}
		b.mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			b.conns.Add(1)
			b.mu.Lock()
			b.open = append(b.open, conn)
			b.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
				script(conn, bufio.NewReader(conn))
			}()
		}
	}()
	return b
}

func (b *rawBackend) addr() string { return b.ln.Addr().String() }

// readHead reads a request head that has no body.
func readHead(br *bufio.Reader) error {
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		if line == "\r\n" {
			return nil
		}
	}
}
