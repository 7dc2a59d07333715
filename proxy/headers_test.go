package proxy

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConnectionNamedFieldsRemoved(t *testing.T) {
	backend := newRecorder(t, nil)
	tp := startProxy(t, Options{}, instance("i1", backend.addr(), "acme"))

	c := dialRaw(t, tp.addr)
	resp := c.roundTrip(t, "GET / HTTP/1.1\r\nHost: acme.apps.test\r\n"+
		"Connection: close, X-Trace-Secret\r\nX-Trace-Secret: 1\r\n"+
		"Keep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Authorization: Basic eDp5\r\n\r\n", false)
	require.Equal(t, http.StatusOK, resp.StatusCode())

	got := backend.last(t)
	assert.Empty(t, got.Header.Values("X-Trace-Secret"))
	assert.Empty(t, got.Header.Values("Keep-Alive"))
	assert.Empty(t, got.Header.Values("Te"))
	assert.Empty(t, got.Header.Values("Proxy-Authorization"))
	assert.False(t, got.Close, "the client's Connection: close reached the backend")
	assert.Empty(t, got.Header.Values("Connection"))
	assert.True(t, resp.ConnectionClose(), "the client asked to close, the proxy must answer with Connection: close")
}

func TestConnectionCannotRemoveFraming(t *testing.T) {
	backend := newRecorder(t, nil)
	tp := startProxy(t, Options{}, instance("i1", backend.addr(), "acme"))

	c := dialRaw(t, tp.addr)
	resp := c.roundTrip(t, "POST / HTTP/1.1\r\nHost: acme.apps.test\r\n"+
		"Connection: Content-Length, Host\r\nContent-Length: 5\r\n\r\nhello", false)
	require.Equal(t, http.StatusOK, resp.StatusCode())
	assert.Equal(t, "hello", backend.bodies[0])
	assert.Equal(t, "acme.apps.test", backend.last(t).Host)
}

func TestResponseHopByHopRemoved(t *testing.T) {
	backend := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Connection", "X-Backend-Secret")
		w.Header().Set("X-Backend-Secret", "1")
		w.Header().Set("Keep-Alive", "timeout=99")
		w.Header().Set("X-Kept", "yes")
	})
	tp := startProxy(t, Options{}, instance("i1", backend.addr(), "acme"))

	status, _, header := get(t, tp.addr, "acme.apps.test", "/")
	require.Equal(t, http.StatusOK, status)
	assert.Empty(t, header.Values("X-Backend-Secret"))
	assert.Empty(t, header.Values("Keep-Alive"))
	assert.Equal(t, "yes", header.Get("X-Kept"))
}

func TestForwardedForUntrustedReplaced(t *testing.T) {
	backend := newRecorder(t, nil)
	tp := startProxy(t, Options{}, instance("i1", backend.addr(), "acme"))

	c := dialRaw(t, tp.addr)
	resp := c.roundTrip(t, "GET / HTTP/1.1\r\nHost: acme.apps.test\r\nX-Forwarded-For: 203.0.113.9\r\n"+
		"X-Forwarded-For: 198.51.100.1\r\nForwarded: for=203.0.113.9\r\n\r\n", false)
	require.Equal(t, http.StatusOK, resp.StatusCode())

	got := backend.last(t)
	assert.Equal(t, []string{"127.0.0.1"}, got.Header.Values("X-Forwarded-For"))
	assert.Empty(t, got.Header.Values("Forwarded"))
	assert.Equal(t, "acme.apps.test", got.Header.Get("X-Forwarded-Host"))
	assert.Equal(t, "http", got.Header.Get("X-Forwarded-Proto"))
}

func TestForwardedForTrustedAppended(t *testing.T) {
	backend := newRecorder(t, nil)
	opts := Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	tp := startProxy(t, opts, instance("i1", backend.addr(), "acme"))

	c := dialRaw(t, tp.addr)
	resp := c.roundTrip(t, "GET / HTTP/1.1\r\nHost: acme.apps.test\r\nX-Forwarded-For: 203.0.113.9\r\n"+
		"X-Forwarded-Proto: https\r\n\r\n", false)
	require.Equal(t, http.StatusOK, resp.StatusCode())

	got := backend.last(t)
	assert.Equal(t, []string{"203.0.113.9, 127.0.0.1"}, got.Header.Values("X-Forwarded-For"))
	assert.Equal(t, "https", got.Header.Get("X-Forwarded-Proto"), "a trusted peer's protocol is kept")
}

