package agent

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/dfmapi"
)

const sleepers = `  - {name: one, command: /bin/sleep, args: ["60"], grace: 1s, health: {interval: 100ms}}
  - {name: two, command: /bin/sleep, args: ["60"], grace: 1s, health: {interval: 100ms}}
`

// call sends a request to DFM's API and returns the status and body.
func call(t *testing.T, h *harness, method, path, auth, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, h.client.BaseURL+path, strings.NewReader(body))
	require.NoError(t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(data)
}

func TestAPIRequiresToken(t *testing.T) {
	t.Parallel()
	h := startAgent(t, testYAML(t, t.TempDir(), "", sleepers))

	status, body := call(t, h, http.MethodGet, "/healthz", "", "")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "ok", body)

	protected := []struct{ method, path string }{
		{http.MethodGet, "/v1/status"},
		{http.MethodPut, "/v1/tenants"},
		{http.MethodPost, "/v1/components/start"},
		{http.MethodPost, "/v1/components/one/restart"},
		{http.MethodPost, "/v1/components/one/reset"},
		{http.MethodPost, "/v1/shutdown"},
		{http.MethodGet, "/metrics"},
	}
	for _, p := range protected {
		for _, auth := range []string{"", "Bearer wrong-token", "Bearer " + testToken[:len(testToken)-1], "Basic " + testToken, testToken} {
			status, body := call(t, h, p.method, p.path, auth, "")
			assert.Equal(t, http.StatusUnauthorized, status, "%s %s with %q", p.method, p.path, auth)
			assert.JSONEq(t, `{"error":"missing or invalid bearer token"}`, body)
		}
	}
	assert.Equal(t, dfmapi.InstanceRunning, h.agent.Status().State, "an unauthorized shutdown does nothing")

	status, _ = call(t, h, http.MethodGet, "/v1/status", "Bearer "+testToken, "")
	assert.Equal(t, http.StatusOK, status)
	assert.NotEmpty(t, h.logLines("unauthorized API request"))
	assert.NotContains(t, h.logs.String(), testToken)
	assert.NotContains(t, h.logs.String(), "wrong-token")
}

func TestAPIRejectsBadRequests(t *testing.T) {
	t.Parallel()
	h := startAgent(t, testYAML(t, t.TempDir(), "", sleepers))
	auth := "Bearer " + testToken
	tests := []struct {
		name, method, path, body string
		status                   int
		message                  string
	}{
		{"unknown component", http.MethodPost, "/v1/components/nope/restart", "", 404, `unknown component \"nope\"; this instance runs one, two`},
		{"unknown component in list", http.MethodPut, "/v1/tenants", `{"tenants":["a"],"components":["one","nope"]}`, 404, `unknown component \"nope\"`},
		{"invalid JSON", http.MethodPut, "/v1/tenants", `{"tenants":`, 400, "invalid JSON body"},
		{"unknown field", http.MethodPut, "/v1/tenants", `{"tenant":["a"]}`, 400, `unknown field \"tenant\"`},
		{"missing tenants", http.MethodPut, "/v1/tenants", `{}`, 400, `missing field \"tenants\"`},
		{"invalid tenant", http.MethodPut, "/v1/tenants", `{"tenants":["ok","not ok"]}`, 400, "field tenants: "},
		{"invalid deadline", http.MethodPost, "/v1/shutdown", `{"deadline":"soon"}`, 400, "invalid duration"},
	}
	for _, tt := range tests {
		status, body := call(t, h, tt.method, tt.path, auth, tt.body)
		assert.Equal(t, tt.status, status, tt.name)
		assert.Contains(t, body, tt.message, tt.name)
		var e dfmapi.ErrorResponse
		assert.NoError(t, json.Unmarshal([]byte(body), &e), "%s: error body is JSON", tt.name)
	}
	assert.Equal(t, dfmapi.InstanceRunning, h.agent.Status().State)
}

func TestAPIStatusAndRestart(t *testing.T) {
	t.Parallel()
	h := startAgent(t, testYAML(t, t.TempDir(), "", sleepers))
	h.waitState("one", dfmapi.ComponentUp, 5*time.Second)
	before := h.waitState("two", dfmapi.ComponentUp, 5*time.Second)

	st, err := h.client.Status(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "i-test", st.Instance)
	assert.Equal(t, "127.0.0.1", st.Address)
	assert.Equal(t, dfmapi.InstanceRunning, st.State)
	require.Len(t, st.Components, 2)

	require.NoError(t, h.client.Restart(t.Context(), "two"))
	require.Eventually(t, func() bool {
		two, _ := h.agent.Status().Component("two")
		return two.State == dfmapi.ComponentUp && two.PID != before.PID
	}, 5*time.Second, 20*time.Millisecond)
	two, _ := h.agent.Status().Component("two")
	assert.Equal(t, 1, two.Restarts)
	assert.Equal(t, "signal: terminated", two.LastExit)
	one, _ := h.agent.Status().Component("one")
	assert.Equal(t, 0, one.Restarts, "only the named component restarts")

	status, body := call(t, h, http.MethodGet, "/metrics", "Bearer "+testToken, "")
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, `dfm_component_restarts_total{component="two"} 1`)
	assert.Contains(t, body, `dfm_component_up{component="one"} 1`)
	assert.Contains(t, body, "dfm_host_cpu ")
}

func TestAPIStartStoppedComponent(t *testing.T) {
	t.Parallel()
	components := `  - {name: lazy, command: /bin/sleep, args: ["60"], grace: 1s, autostart: false, health: {interval: 100ms}}
`
	h := startAgent(t, testYAML(t, t.TempDir(), "", components))
	time.Sleep(200 * time.Millisecond)
	st, _ := h.agent.Status().Component("lazy")
	assert.Equal(t, dfmapi.ComponentStopped, st.State, "autostart: false")

	require.NoError(t, h.client.Start(t.Context(), dfmapi.StartRequest{Tenants: []string{"acme"}}))
	st = h.waitState("lazy", dfmapi.ComponentUp, 5*time.Second)
	assert.Equal(t, []string{"acme"}, st.Tenants)
}

func TestAPIRejectsChangesWhileShuttingDown(t *testing.T) {
	t.Parallel()
	components := `  - name: stubborn
    command: /bin/sh
    args: ["-c", "trap '' TERM; sleep 60 & wait"]
    health: {interval: 100ms}
    grace: 2s
`
	h := startAgent(t, testYAML(t, t.TempDir(), "", components))
	h.waitState("stubborn", dfmapi.ComponentUp, 5*time.Second)
	require.NoError(t, h.client.Shutdown(t.Context(), dfmapi.ShutdownRequest{}))

	status, body := call(t, h, http.MethodPost, "/v1/components/stubborn/restart", "Bearer "+testToken, "")
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Contains(t, body, "DFM is shutting_down")
	h.waitState("stubborn", dfmapi.ComponentStopped, 10*time.Second)
	assert.Len(t, h.logLines("component did not stop within its grace period"), 1, "SIGKILL after the grace period")
}
