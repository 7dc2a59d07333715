package sample

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startServer runs a sample component on a free loopback port and returns its
// base URL and the server. It shuts the server down when the test ends.
func startServer(t *testing.T, tenants ...string) (string, *Server) {
	t.Helper()
	srv, err := New(Config{Instance: "i1", Component: "app", Tenants: tenants}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		assert.NoError(t, srv.Shutdown(ctx))
		assert.NoError(t, <-served)
	})
	return "http://" + ln.Addr().String(), srv
}

func get(t *testing.T, url, tenant string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if tenant != "" {
		req.Header.Set(TenantHeader, tenant)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

func TestNewRequiresInstance(t *testing.T) {
	_, err := New(Config{}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-instance")
}

func TestServedTenantGetsJSON(t *testing.T) {
	base, _ := startServer(t, "acme")

	resp, body := get(t, base+"/some/path?x=1", "acme")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	assert.Empty(t, resp.Header.Get("Server"))

	var doc map[string]string
	require.NoError(t, json.Unmarshal(body, &doc))
	assert.Equal(t, map[string]string{
		"instance":  "i1",
		"component": "app",
		"tenant":    "acme",
		"method":    "GET",
		"path":      "/some/path?x=1",
	}, doc)
}

func TestTenantHeaderCaseFolded(t *testing.T) {
	base, _ := startServer(t, "acme")

	resp, body := get(t, base+"/", "ACME")
	assert.Equal(t, http.StatusOK, resp.StatusCode, string(body))
}

func TestUnservedTenantMisdirected(t *testing.T) {
	base, _ := startServer(t, "acme")

	resp, body := get(t, base+"/", "globex")
	assert.Equal(t, http.StatusMisdirectedRequest, resp.StatusCode)
	assert.Contains(t, string(body), `"globex"`)
	assert.Contains(t, string(body), `"i1"`)
}

func TestMissingTenantHeader(t *testing.T) {
	base, _ := startServer(t, "acme")

	resp, body := get(t, base+"/", "")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, string(body), TenantHeader)
}

func TestHealthzNeedsNoTenant(t *testing.T) {
	base, _ := startServer(t)

	resp, body := get(t, base+"/healthz", "")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "ok", string(body))
}

func TestSizePadsExactly(t *testing.T) {
	base, _ := startServer(t, "acme")

	for _, size := range []int{0, 1, 10, 1024, 65536, 1 << 20, MaxSize} {
		resp, body := get(t, base+"/?size="+strconv.Itoa(size), "acme")
		require.Equal(t, http.StatusOK, resp.StatusCode, "size=%d", size)
		assert.Len(t, body, size, "size=%d", size)
		if size >= 1024 {
			var doc map[string]string
			assert.NoError(t, json.Unmarshal(body, &doc), "padded body of %d bytes is valid JSON", size)
		}
	}
}

func TestBadParamsRejected(t *testing.T) {
	base, _ := startServer(t, "acme")

	for _, query := range []string{
		"size=abc", "size=-1", "size=", "size=16777217",
		"work=x", "work=60001", "sleep=1.5", "sleep=99999999999999999999",
	} {
		resp, body := get(t, base+"/?"+query, "acme")
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, query)
		assert.Contains(t, string(body), "invalid", query)
	}
}

func TestSleepAndWorkDelay(t *testing.T) {
	base, _ := startServer(t, "acme")

	for _, query := range []string{"sleep=50", "work=50"} {
		start := time.Now()
		resp, _ := get(t, base+"/?"+query, "acme")
		assert.Equal(t, http.StatusOK, resp.StatusCode, query)
		assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond, query)
	}
}

func TestEchoLargeBody(t *testing.T) {
	base, _ := startServer(t, "acme")
	payload := make([]byte, 10<<20)
	_, err := rand.Read(payload)
	require.NoError(t, err)

	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch} {
		req, err := http.NewRequest(method, base+"/upload", bytes.NewReader(payload))
		require.NoError(t, err)
		req.Header.Set(TenantHeader, "acme")
		req.Header.Set("Content-Type", "application/x-test")

		resp, body := do(t, req)
		require.Equal(t, http.StatusOK, resp.StatusCode, method)
		assert.Equal(t, "application/x-test", resp.Header.Get("Content-Type"), method)
		assert.True(t, bytes.Equal(payload, body), "%s echoed %d bytes of %d", method, len(body), len(payload))
	}
}

func TestEchoChunkedBody(t *testing.T) {
	base, _ := startServer(t, "acme")
	payload := strings.Repeat("chunk-", 100_000)

	// io.MultiReader hides the length, so net/http sends the body chunked.
	req, err := http.NewRequest(http.MethodPost, base+"/", io.MultiReader(strings.NewReader(payload)))
	require.NoError(t, err)
	req.Header.Set(TenantHeader, "acme")

	resp, body := do(t, req)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, payload, string(body))
}

func TestSetTenantsReloads(t *testing.T) {
	base, srv := startServer(t, "acme")

	srv.SetTenants([]string{" Globex ", ""})
	assert.Equal(t, 1, srv.TenantCount())

	resp, _ := get(t, base+"/", "globex")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = get(t, base+"/", "acme")
	assert.Equal(t, http.StatusMisdirectedRequest, resp.StatusCode)
}

func TestWebSocketEcho(t *testing.T) {
	base, _ := startServer(t, "acme")
	url := "ws" + strings.TrimPrefix(base, "http") + "/ws"

	conn, resp, err := websocket.DefaultDialer.Dial(url, http.Header{TenantHeader: {"acme"}})
	require.NoError(t, err)
	defer conn.Close()
	assert.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)

	for _, msg := range []struct {
		kind int
		data []byte
	}{
		{websocket.TextMessage, []byte("hello")},
		{websocket.BinaryMessage, bytes.Repeat([]byte{0, 1, 2}, 100_000)},
	} {
		require.NoError(t, conn.WriteMessage(msg.kind, msg.data))
		kind, data, err := conn.ReadMessage()
		require.NoError(t, err)
		assert.Equal(t, msg.kind, kind)
		assert.Equal(t, msg.data, data)
	}
}

func TestWebSocketUnservedTenant(t *testing.T) {
	base, _ := startServer(t, "acme")
	url := "ws" + strings.TrimPrefix(base, "http") + "/ws"

	_, resp, err := websocket.DefaultDialer.Dial(url, http.Header{TenantHeader: {"globex"}})
	require.Error(t, err)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusMisdirectedRequest, resp.StatusCode)
}

func TestShutdownClosesWebSocket(t *testing.T) {
	srv, err := New(Config{Instance: "i1", Tenants: []string{"acme"}}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	conn, _, err := websocket.DefaultDialer.Dial("ws://"+ln.Addr().String()+"/ws", http.Header{TenantHeader: {"acme"}})
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte("ping")))
	_, _, err = conn.ReadMessage()
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	require.NoError(t, <-served)

	// Read the raw socket, so the client never answers the close frame: the
	// server must close the connection on its own.
	raw := conn.NetConn()
	require.NoError(t, raw.SetReadDeadline(time.Now().Add(5*time.Second)))
	frames, err := io.ReadAll(raw)
	require.NoError(t, err, "server did not close the WebSocket connection")
	require.NotEmpty(t, frames)
	assert.Equal(t, byte(0x88), frames[0], "first frame is a final close frame")
	assert.Equal(t, []byte{0x03, 0xe9}, frames[2:4], "close code 1001 (going away)")
}
