//go:build unix

package proxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// directPair returns a directConn and the plain TCP connection at its other
// end, on loopback.
func directPair(t *testing.T) (*directConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()

	accepted := make(chan net.Conn, 1)
	go func() {
		conn, _ := ln.Accept()
		accepted <- conn
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	peer := <-accepted
	require.NotNil(t, peer)
	t.Cleanup(func() {
		conn.Close()
		peer.Close()
	})

	direct, ok := newDirectConn(conn).(*directConn)
	require.True(t, ok, "a TCP connection gets a directConn")
	return direct, peer.(*net.TCPConn)
}

func TestDirectConnLargeWriteWaitsForRoom(t *testing.T) {
	c, peer := directPair(t)
	// Far more than the socket buffers hold, so the write must wait for
	// the reader at least once.
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<20)

	got := make(chan []byte, 1)
	go func() {
		time.Sleep(50 * time.Millisecond)
		b, _ := io.ReadAll(io.LimitReader(peer, int64(len(want))))
		got <- b
	}()
	require.NoError(t, c.SetWriteDeadline(time.Now().Add(10*time.Second)))
	n, err := c.Write(want)
	require.NoError(t, err)
	assert.Equal(t, len(want), n)
	assert.True(t, bytes.Equal(want, <-got), "the peer received other bytes")
}

func TestDirectConnReadWaitsForData(t *testing.T) {
	c, peer := directPair(t)
	go func() {
		time.Sleep(50 * time.Millisecond)
		peer.Write([]byte("hello")) //nolint:errcheck // the read below checks
	}()

	buf := make([]byte, 64)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	n, err := c.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(buf[:n]))
}

func TestDirectConnReadDeadline(t *testing.T) {
	c, _ := directPair(t)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(100*time.Millisecond)))

	start := time.Now()
	_, err := c.Read(make([]byte, 16))
	assert.True(t, isTimeout(err), "error %v is not a timeout", err)
	assert.Less(t, time.Since(start), 2*time.Second)
}

func TestDirectConnEOFAndReset(t *testing.T) {
	c, peer := directPair(t)
	require.NoError(t, peer.Close())

	_, err := c.Read(make([]byte, 16))
	assert.ErrorIs(t, err, io.EOF)

	// Writing to a closed peer ends in a reset or a broken pipe, which the
	// proxy counts as a lost connection.
	var werr error
	for range 100 {
		if _, werr = c.Write([]byte("ping")); werr != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	require.Error(t, werr)
	assert.True(t, isConnectionLost(werr), "error %v is not a lost connection", werr)
	var opErr *net.OpError
	assert.True(t, errors.As(werr, &opErr), "error %v is not a *net.OpError", werr)
}

func TestDirectConnClosedLocally(t *testing.T) {
	c, _ := directPair(t)
	require.NoError(t, c.Close())

	_, err := c.Read(make([]byte, 16))
	assert.ErrorIs(t, err, net.ErrClosed)
	_, err = c.Write([]byte("x"))
	assert.ErrorIs(t, err, net.ErrClosed)
}
