package sample

import (
	"errors"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"
)

// wsIdleTimeout is the time without a message after which a WebSocket
// connection is closed.
const wsIdleTimeout = 2 * time.Minute

// wsMaxMessage is the largest WebSocket message echoed, in bytes.
const wsMaxMessage = 16 << 20

// serveWebSocket upgrades the request and echoes every message back with the
// same type until the client closes, the connection idles out or the server
// shuts down.
func (s *Server) serveWebSocket(ctx *fasthttp.RequestCtx) {
	err := s.upgrader.Upgrade(ctx, func(conn *websocket.Conn) {
		if !s.trackWebSocket(conn) {
			_ = conn.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseGoingAway, "server is shutting down"),
				time.Now().Add(time.Second))
			return
		}
		defer s.untrackWebSocket(conn)
		s.echoMessages(conn)
	})
	if err != nil {
		// The upgrader has already sent the error response.
		s.logger.Info("WebSocket upgrade failed", "error", err, "remote", ctx.RemoteAddr().String())
	}
}

func (s *Server) echoMessages(conn *websocket.Conn) {
	conn.SetReadLimit(wsMaxMessage)
	for {
		if !s.armReadDeadline(conn) {
			return
		}
		kind, msg, err := conn.ReadMessage()
		if err != nil {
			if !isNormalClose(err) {
				s.logger.Info("WebSocket read failed", "error", err, "remote", conn.RemoteAddr().String())
			}
			return
		}
		if err := conn.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
			return
		}
		if err := conn.WriteMessage(kind, msg); err != nil {
			s.logger.Info("WebSocket write failed", "error", err, "remote", conn.RemoteAddr().String())
			return
		}
	}
}

// armReadDeadline sets the idle deadline for the next message. It returns
// false once the server is shutting down. Holding the lock keeps it from
// overwriting the expired deadline that closeWebSockets sets.
func (s *Server) armReadDeadline(conn *websocket.Conn) bool {
	s.wsMu.Lock()
	defer s.wsMu.Unlock()
	if s.closing {
		return false
	}
	return conn.SetReadDeadline(time.Now().Add(wsIdleTimeout)) == nil
}

func isNormalClose(err error) bool {
	if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
		return true
	}
	var netErr interface{ Timeout() bool }
	return errors.As(err, &netErr) && netErr.Timeout()
}

// trackWebSocket registers conn for Shutdown and returns false when the
// server is already shutting down.
func (s *Server) trackWebSocket(conn *websocket.Conn) bool {
	s.wsMu.Lock()
	defer s.wsMu.Unlock()
	if s.closing {
		return false
	}
	s.wsConns[conn] = struct{}{}
	return true
}

func (s *Server) untrackWebSocket(conn *websocket.Conn) {
	s.wsMu.Lock()
	defer s.wsMu.Unlock()
	delete(s.wsConns, conn)
}

// closeWebSockets sends a close frame on every WebSocket connection and ends
// its echo loop with an expired read deadline, after which fasthttp closes the
// socket. fasthttp's own shutdown does not wait for hijacked connections.
// The lock is held throughout because fasthttp reuses a connection once its
// handler returns, and the handler cannot return before untrackWebSocket
// gets the lock.
func (s *Server) closeWebSockets() {
	s.wsMu.Lock()
	defer s.wsMu.Unlock()
	s.closing = true

	now := time.Now()
	for conn := range s.wsConns {
		// WriteControl may run concurrently with the echo loop's writes.
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "server is shutting down"), now.Add(time.Second))
		_ = conn.SetReadDeadline(now)
	}
}
