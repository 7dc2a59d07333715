package proxy

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
