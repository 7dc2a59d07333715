package agent

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/dfmapi"
)

// get sends GET / for tenant to the sample component on port and returns the
// status code, or 0 on a transport error.
func get(client *http.Client, port int, tenant string) int {
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/", port), nil)
	req.Header.Set("X-Tenant-ID", tenant)
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// waitServed waits until the component on port serves tenant.
func waitServed(t *testing.T, port int, tenant string) {
	t.Helper()
	require.Eventually(t, func() bool { return get(http.DefaultClient, port, tenant) == http.StatusOK },
		5*time.Second, 10*time.Millisecond, "tenant %s not served on port %d", tenant, port)
}

func TestTenantChangeDropsNoRequest(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	h := startAgent(t, testYAML(t, t.TempDir(), "", sampleComponent("app", port, "5s", "")))
	h.waitState("app", dfmapi.ComponentUp, 10*time.Second)
	require.NoError(t, h.client.Start(t.Context(), dfmapi.StartRequest{Components: []string{"app"}, Tenants: []string{"acme", "globex"}}))
	waitServed(t, port, "acme")
	waitServed(t, port, "globex")

	// globex stays in the set, so every request for it must succeed while
	// the set changes.
	var sent, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			client := &http.Client{Timeout: 5 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				sent.Add(1)
				if code := get(client, port, "globex"); code != http.StatusOK {
					failed.Add(1)
					t.Logf("request for globex got status %d", code)
				}
			}
		})
	}
	time.Sleep(200 * time.Millisecond)

	st, err := h.client.SetTenants(t.Context(), dfmapi.TenantsRequest{Tenants: []string{"globex", "Initech"}})
	require.NoError(t, err)
	app, _ := st.Component("app")
	assert.Equal(t, []string{"globex", "initech"}, app.Tenants)
	waitServed(t, port, "initech")
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()

	assert.Equal(t, http.StatusMisdirectedRequest, get(http.DefaultClient, port, "acme"))
	assert.Greater(t, sent.Load(), int64(20))
	assert.Zero(t, failed.Load(), "failed requests out of %d", sent.Load())
	data, err := os.ReadFile(h.cfg.TenantsFile("app"))
	require.NoError(t, err)
	assert.Contains(t, string(data), "\nglobex\ninitech\n")
	st2, _ := h.agent.Status().Component("app")
	assert.Equal(t, 0, st2.Restarts, "a signal reload does not restart the component")
}

func TestTenantReloadByRestart(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	h := startAgent(t, testYAML(t, t.TempDir(), "", sampleComponent("app", port, "5s", "    tenants_reload: restart\n")))
	first := h.waitState("app", dfmapi.ComponentUp, 10*time.Second)

	_, err := h.client.SetTenants(t.Context(), dfmapi.TenantsRequest{Tenants: []string{"acme"}})
	require.NoError(t, err)
	waitServed(t, port, "acme")
	second := h.waitState("app", dfmapi.ComponentUp, 5*time.Second)
	assert.NotEqual(t, first.PID, second.PID)
	assert.Equal(t, 1, second.Restarts)
}

func TestTenantsSurviveDFMRestart(t *testing.T) {
	t.Parallel()
	stateDir := t.TempDir()
	require.NoError(t, os.MkdirAll(stateDir+"/tenants", 0o755))
	require.NoError(t, os.WriteFile(stateDir+"/tenants/app.txt", []byte("# kept from the last run\nacme\n"), 0o644))
	port := freePort(t)
	h := startAgent(t, testYAML(t, stateDir, "", sampleComponent("app", port, "5s", "")))
	st := h.waitState("app", dfmapi.ComponentUp, 10*time.Second)
	assert.Equal(t, []string{"acme"}, st.Tenants)
	assert.Equal(t, http.StatusOK, get(http.DefaultClient, port, "acme"))
}
