package admin

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newTestServer(t *testing.T, healthy func() error) *httptest.Server {
	t.Helper()
	s, err := New("s3cret-token", healthy, nil)
	require.NoError(t, err)
	s.HandleMetrics(func(w io.Writer) { io.WriteString(w, "dflb_test_total 1\n") })
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

func TestMetricsRequiresToken(t *testing.T) {
	ts := newTestServer(t, nil)

	status, _ := get(t, ts.URL+"/metrics", "")
	assert.Equal(t, http.StatusUnauthorized, status)

	status, _ = get(t, ts.URL+"/metrics", "wrong")
	assert.Equal(t, http.StatusUnauthorized, status)

	status, body := get(t, ts.URL+"/metrics", "s3cret-token")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "dflb_test_total 1\n", body)
}

func TestHealthzOpen(t *testing.T) {
	ready := errors.New("no routing table yet")
	ts := newTestServer(t, func() error { return ready })

	status, body := get(t, ts.URL+"/healthz", "")
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Contains(t, body, "no routing table yet")

	ready = nil
	status, body = get(t, ts.URL+"/healthz", "")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "ok\n", body)
}

func TestEmptyTokenRejected(t *testing.T) {
	_, err := New("", nil, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "empty token")
}

func TestProfilingRequiresToken(t *testing.T) {
	s, err := New("s3cret-token", nil, nil)
	require.NoError(t, err)
	s.HandleProfiling()
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()

	status, _ := get(t, ts.URL+"/debug/pprof/", "")
	assert.Equal(t, http.StatusUnauthorized, status)

	status, body := get(t, ts.URL+"/debug/pprof/", "s3cret-token")
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, "goroutine")
}
