package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/controlplane"
	"github.com/dflb/dflb/dfmapi"
)

// 100 tenants created while existing tenants are under load: no request
// fails, each new tenant responds within a bounded time, and the tenants
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

	// A tenant responds once its routes switch. Its record turns ready when
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
// tenant gets an error, and its component no longer lists it.
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

// adminRequest sends a request with the admin token and returns the
// status and body.
func adminRequest(t *testing.T, a *app, method, path, body string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+a.adminLn.Addr().String()+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer test-admin-token")
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(data)
}

// The tenant API and the Open Service Broker API create and remove real
// tenants: routed once ready, 404 once removed.
func TestBrokerOffAnswers404(t *testing.T) {
	a := startScaleApp(t, scaleConfig(t.TempDir(), "127.0.84", `  enabled: false`, "i1=acme"))

	status, body := adminRequest(t, a, http.MethodGet, "/v2/catalog", "", nil)

	assert.Equal(t, http.StatusNotFound, status)
	assert.Contains(t, body, "broker.service_id")
}

func TestTenantAPIAndBroker(t *testing.T) {
	t.Setenv("DFLB_TEST_BROKER_USER", "market")
	t.Setenv("DFLB_TEST_BROKER_PASSWORD", "market-secret")
	text := strings.Replace(scaleConfig(t.TempDir(), "127.0.80", `  enabled: false`, "i1=acme"), "autoscale:", `broker:
  service_id: 0b4d6e2a-1c3f-4a5b-8c7d-9e0f1a2b3c4d
  username_env: DFLB_TEST_BROKER_USER
  password_env: DFLB_TEST_BROKER_PASSWORD
  tenant_url: "http://{tenant}.apps.localhost"
  plans:
    - {name: small, id: 5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b, description: "Small tenant", limits: {rate: 1000, burst: 100}}
autoscale:`, 1)
	a := startScaleApp(t, text)
	addr := a.proxyLn.Addr().String()

	// Tenant API.
	status, body := adminRequest(t, a, http.MethodPost, "/v1/tenants", `{"id": "hooli"}`, nil)
	require.Equal(t, http.StatusAccepted, status, body)
	require.Eventually(t, func() bool {
		status, body := adminRequest(t, a, http.MethodGet, "/v1/tenants/hooli", "", nil)
		return status == http.StatusOK && strings.Contains(strings.ReplaceAll(body, " ", ""), `"state":"ready"`)
	}, 30*time.Second, 50*time.Millisecond, "hooli never became ready")
	code, _, err := served(addr, "hooli")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, controlplane.TenantLimits{Rate: 1000, Burst: 100}, a.instances.controller.TenantLimits()["hooli"])

	status, body = adminRequest(t, a, http.MethodDelete, "/v1/tenants/hooli", "", nil)
	require.Equal(t, http.StatusAccepted, status, body)
	require.Eventually(t, func() bool {
		code, _, err := served(addr, "hooli")
		return err == nil && code == http.StatusNotFound
	}, 30*time.Second, 50*time.Millisecond, "hooli still routed after its removal")

	// Open Service Broker API, as a marketplace sends it.
	osb := func(method, path, body, user, version string) (int, string) {
		req, err := http.NewRequest(method, "http://"+a.adminLn.Addr().String()+path, strings.NewReader(body))
		require.NoError(t, err)
		req.SetBasicAuth(user, "market-secret")
		if version != "" {
			req.Header.Set("X-Broker-API-Version", version)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(data)
	}
	status, _ = osb(http.MethodGet, "/v2/catalog", "", "intruder", "2.17")
	assert.Equal(t, http.StatusUnauthorized, status)
	status, _ = osb(http.MethodGet, "/v2/catalog", "", "market", "2.10")
	assert.Equal(t, http.StatusPreconditionFailed, status)
	status, body = osb(http.MethodGet, "/v2/catalog", "", "market", "2.17")
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, "0b4d6e2a-1c3f-4a5b-8c7d-9e0f1a2b3c4d")

	const instance = "/v2/service_instances/6a0f3c1e-2b4d-4e6f-8a1c-3e5f7a9b1d2f"
	provision := `{"service_id": "0b4d6e2a-1c3f-4a5b-8c7d-9e0f1a2b3c4d", "plan_id": "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b",
		"organization_guid": "org", "space_guid": "space", "parameters": {"tenant": "pied-piper"}}`
	status, body = osb(http.MethodPut, instance+"?accepts_incomplete=true", provision, "market", "2.17")
	require.Equal(t, http.StatusAccepted, status, body)
	require.Eventually(t, func() bool {
		status, body := osb(http.MethodGet, instance+"/last_operation", "", "market", "2.17")
		return status == http.StatusOK && strings.Contains(body, `"succeeded"`)
	}, 30*time.Second, 100*time.Millisecond, "provisioning did not succeed")

	status, body = osb(http.MethodPut, instance+"/service_bindings/b1", `{"service_id": "0b4d6e2a-1c3f-4a5b-8c7d-9e0f1a2b3c4d", "plan_id": "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b"}`, "market", "2.17")
	require.Equal(t, http.StatusCreated, status, body)
	assert.Contains(t, body, "http://pied-piper.apps.localhost")
	code, _, err = served(addr, "pied-piper")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code, "the bound tenant answers")

	status, body = osb(http.MethodDelete, instance+"/service_bindings/b1?service_id=0b4d6e2a-1c3f-4a5b-8c7d-9e0f1a2b3c4d&plan_id=5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b", "", "market", "2.17")
	require.Equal(t, http.StatusOK, status, body)
	status, body = osb(http.MethodDelete, instance+"?accepts_incomplete=true&service_id=0b4d6e2a-1c3f-4a5b-8c7d-9e0f1a2b3c4d&plan_id=5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b", "", "market", "2.17")
	require.Equal(t, http.StatusAccepted, status, body)
	require.Eventually(t, func() bool {
		code, _, err := served(addr, "pied-piper")
		return err == nil && code == http.StatusNotFound
	}, 30*time.Second, 50*time.Millisecond, "pied-piper still routed after deprovisioning")
}
