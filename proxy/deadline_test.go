package proxy

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDeadlineIsClose(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	slack := time.Second
	cases := []struct {
		name        string
		armed, next time.Time
		want        bool
	}{
		{"both cleared", time.Time{}, time.Time{}, true},
		{"first deadline", time.Time{}, base, false},
		{"clearing", base, time.Time{}, false},
		{"same", base, base, true},
		{"later within slack", base, base.Add(999 * time.Millisecond), true},
		{"later by slack", base, base.Add(time.Second), false},
		{"earlier", base, base.Add(-time.Millisecond), false},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, deadlineIsClose(c.armed, c.next, slack), c.name)
	}
}

func TestCoarseConnCoalescesDeadlines(t *testing.T) {
	counter := &deadlineCounter{}
	conn := &coarseConn{Conn: counter, slack: time.Second}
	start := time.Now()

	for i := range 100 {
		require.NoError(t, conn.SetReadDeadline(start.Add(60*time.Second+time.Duration(i)*time.Millisecond)))
		require.NoError(t, conn.SetWriteDeadline(start.Add(60*time.Second+time.Duration(i)*time.Millisecond)))
	}
	assert.Equal(t, 1, counter.reads, "read deadline updates")
	assert.Equal(t, 1, counter.writes, "write deadline updates")

	require.NoError(t, conn.SetReadDeadline(start.Add(62*time.Second)))
	require.NoError(t, conn.SetReadDeadline(start.Add(time.Second)))
	require.NoError(t, conn.SetReadDeadline(time.Time{}))
	assert.Equal(t, 4, counter.reads, "a deadline moved by the slack, tightened or cleared is applied")
}

// deadlineCounter is a net.Conn that only counts deadline updates.
type deadlineCounter struct {
	net.Conn
	reads, writes int
}

func (c *deadlineCounter) SetReadDeadline(time.Time) error  { c.reads++; return nil }
func (c *deadlineCounter) SetWriteDeadline(time.Time) error { c.writes++; return nil }

func TestClientIdleTimeoutClosesConnection(t *testing.T) {
	backend := newRecorder(t, nil)
	tp := startProxy(t, Options{ClientIdleTimeout: 400 * time.Millisecond}, instance("i1", backend.addr(), "acme"))

	c := dialRaw(t, tp.addr)
	resp := c.roundTrip(t, "GET / HTTP/1.1\r\nHost: acme.apps.test\r\n\r\n", false)
	require.Equal(t, http.StatusOK, resp.StatusCode())

	// A deadline may fire up to a quarter of the timeout early, never late.
	idleSince := time.Now()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err := c.br.ReadByte()
	assert.ErrorIs(t, err, io.EOF)
	idle := time.Since(idleSince)
	assert.GreaterOrEqual(t, idle, 300*time.Millisecond)
	assert.Less(t, idle, 2*time.Second)
}
