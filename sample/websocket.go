package sample

import (
	"errors"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"
)

// wsIdleTimeout closes a WebSocket connection that receives no message for
// this long.
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
		if err := conn.SetReadDeadline(time.Now().Add(wsIdleTimeout)); err != nil {
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

// closeWebSockets sends a close frame on every WebSocket connection and
// closes it. fasthttp's shutdown does not wait for hijacked connections, so
// without this they would outlive the server.
func (s *Server) closeWebSockets() {
	s.wsMu.Lock()
	s.closing = true
	conns := make([]*websocket.Conn, 0, len(s.wsConns))
	for conn := range s.wsConns {
		conns = append(conns, conn)
	}
	s.wsMu.Unlock()

	for _, conn := range conns {
		// WriteControl may run concurrently with the echo loop's writes.
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "server is shutting down"),
			time.Now().Add(time.Second))
		_ = conn.Close()
	}
}
