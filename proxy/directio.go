//go:build unix

package proxy

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// directConn reads and writes a TCP connection with syscall.RawSyscall
// instead of the runtime's path for calls that may block. Go's sockets are
// non-blocking, so a read or write returns at once, with EAGAIN when it would
// have to wait. The usual path still marks the thread as possibly blocked,
// and the runtime's monitor thread then wakes as often as every 20 us to
// look for long calls. In profiles at full load, that bookkeeping and those wake-ups
// took about 5 % of the proxy's CPU, and the proxy made a third more context
// switches per request without directConn.
//
// Waiting for readiness and deadlines still go through the runtime's network
// poller, by way of syscall.RawConn.
//
// Reads come from one goroutine at a time, and so do writes, as from
// fasthttp and from the WebSocket tunnel, which reads and writes from two
// goroutines.
type directConn struct {
	net.Conn
	tcp *net.TCPConn
	raw syscall.RawConn

	// The state of the Read and Write in progress. readFn and writeFn are
	// method values made once, so that a call allocates nothing.
	readFn, writeFn func(fd uintptr) bool
	rbuf, wbuf      []byte
	rn, wn          int
	rerr, werr      error
}

// newDirectConn returns conn wrapped in a directConn when it is a TCP
// connection, and conn itself otherwise.
func newDirectConn(conn net.Conn) net.Conn {
	tcp, ok := conn.(*net.TCPConn)
	if !ok {
		return conn
	}
	raw, err := tcp.SyscallConn()
	if err != nil {
		return conn
	}

	c := &directConn{Conn: tcp, tcp: tcp, raw: raw}
	c.readFn = c.readOnce
	c.writeFn = c.writeAll
	return c
}

func (c *directConn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.rbuf, c.rn, c.rerr = b, 0, nil
	err := c.raw.Read(c.readFn)
	n, rerr := c.rn, c.rerr
	c.rbuf, c.rerr = nil, nil
	if err != nil {
		// A deadline or a closed connection, from the poller.
		return 0, err
	}
	return n, rerr
}

// readOnce makes one read and reports false when the socket has nothing yet,
// which makes RawConn.Read wait for readiness and call it again.
func (c *directConn) readOnce(fd uintptr) bool {
	for {
		n, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&c.rbuf[0])), uintptr(len(c.rbuf)))
		switch errno {
		case 0:
			c.rn = int(n)
			if n == 0 {
				c.rerr = io.EOF
			}
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default:
			c.rerr = c.opError("read", errno)
			return true
		}
	}
}

func (c *directConn) Write(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.wbuf, c.wn, c.werr = b, 0, nil
	err := c.raw.Write(c.writeFn)
	n, werr := c.wn, c.werr
	c.wbuf, c.werr = nil, nil
	if err != nil {
		return n, err
	}
	return n, werr
}

// writeAll writes what is left of the buffer and reports false when the
// socket's send buffer is full, which makes RawConn.Write wait for room and
// call it again.
func (c *directConn) writeAll(fd uintptr) bool {
	for c.wn < len(c.wbuf) {
		rest := c.wbuf[c.wn:]
		n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&rest[0])), uintptr(len(rest)))
		switch {
		case errno == 0 && n == 0:
			// As the net package does: a write of nothing would loop.
			c.werr = io.ErrUnexpectedEOF
			return true
		case errno == 0:
			c.wn += int(n)
		case errno == syscall.EINTR:
			continue
		case errno == syscall.EAGAIN:
			return false
		default:
			c.werr = c.opError("write", errno)
			return true
		}
	}
	return true
}

// CloseWrite shuts down the sending side of the connection.
func (c *directConn) CloseWrite() error { return c.tcp.CloseWrite() }

// opError wraps errno the way the net package does, so that errors.Is finds
// syscall.ECONNRESET and the like.
func (c *directConn) opError(op string, errno syscall.Errno) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError(op, errno)}
}
