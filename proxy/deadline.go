package proxy

import (
	"net"
	"sync"
	"time"
)

// Deadline updates reset a runtime timer each, and fasthttp's server makes
// three per keep-alive request: the idle timeout, the read timeout and the
// write timeout. The connections below skip an update that would move a
// deadline later by less than a slack, so at full load a connection updates
// each deadline about once per slack. A timeout then fires up to one slack
// early, never late.

// deadlineSlack is the slack for timeouts of at least d: a quarter of d, at
// most one second.
func deadlineSlack(d time.Duration) time.Duration {
	return min(d/4, time.Second)
}

// deadlineIsClose reports whether moving a deadline from armed to next may
// be skipped: both are set and next is later by less than slack. Clearing
// or tightening a deadline is never skipped.
func deadlineIsClose(armed, next time.Time, slack time.Duration) bool {
	if armed.IsZero() || next.IsZero() {
		return armed.IsZero() && next.IsZero()
	}
	ahead := next.Sub(armed)
	return ahead >= 0 && ahead < slack
}

// coarseListener wraps each accepted connection in a coarseConn.
type coarseListener struct {
	net.Listener
	slack time.Duration

	closeOnce sync.Once
	closeErr  error
}

// Close closes the listener once. Both Proxy.Shutdown and fasthttp close
// it, and fasthttp reports an error from the second close as a failed
// shutdown.
func (l *coarseListener) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.Listener.Close() })
	return l.closeErr
}

func (l *coarseListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &coarseConn{Conn: newDirectConn(conn), slack: l.slack}, nil
}

// coarseConn is a client connection whose deadline updates are coalesced
// (see deadlineIsClose). Deadlines are set from one goroutine at a time:
// fasthttp's server sets them from the connection's goroutine, and the
// proxy's handler, which runs there too, sets none.
type coarseConn struct {
	net.Conn
	slack time.Duration

	read, write time.Time // the deadlines in effect
}

func (c *coarseConn) SetReadDeadline(t time.Time) error {
	if deadlineIsClose(c.read, t, c.slack) {
		return nil
	}
	if err := c.Conn.SetReadDeadline(t); err != nil {
		return err
	}
	c.read = t
	return nil
}

func (c *coarseConn) SetWriteDeadline(t time.Time) error {
	if deadlineIsClose(c.write, t, c.slack) {
		return nil
	}
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	c.write = t
	return nil
}

func (c *coarseConn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetDeadline(t); err != nil {
		return err
	}
	c.read, c.write = t, t
	return nil
}

// CloseWrite shuts down the sending side of the connection, when the
// connection it wraps can.
func (c *coarseConn) CloseWrite() error {
	if w, ok := c.Conn.(closeWriter); ok {
		return w.CloseWrite()
	}
	return nil
}