func TestRequestIDSetOrKept(t *testing.T) {
	backend := newRecorder(t, nil)
	tp := startProxy(t, Options{}, instance("i1", backend.addr(), "acme"))

	status, _, _ := get(t, tp.addr, "acme.apps.test", "/")
	require.Equal(t, http.StatusOK, status)
	first := backend.last(t).Header.Get(HeaderRequestID)
	assert.Len(t, first, 33)

	status, _, _ = get(t, tp.addr, "acme.apps.test", "/")
	require.Equal(t, http.StatusOK, status)
	assert.NotEqual(t, first, backend.last(t).Header.Get(HeaderRequestID), "request IDs repeat")

	req, err := http.NewRequest(http.MethodGet, "http://"+tp.addr+"/", nil)
	require.NoError(t, err)
	req.Host = "acme.apps.test"
	req.Header.Set(HeaderRequestID, "trace-abc-123")
	status, _, _ = do(t, req)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "trace-abc-123", backend.last(t).Header.Get(HeaderRequestID))
}

func TestTenantHeaderOverwritten(t *testing.T) {
	backend := newRecorder(t, nil)
	tp := startProxy(t, Options{}, instance("i1", backend.addr(), "acme", "globex"))

	req, err := http.NewRequest(http.MethodGet, "http://"+tp.addr+"/", nil)
	require.NoError(t, err)
	req.Host = "ACME.apps.test"
	req.Header.Set(HeaderTenant, "globex")
	status, body, _ := do(t, req)
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, "tenant=acme", "the host rule comes first and its tenant must be forwarded")
	assert.Equal(t, []string{"acme"}, backend.last(t).Header.Values(HeaderTenant))
}

func TestPathForwardedByteForByte(t *testing.T) {
	backend := newRecorder(t, nil)
	tp := startProxy(t, Options{}, instance("i1", backend.addr(), "acme"))

	for _, uri := range []string{
		"/a/../b//c%2Fd?x=%41&y=1+2",
		"/%7Euser/./x;p=1?q",
		"/x?a=1&a=2&=&b",
	} {
		c := dialRaw(t, tp.addr)
		resp := c.roundTrip(t, "GET "+uri+" HTTP/1.1\r\nHost: acme.apps.test\r\n\r\n", false)
		require.Equal(t, http.StatusOK, resp.StatusCode(), uri)
		assert.Equal(t, uri, backend.last(t).RequestURI)
	}
}

func TestPathPrefixStripped(t *testing.T) {
	backend := newRecorder(t, nil)
	tp := startProxy(t, Options{}, instance("i1", backend.addr(), "acme"))

	cases := map[string]string{
		"/t/acme/x/y?q=1": "/x/y?q=1",
		"/t/acme":         "/",
		"/t/acme?q":       "/?q",
		"/t/ACME/%2F":     "/%2F",
	}
	for in, want := range cases {
		status, body, _ := get(t, tp.addr, "127.0.0.1", in)
		require.Equal(t, http.StatusOK, status, in)
		assert.Contains(t, body, "tenant=acme", in)
		assert.Equal(t, want, backend.last(t).RequestURI, in)
	}
}

func TestSetCookieOrderKept(t *testing.T) {
	backend := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Add("Set-Cookie", "a=1; Path=/")
		w.Header().Add("Set-Cookie", "b=2; HttpOnly")
		w.Header().Add("Set-Cookie", "c=3, d=4")
	})
	tp := startProxy(t, Options{}, instance("i1", backend.addr(), "acme"))

	c := dialRaw(t, tp.addr)
	require.NoError(t, c.SetDeadline(deadline()))
	_, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: acme.apps.test\r\n\r\n"))
	require.NoError(t, err)
	var cookies []string
	for {
		line, err := c.br.ReadString('\n')
		require.NoError(t, err)
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		if name, value, ok := strings.Cut(line, ": "); ok && strings.EqualFold(name, "Set-Cookie") {
			cookies = append(cookies, value)
		}
	}
	assert.Equal(t, []string{"a=1; Path=/", "b=2; HttpOnly", "c=3, d=4"}, cookies)
}
