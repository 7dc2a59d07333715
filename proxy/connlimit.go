package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"time"
)

// connCap enforces Options.MaxConns over every listener of a proxy.
//
// fasthttp's own Server.Concurrency is not used for this. Over its limit
// fasthttp v1.79 writes a 503 whose body names the server setting and
// closes the connection at once, from its accept loop, without reading the
// request. A client may then get a TCP reset instead of the 503, because
// closing a socket with unread input resets it, and Go's net/http client
// rejects a response sent before its request. connCap instead reads the
// request head, then writes a short 503 and lingers, in a goroutine.
type connCap struct {
	limit    int64
	open     atomic.Int64
	rejected atomic.Uint64
	// rejecters counts goroutines writing a 503 and lingering, at most
	// maxRejecters, so a connection flood cannot start unbounded goroutines.
	rejecters atomic.Int64

	log      *slog.Logger
	logLimit logLimiter
}

const (
	// maxRejecters bounds the connections being rejected at once. Past it a
	// connection over the cap is closed without a response.
	maxRejecters = 64
	// rejectLinger bounds how long a rejected connection is kept open to
	// read what the client sent, so that the client reads the 503 rather
	// than a reset.
	rejectLinger = time.Second
	// maxRejectDiscard bounds the bytes read from a rejected connection.
	maxRejectDiscard = 64 << 10
)

// connRejectResponse is the whole response to a connection over the cap.
var connRejectResponse = []byte("HTTP/1.1 503 Service Unavailable\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Length: " + strconv.Itoa(len(connRejectBody)) + "\r\n" +
	"Retry-After: 1\r\n" +
	"Connection: close\r\n" +
	"\r\n" +
	connRejectBody)

const connRejectBody = "too many connections\n"

// limitListener counts the connections that its Accept returns against a
// connCap, and rejects those over the cap itself.
type limitListener struct {
	net.Listener
	cap *connCap
}

// Accept returns the next connection within the cap. Connections over it
// are rejected here and never reach the server.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.cap.open.Add(1) <= l.cap.limit {
			return &countedConn{Conn: conn, cap: l.cap}, nil
		}
		l.cap.open.Add(-1)
		l.cap.reject(conn)
	}
}

// reject sends a 503 to a connection over the cap in the background, or
// closes it at once when maxRejecters are already busy.
func (c *connCap) reject(conn net.Conn) {
	c.rejected.Add(1)
	if ok, suppressed := c.logLimit.allow(time.Now()); ok {
		c.log.LogAttrs(context.Background(), slog.LevelWarn, "connection rejected: max conns reached",
			slog.Int64("max_conns", c.limit), slog.String("remote", conn.RemoteAddr().String()),
			slog.Int64("suppressed", suppressed))
	}
	if c.rejecters.Add(1) > maxRejecters {
		c.rejecters.Add(-1)
		_ = conn.Close()
		return
	}
	go func() {
		defer c.rejecters.Add(-1)
		lingerReject(conn)
	}()
}

// lingerReject reads the request head, writes the 503, ends the sending
// side and reads what the client still sends until it closes, then closes
// the connection. The whole exchange is bounded by rejectLinger and
// maxRejectDiscard bytes. The response waits for the request head because
// clients such as Go's net/http drop a response that arrives before their
// request was written. A client that sends no head in time gets none.
func lingerReject(conn net.Conn) {
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(rejectLinger)); err != nil {
		return
	}

	input := bufio.NewReaderSize(io.LimitReader(conn, maxRejectDiscard), 4096)
	if !skipRequestHead(input) {
		return
	}
	if _, err := conn.Write(connRejectResponse); err != nil {
		return
	}
	if w, ok := conn.(closeWriter); ok {
		_ = w.CloseWrite()
	}
	_, _ = io.Copy(io.Discard, input)
}

// closeWriter is a connection whose sending side can be shut down alone,
// as a *net.TCPConn's can.
type closeWriter interface{ CloseWrite() error }

// skipRequestHead reads up to and including the empty line that ends a
// request head. It reports false when the input ends or fails first.
func skipRequestHead(r *bufio.Reader) bool {
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			return false
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return true
		}
	}
}

// countedConn gives its slot back to the cap when it is closed.
type countedConn struct {
	net.Conn
	cap    *connCap
	closed atomic.Bool
}

func (c *countedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.cap.open.Add(-1)
	}
	return c.Conn.Close()
}

// Interface guards.
var (
	_ net.Listener = (*limitListener)(nil)
	_ net.Conn     = (*countedConn)(nil)
)
