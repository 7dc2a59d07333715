package agent

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/dfmapi"
	"github.com/dflb/dflb/internal/testutil"
)

// syncBuffer is a log destination that tests read while DFM writes.
type syncBuffer = testutil.LogBuffer

func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// receiver is a notification receiver like DFLB's, on 127.0.0.1.
type receiver struct {
	t     *testing.T
	token string
	srv   *httptest.Server
	mu    sync.Mutex
	got   []dfmapi.Notification
	// status, when set, is returned instead of 204 for the next requests.
	status int
}

func newReceiver(t *testing.T, token string) *receiver {
	r := &receiver{t: t, token: token}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// newReceiverAt starts a receiver on addr, which an earlier listener used.
func newReceiverAt(t *testing.T, token, addr string) *receiver {
	r := &receiver{t: t, token: token}
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	r.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(r.serve)}}
	r.srv.Start()
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) url() string { return r.srv.URL + "/v1/notifications" }

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	if req.Header.Get("Authorization") != "Bearer "+r.token {
		http.Error(w, `{"error":"invalid token"}`, http.StatusUnauthorized)
		return
	}
	var n dfmapi.Notification
	if err := json.NewDecoder(req.Body).Decode(&n); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := n.Validate(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.status != 0 {
		w.WriteHeader(r.status)
		return
	}
	r.got = append(r.got, n)
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) notifications() []dfmapi.Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]dfmapi.Notification(nil), r.got...)
}

// waitFor waits until a received notification matches and returns it.
func (r *receiver) waitFor(kind dfmapi.Kind, component string, timeout time.Duration) dfmapi.Notification {
	r.t.Helper()
	var found dfmapi.Notification
	require.Eventually(r.t, func() bool {
		for _, n := range r.notifications() {
			if n.Kind == kind && n.Component == component {
				found = n
				return true
			}
		}
		return false
	}, timeout, 20*time.Millisecond, "no %s notification for %q; received %v", kind, component, kindsOf(r.notifications()))
	return found
}

func kindsOf(ns []dfmapi.Notification) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = string(n.Kind) + "/" + n.Component
	}
	return out
}

// reserveAddr returns a loopback address that nothing listens on now.
func reserveAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}
