package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newEchoBackend(t *testing.T) *httptest.Server {
	t.Helper()
	upgrader := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, http.Header{"X-Tenant-Seen": {r.Header.Get(HeaderTenant)}})
		if err != nil {
			return
		}
		defer conn.Close()
		for {
			kind, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			if err := conn.WriteMessage(kind, msg); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func dialWebSocket(t *testing.T, proxyAddr string) (*websocket.Conn, *http.Response) {
	t.Helper()
	dialer := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, resp, err := dialer.Dial("ws://"+proxyAddr+"/ws", http.Header{"Host": {"acme.apps.test"}})
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn, resp
}

func TestWebSocketEchoRoundTrip(t *testing.T) {
	backend := newEchoBackend(t)
	tp := startProxy(t, Options{}, instance("i1", backend.Listener.Addr().String(), "acme"))

	conn, resp := dialWebSocket(t, tp.addr)
	assert.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	assert.Equal(t, "acme", resp.Header.Get("X-Tenant-Seen"))

	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	for _, msg := range []string{"hello", "second message", string(make([]byte, 100_000))} {
		require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(msg)))
		kind, got, err := conn.ReadMessage()
		require.NoError(t, err)
		assert.Equal(t, websocket.TextMessage, kind)
		assert.Equal(t, msg, string(got))
	}
	assert.Equal(t, 1, tp.tunnels.count())
}

func TestWebSocketDeclinedRelayed(t *testing.T) {
	backend := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no websockets here", http.StatusForbidden)
	})
	tp := startProxy(t, Options{}, instance("i1", backend.addr(), "acme"))

	dialer := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	_, resp, err := dialer.Dial("ws://"+tp.addr+"/ws", http.Header{"Host": {"acme.apps.test"}})
	require.Error(t, err)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
}

func TestShutdownClosesTunnelsAfterGrace(t *testing.T) {
	backend := newEchoBackend(t)
	tp := startProxy(t, Options{ShutdownGrace: 300 * time.Millisecond}, instance("i1", backend.Listener.Addr().String(), "acme"))

	conn, _ := dialWebSocket(t, tp.addr)
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte("ping")))
	_, _, err := conn.ReadMessage()
	require.NoError(t, err)

	start := time.Now()
	err = tp.Shutdown(context.Background())
	assert.Error(t, err, "an open tunnel past the grace period is reported")
	assert.Less(t, time.Since(start), 3*time.Second)

	require.NoError(t, conn.SetReadDeadline(time.Now().Add(2*time.Second)))
	_, _, err = conn.ReadMessage()
	assert.Error(t, err, "the tunnel must be closed after the drain")
	assert.Eventually(t, func() bool { return tp.tunnels.count() == 0 }, 3*time.Second, 10*time.Millisecond)
}
