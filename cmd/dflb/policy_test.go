package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/controlplane"
	"github.com/dflb/dflb/provider/local"
)

// countDecisions returns how many decisions of each kind the control
// plane made.
func countDecisions(a *app) map[string]int {
	out := map[string]int{}
	for _, d := range a.instances.controller.Decisions(1000) {
		out[d.Kind]++
	}
	return out
}

// Load that swings around the overload threshold for 60 seconds makes at
// most one scale-out, and the scale-in cooldown keeps the new instance
// even though the quiet phases look like low usage.
func TestOscillatingLoadDoesNotFlap(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 60 seconds")
	}
	a := startScaleApp(t, scaleConfig(t.TempDir(), "127.0.73", `  enabled: true
  max_instances: 4
  overload_rps: 100
  overload_for: 3s
  low_rps: 20
  low_for: 3s
  warmup: 2s`, "i1=acme,globex,initech"))
	addr := a.proxyLn.Addr().String()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	quiet := 100 * time.Millisecond
	l := startPacedLoad(ctx, addr, map[string]tenantRate{
		"acme":    {clients: 2, pace: quiet},
		"globex":  {clients: 2, pace: quiet},
		"initech": {clients: 1, pace: quiet},
	})

	end := time.Now().Add(60 * time.Second)
	for busy := true; time.Now().Before(end); busy = !busy {
		pace := quiet
		if busy {
			pace = 0
		}
		l.SetPace("acme", pace)
		l.SetPace("globex", pace)
		time.Sleep(4 * time.Second)
	}
	stopLoad(t, l, cancel)
	logDecisions(t, a)

	counts := countDecisions(a)
	assert.LessOrEqual(t, counts["scale_out"], 1, "scale-outs")
	assert.Zero(t, counts["scale_in"], "scale-ins during the cooldown")
	t.Logf("after 60 s of oscillation: %d scale-out, %d scale-in, placement %v", counts["scale_out"], counts["scale_in"], placement(a))
}

// Every instance of a tenant down at once: its requests get 503 with
// Retry-After within a bounded time, never a hang, and the tenant is
// served again once the supervisor has restarted the instance.
func TestAllInstancesOfTenantDown(t *testing.T) {
	// A short try_duration makes the proxy respond before the supervisor has restarted
	// the instance.
	text := strings.Replace(scaleConfig(t.TempDir(), "127.0.74", `  enabled: false`, "i1=acme"),
		"autoscale:", "proxy:\n  try_duration: 500ms\nautoscale:", 1)
	a := startScaleApp(t, text)
	addr := a.proxyLn.Addr().String()
	p := a.instances.launcher.Provider.(*local.Provider)

	status, _, err := served(addr, "acme")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)

	require.NoError(t, p.Kill(context.Background(), "i1"))
	client := http.Client{Timeout: 15 * time.Second}
	var retryAfter string
	require.Eventually(t, func() bool {
		req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
		require.NoError(t, err)
		req.Host = "acme.apps.localhost"
		started := time.Now()
		resp, err := client.Do(req)
		require.NoError(t, err, "the proxy must answer, not hang")
		resp.Body.Close()
		assert.Less(t, time.Since(started), 10*time.Second, "answer time")
		retryAfter = resp.Header.Get("Retry-After")
		return resp.StatusCode == http.StatusServiceUnavailable
	}, 30*time.Second, 50*time.Millisecond, "no 503 while the only instance is down")
	assert.NotEmpty(t, retryAfter, "503 without Retry-After")

	require.Eventually(t, func() bool {
		status, _, err := served(addr, "acme")
		return err == nil && status == http.StatusOK
	}, 60*time.Second, 200*time.Millisecond, "acme was not served again after the restart")
}

// The decision log and the cancel command need the admin token, filter
// by kind and time, and refuse to cancel when no scale-in runs.
func TestDecisionLogAndCancelAPI(t *testing.T) {
	a := startScaleApp(t, scaleConfig(t.TempDir(), "127.0.75", `  enabled: false`, "i1=acme"))
	base := "http://" + a.adminLn.Addr().String()
	do := func(method, path, token string) (int, string) {
		req, err := http.NewRequest(method, base+path, nil)
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

	status, _ := do(http.MethodGet, "/v1/decisions", "")
	assert.Equal(t, http.StatusUnauthorized, status)
	status, _ = do(http.MethodGet, "/v1/decisions", "wrong-token")
	assert.Equal(t, http.StatusUnauthorized, status)

	status, body := do(http.MethodGet, "/v1/decisions?kind=apply", "test-admin-token")
	require.Equal(t, http.StatusOK, status, body)
	var decisions []controlplane.Decision
	require.NoError(t, json.Unmarshal([]byte(body), &decisions))
	require.Len(t, decisions, 1, body)
	assert.Equal(t, "apply", decisions[0].Kind)

	future := url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))
	status, body = do(http.MethodGet, "/v1/decisions?since="+future, "test-admin-token")
	require.Equal(t, http.StatusOK, status, body)
	assert.JSONEq(t, "[]", body)

	status, body = do(http.MethodGet, "/v1/decisions?since=yesterday", "test-admin-token")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, `invalid since \"yesterday\"`)

	status, body = do(http.MethodPost, "/v1/operations/cancel", "test-admin-token")
	assert.Equal(t, http.StatusConflict, status)
	assert.Contains(t, body, "no operation that can be cancelled")
}
