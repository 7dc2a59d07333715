package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/controlplane"
	"github.com/dflb/dflb/dfmapi"
)

// 100 tenants created while existing tenants are under load: no request
// fails, each new tenant answers within a bounded time, and the tenants
// spread over instances as max_tenants_per_instance requires.
func TestCreateTenantsUnderLoad(t *testing.T) {
	a := startScaleApp(t, scaleConfig(t.TempDir(), "127.0.76", `  enabled: false
  max_instances: 4
  max_tenants_per_instance: 40`, "i1=acme,globex"))
	addr := a.proxyLn.Addr().String()
	c := a.instances.controller

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	l := startPacedLoad(ctx, addr, map[string]tenantRate{
		"acme":   {clients: 2, pace: 5 * time.Millisecond},
		"globex": {clients: 2, pace: 5 * time.Millisecond},
	})

	var wg sync.WaitGroup
	var mu sync.Mutex
	var slowest time.Duration
	for i := range 100 {
		id := fmt.Sprintf("tenant-%03d", i)
		created := time.Now()
		_, err := c.CreateTenant(controlplane.TenantSpec{ID: id, Plan: "basic"})
		require.NoError(t, err)
		wg.Go(func() {
			if !assert.Eventually(t, func() bool {
				status, _, err := served(addr, id)
				return err == nil && status == http.StatusOK
			}, 60*time.Second, 50*time.Millisecond, "tenant %s never answered", id) {
				return
			}
			mu.Lock()
			slowest = max(slowest, time.Since(created))
			mu.Unlock()
		})
	}
	wg.Wait()
	stopLoad(t, l, cancel)
	t.Logf("slowest new tenant answered %s after its creation", slowest.Round(time.Millisecond))

	// A tenant answers once its routes switch; its record turns ready when
	// the operation that placed it ends, a moment later.
	require.Eventually(t, func() bool {
		for _, v := range c.Tenants() {
			if v.State != controlplane.TenantReady {
				return false
			}
		}
		return true
	}, 30*time.Second, 100*time.Millisecond, "tenants not ready")

	perInstance := map[string]int{}
	for _, v := range c.Tenants() {
		for _, inst := range v.Instances {
			perInstance[inst]++
		}
	}
	t.Logf("tenants per instance: %v", perInstance)
	assert.GreaterOrEqual(t, len(perInstance), 3, "102 tenants at 40 per instance need three instances")
	for inst, n := range perInstance {
		assert.LessOrEqual(t, n, 40, "tenants on %s", inst)
	}
}

// A tenant removed under load gets 404 once its routes are gone, no other
// tenant sees an error, and its component no longer lists it.
func TestRemoveTenantUnderLoad(t *testing.T) {
	a := startScaleApp(t, scaleConfig(t.TempDir(), "127.0.78", `  enabled: false`, "i1=acme,globex"))
	addr := a.proxyLn.Addr().String()
	c := a.instances.controller

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l := startPacedLoad(ctx, addr, map[string]tenantRate{"acme": {clients: 2, pace: 5 * time.Millisecond}})

	removed := time.Now()
	require.NoError(t, c.RemoveTenant("globex"))
	require.Eventually(t, func() bool {
		status, _, err := served(addr, "globex")
		return err == nil && status == http.StatusNotFound
	}, 30*time.Second, 20*time.Millisecond, "globex still routed")
	t.Logf("globex answered 404 %s after its removal", time.Since(removed).Round(time.Millisecond))
	require.Eventually(t, func() bool {
		_, ok := c.Tenant("globex")
		return !ok
	}, 30*time.Second, 50*time.Millisecond, "globex still has a record")
	stopLoad(t, l, cancel)

	st, err := fetchDFMStatus(a, "i1")
	require.NoError(t, err)
	comp, ok := st.Component("app")
	require.True(t, ok)
	assert.Equal(t, []string{"acme"}, comp.Tenants)
}

// fetchDFMStatus requests the status of the named instance's DFM.
func fetchDFMStatus(a *app, name string) (dfmapi.Status, error) {
	r, ok := a.instances.controller.State().Instances[name]
	if !ok {
		return dfmapi.Status{}, fmt.Errorf("instance %s is not in the state", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client := &dfmapi.Client{BaseURL: r.DFMURL, Token: "test-dfm-secret"}
	return client.Status(ctx)
}
