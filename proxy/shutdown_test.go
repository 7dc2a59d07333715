package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/balancer"
)

func TestShutdownFinishesInFlight(t *testing.T) {
	backend := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(500 * time.Millisecond)
		io.WriteString(w, "finished")
	})
	tp := startProxy(t, Options{}, instance("i1", backend.addr(), "acme"))

	type result struct {
		status int
		body   string
	}
	done := make(chan result, 1)
	go func() {
		status, body, _ := get(t, tp.addr, "acme.apps.test", "/slow")
		done <- result{status, body}
	}()
	require.Eventually(t, func() bool { return backend.count() == 1 }, 5*time.Second, 5*time.Millisecond)

	require.NoError(t, tp.Shutdown(context.Background()))
	select {
	case r := <-done:
		assert.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, "finished", r.body)
	case <-time.After(5 * time.Second):
		t.Fatal("in-flight request did not finish")
	}

	_, err := http.Get("http://" + tp.addr + "/")
	assert.Error(t, err, "the listener must be closed after a drain")
}

// TestShutdownBeforeServe shuts the proxy down before Serve starts, as a
// signal that arrives during startup does. Serve must return nil at once
// and close its listener instead of accepting forever.
func TestShutdownBeforeServe(t *testing.T) {
	p, err := New(Options{}, testExtractor(t), &balancer.Router{}, nil)
	require.NoError(t, err)
	require.NoError(t, p.Shutdown(context.Background()))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- p.Serve(ln) }()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		ln.Close()
		t.Fatal("Serve after Shutdown still accepts after 5 s")
	}

	_, err = net.DialTimeout("tcp", ln.Addr().String(), time.Second)
	assert.Error(t, err, "the listener still accepts connections")
}

// TestShutdownRacesServe starts Serve and Shutdown together many times, so
// that Shutdown sometimes runs before fasthttp has the listener. Every
// Serve must return.
func TestShutdownRacesServe(t *testing.T) {
	for i := range 200 {
		p, err := New(Options{}, testExtractor(t), &balancer.Router{}, nil)
		require.NoError(t, err)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)

		done := make(chan error, 1)
		go func() { done <- p.Serve(ln) }()
		require.NoError(t, p.Shutdown(context.Background()), "round %d", i)
		select {
		case err := <-done:
			require.NoError(t, err, "round %d", i)
		case <-time.After(5 * time.Second):
			ln.Close()
			t.Fatalf("round %d: Serve did not return 5 s after Shutdown", i)
		}
	}
}
