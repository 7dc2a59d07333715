package agent

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/dfmapi"
)

// TestOverloadFromRealLoad burns CPU in the sample component with ?work and
// checks that DFM, reading the real /proc, reports overload. Only overload
// is checked with real load: other tests running at the same time can keep
// the host from looking idle, but never from looking busy.
func TestOverloadFromRealLoad(t *testing.T) {
	r := newReceiver(t, testToken)
	port := freePort(t)
	yaml := testYAML(t, t.TempDir(), r.url(), sampleComponent("app", port, "10s", ""))
	yaml = strings.Replace(yaml, "load: {interval: 200ms}",
		"load: {interval: 200ms, overload_cpu: 0.5, overload_window: 1s, low_cpu: 0.01, low_window: 10m}", 1)
	h := startAgent(t, yaml)
	h.waitState("app", dfmapi.ComponentUp, 10*time.Second)
	_, err := h.client.SetTenants(context.Background(), dfmapi.TenantsRequest{Tenants: []string{"acme"}})
	require.NoError(t, err)
	probe := fmt.Sprintf("http://127.0.0.1:%d/", port)
	require.Eventually(t, func() bool {
		req, _ := http.NewRequest(http.MethodGet, probe, nil)
		req.Header.Set("X-Tenant-ID", "acme")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 50*time.Millisecond, "the component never served acme")

	ctx, stop := context.WithTimeout(context.Background(), 20*time.Second)
	defer stop()
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			url := fmt.Sprintf("http://127.0.0.1:%d/?work=500", port)
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				req.Header.Set("X-Tenant-ID", "acme")
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				}
			}
		})
	}

	n := r.waitFor(dfmapi.KindOverload, "", 15*time.Second)
	stop()
	wg.Wait()

	assert.Equal(t, "i-test", n.Instance)
	assert.GreaterOrEqual(t, n.Measurements.CPU, 0.5, "the notification carries the CPU that caused it")
}
