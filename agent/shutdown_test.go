package agent

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/dfmapi"
)

// TestShutdownWaitsForRequest checks the order of a graceful shutdown: a
// request in flight completes, then the component exits, then
// shutdown_complete is sent and Run returns.
func TestShutdownWaitsForRequest(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, testToken)
	port := freePort(t)
	h := startAgent(t, testYAML(t, t.TempDir(), r.url(), sampleComponent("app", port, "10s", "")))
	h.waitState("app", dfmapi.ComponentUp, 10*time.Second)

	type result struct {
		status int
		body   string
		err    error
		at     time.Time
	}
	_, err := h.client.SetTenants(t.Context(), dfmapi.TenantsRequest{Tenants: []string{"acme"}})
	require.NoError(t, err)
	waitServed(t, port, "acme")

	done := make(chan result, 1)
	requestStart := time.Now()
	go func() {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/?sleep=3000", port), nil)
		req.Header.Set("X-Tenant-ID", "acme")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err, at: time.Now()}
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{status: resp.StatusCode, body: string(body), at: time.Now()}
	}()
	time.Sleep(500 * time.Millisecond)

	require.NoError(t, h.client.Shutdown(t.Context(), dfmapi.ShutdownRequest{Deadline: dfmapi.Duration(20 * time.Second)}))
	st, err := h.client.Status(t.Context())
	require.NoError(t, err)
	assert.Equal(t, dfmapi.InstanceShuttingDown, st.State)

	var res result
	select {
	case res = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("request did not complete within 10s")
	}
	require.NoError(t, res.err)
	assert.Equal(t, http.StatusOK, res.status, "body %q", res.body)
	assert.GreaterOrEqual(t, res.at.Sub(requestStart), 3*time.Second)

	select {
	case err := <-h.done:
		require.NoError(t, err)
		h.done <- err // for the cleanup
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after the shutdown")
	}
	stopped := h.logLines(`msg="component stopped"`)
	require.Len(t, stopped, 1)
	assert.False(t, logTime(t, stopped[0]).Before(res.at.Add(-50*time.Millisecond)),
		"the component stopped at %s, before the request completed at %s", logTime(t, stopped[0]), res.at)
	assert.Contains(t, stopped[0], `exit="exit status 0"`)

	complete := r.waitFor(dfmapi.KindShutdownComplete, "", time.Second)
	assert.False(t, complete.Time.Before(logTime(t, stopped[0]).Truncate(time.Millisecond)))
	assert.Equal(t, dfmapi.KindShutdownComplete, r.notifications()[len(r.notifications())-1].Kind, "shutdown_complete is the last notification")
	assert.Equal(t, dfmapi.InstanceStopped, h.agent.Status().State)
	_, err = h.client.Status(t.Context())
	assert.Error(t, err, "the API is closed after the shutdown")
}
