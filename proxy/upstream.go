package proxy

import (
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// dialError marks a failure to connect to a backend. Such a request cannot
// have reached the backend, so it may be retried on another one.
type dialError struct {
	addr string
	err  error
}

func (e *dialError) Error() string { return "connecting to backend " + e.addr + ": " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// isDialError reports whether err wraps a dialError. It walks the chain
// itself because errors.As would move its target to the heap on every
// request that calls it.
func isDialError(err error) bool {
	for err != nil {
		if _, ok := err.(*dialError); ok {
			return true
		}
		err = errors.Unwrap(err)
	}
	return false
}

// NewTransport builds the keep-alive pool for one backend address, for use
// as a balancer.Pool transport factory. The Pool calls it once per backend
// and keeps the result for as long as some table references that backend.
func (p *Proxy) NewTransport(addr string) any {
	dialer := &net.Dialer{Timeout: p.opts.ConnectTimeout, KeepAlive: 30 * time.Second}
	readIdle := p.opts.ResponseHeaderTimeout
	writeIdle := p.opts.WriteTimeout

	return &fasthttp.HostClient{
		Addr: addr,
		Dial: func(string) (net.Conn, error) {
			conn, err := dialer.Dial("tcp", addr)
			if err != nil {
				return nil, &dialError{addr: addr, err: err}
			}
			return newIdleConn(newDirectConn(conn), readIdle, writeIdle), nil
		},
		MaxConns:            p.opts.MaxConnsPerBackend,
		MaxConnWaitTimeout:  p.opts.ConnectTimeout,
		MaxIdleConnDuration: p.opts.UpstreamIdleTimeout,
		ConnPoolStrategy:    fasthttp.LIFO,
		ReadBufferSize:      upstreamReadBufferSize,

		// One extra attempt on the same backend, only for a pooled connection
		// that the backend had already closed (see retryStaleConn).
		MaxIdemponentCallAttempts: 2,
		RetryIfErr:                retryStaleConn,

		// The proxy forwards the client's User-Agent or none, and routes on
		// the same path bytes that it forwards. fasthttp's client always
		// rebuilds the target from its parsed URI, so the one change left is
		// that an empty query ("/x?") goes out as "/x".
		NoDefaultUserAgentHeader: true,
		DisablePathNormalizing:   true,
		Transport:                upstreamTransport{},
	}
}

// CloseTransport releases the pooled connections that NewTransport made,
// once no table references their backend any more.
func CloseTransport(t any) {
	if hc, ok := t.(*fasthttp.HostClient); ok {
		hc.CloseIdleConnections()
	}
}

// retryStaleConn allows fasthttp's single retry on the same backend only when
// a reused keep-alive connection turned out to be closed by the backend:
// fasthttp cannot see the backend's FIN before reusing the connection.
// Timeouts are never retried, because the backend may still be working.
func retryStaleConn(req *fasthttp.Request, _ int, err error) (resetTimeout, retry bool) {
	if !isIdempotent(&req.Header) || req.IsBodyStream() {
		return false, false
	}
	return false, isConnectionLost(err)
}

// isConnectionLost reports whether the backend closed or reset the
// connection before a response arrived.
func isConnectionLost(err error) bool {
	return errors.Is(err, io.EOF) ||
		errors.Is(err, fasthttp.ErrConnectionClosed) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE)
}

// isIdempotent reports whether RFC 9110 section 9.2.2 lets a request be sent
// twice: GET, HEAD, OPTIONS, TRACE, PUT and DELETE.
func isIdempotent(h *fasthttp.RequestHeader) bool {
	return h.IsGet() || h.IsHead() || h.IsOptions() || h.IsTrace() || h.IsPut() || h.IsDelete()
}

// idleConn applies an inactivity timeout to each read and write of a backend
// connection, the way NGINX's proxy_read_timeout does. fasthttp's own
// deadlines cover a whole exchange, streamed body included, so they would cut
// long downloads. Here a response may take any time as long as bytes keep
// coming.
//
// Deadlines are refreshed at most once per slack (see deadlineIsClose), so
// an effective timeout lies between timeout-slack and timeout. Reads and
// writes each come from one goroutine at a time, as fasthttp uses a
// connection for one exchange at a time.
type idleConn struct {
	net.Conn
	readTimeout, writeTimeout time.Duration
	slack                     time.Duration
	readDeadline              time.Time
	writeDeadline             time.Time
}

func newIdleConn(conn net.Conn, readTimeout, writeTimeout time.Duration) *idleConn {
	slack := deadlineSlack(min(readTimeout, writeTimeout))
	return &idleConn{Conn: conn, readTimeout: readTimeout, writeTimeout: writeTimeout, slack: slack}
}

func (c *idleConn) Read(b []byte) (int, error) {
	if c.readTimeout > 0 {
		deadline := time.Now().Add(c.readTimeout)
		if !deadlineIsClose(c.readDeadline, deadline, c.slack) {
			if err := c.Conn.SetReadDeadline(deadline); err != nil {
				return 0, err
			}
			c.readDeadline = deadline
		}
	}
	return c.Conn.Read(b)
}

func (c *idleConn) Write(b []byte) (int, error) {
	if c.writeTimeout > 0 {
		deadline := time.Now().Add(c.writeTimeout)
		if !deadlineIsClose(c.writeDeadline, deadline, c.slack) {
			if err := c.Conn.SetWriteDeadline(deadline); err != nil {
				return 0, err
			}
			c.writeDeadline = deadline
		}
	}
	return c.Conn.Write(b)
}

// Interface guard.
var _ net.Conn = (*idleConn)(nil)
