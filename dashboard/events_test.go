package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openEvents starts GET /api/events with the test token. Cancel ctx to
// leave.
func openEvents(t *testing.T, ctx context.Context, url string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/events", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// readEvent returns the next event's name and data, skipping comments and
// retry lines.
func readEvent(r *bufio.Reader) (name, data string, err error) {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", "", err
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && name != "":
			return name, data, nil
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data += strings.TrimPrefix(line, "data: ")
		}
	}
}

func TestEventsSendSnapshotsEveryInterval(t *testing.T) {
	srv := newTestServer(t, newTestSource(newTestHistory(testStart, 1)))
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
	defer cancel()

	start := time.Now()
	resp := openEvents(t, ctx, srv.URL)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))

	r := bufio.NewReader(resp.Body)
	for i := range 2 {
		name, data, err := readEvent(r)
		require.NoError(t, err, "event %d", i)
		assert.Equal(t, "snapshot", name)
		var snap snapshot
		require.NoError(t, json.Unmarshal([]byte(data), &snap), "event %d", i)
		assert.Len(t, snap.Instances, 3, "event %d", i)
		assert.Len(t, snap.Tenants, 50, "event %d", i)
	}
	assert.Less(t, time.Since(start), 5*time.Second, "two events at the default 2 s interval")
}

func TestEventsStopWhenClientLeaves(t *testing.T) {
	src := newTestSource(nil)
	src.MaxStreams = 1
	src.EventInterval = 50 * time.Millisecond
	srv := newTestServer(t, src)

	ctx, leave := context.WithCancel(context.Background())
	first := openEvents(t, ctx, srv.URL)
	require.Equal(t, http.StatusOK, first.StatusCode)
	_, _, err := readEvent(bufio.NewReader(first.Body))
	require.NoError(t, err)

	busy := get(t, srv.URL+"/api/events", testToken)
	assert.Equal(t, http.StatusServiceUnavailable, busy.StatusCode, "a second stream beyond MaxStreams")
	assert.NotEmpty(t, busy.Header.Get("Retry-After"))

	// Leaving frees the only stream slot once the handler has returned.
	leave()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithCancel(context.Background())
		resp := openEvents(t, ctx, srv.URL)
		code := resp.StatusCode
		cancel()
		if code == http.StatusOK {
			break
		}
		require.True(t, time.Now().Before(deadline), "the stream slot was not freed after the client left")
		time.Sleep(20 * time.Millisecond)
	}
}

func TestEventsStopWhenDoneCloses(t *testing.T) {
	done := make(chan struct{})
	src := newTestSource(nil)
	src.Done = done
	srv := newTestServer(t, src)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp := openEvents(t, ctx, srv.URL)
	r := bufio.NewReader(resp.Body)
	_, _, err := readEvent(r)
	require.NoError(t, err)

	close(done)
	_, err = io.Copy(io.Discard, r)
	assert.NoError(t, err, "the server ends the stream cleanly")
	assert.False(t, errors.Is(ctx.Err(), context.DeadlineExceeded), "the stream ended before the client's deadline")
}

func TestEventsOutliveServerTimeouts(t *testing.T) {
	src := newTestSource(nil)
	src.EventInterval = 50 * time.Millisecond
	done := make(chan struct{})
	src.Done = done
	srv := httptest.NewUnstartedServer(Handler(src))
	// The admin listener has a ReadTimeout and a WriteTimeout too, of 30 s
	// and 5 minutes.
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Config.WriteTimeout = 300 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp := openEvents(t, ctx, srv.URL)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	r := bufio.NewReader(resp.Body)
	start := time.Now()
	events := 0
	for time.Since(start) < time.Second {
		_, _, err := readEvent(r)
		require.NoError(t, err, "event %d, %v after the first", events, time.Since(start))
		events++
	}
	assert.GreaterOrEqual(t, events, 10)
}
