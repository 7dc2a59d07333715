package broker

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tenantBody decodes a tenant from a response.
func tenantBody(t *testing.T, resp response) Tenant {
	t.Helper()
	var tenant Tenant
	require.NoError(t, json.Unmarshal(resp.body, &tenant), "body: %s", resp.body)
	return tenant
}

// waitForState polls GET /v1/tenants/{id} until the tenant is in state.
func waitForState(t *testing.T, c *tenantClient, id, state string) Tenant {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp := c.do(http.MethodGet, "/v1/tenants/"+id, nil)
		if resp.status == http.StatusOK {
			if tenant := tenantBody(t, resp); tenant.State == state {
				return tenant
			}
		}
		require.True(t, time.Now().Before(deadline), "tenant %s not %s after 5s", id, state)
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTenantAPICreate(t *testing.T) {
	m := newFakeManager(t, fakeDelay)
	c, logs := startTenantAPI(t, m)

	resp := c.do(http.MethodPost, "/v1/tenants", map[string]any{
		"id": "ACME", "plan": "free", "limits": map[string]any{"rate": 50}, "metadata": map[string]string{"team": "web"},
	})
	require.Equal(t, http.StatusAccepted, resp.status, "body: %s", resp.body)
	created := tenantBody(t, resp)
	assert.Equal(t, "acme", created.ID, "the ID is folded to lower case")
	assert.Equal(t, StatePending, created.State)
	assert.Equal(t, "free", created.Plan)
	assert.Equal(t, 1, created.Weight, "the plan's weight applies")
	assert.Equal(t, Limits{Rate: 50, Burst: 20, MaxConcurrent: 4}, created.Limits, "rate overrides the plan, the rest comes from it")
	assert.Equal(t, map[string]string{"team": "web"}, created.Metadata)

	ready := waitForState(t, c, "acme", StateReady)
	assert.Equal(t, []string{"i1"}, ready.Instances)

	again := c.do(http.MethodPost, "/v1/tenants", map[string]any{
		"id": "acme", "plan": "free", "limits": map[string]any{"rate": 50}, "metadata": map[string]string{"team": "web"},
	})
	assert.Equal(t, http.StatusOK, again.status, "identical tenant that is ready; body: %s", again.body)
	assert.Equal(t, StateReady, tenantBody(t, again).State)

	conflict := c.do(http.MethodPost, "/v1/tenants", map[string]any{"id": "acme", "plan": "pro"})
	assert.Equal(t, http.StatusConflict, conflict.status, "body: %s", conflict.body)
	assert.Contains(t, string(conflict.body), "PATCH /v1/tenants/acme")

	defaulted := c.do(http.MethodPost, "/v1/tenants", map[string]any{"id": "globex"})
	require.Equal(t, http.StatusAccepted, defaulted.status, "body: %s", defaulted.body)
	assert.Equal(t, "free", tenantBody(t, defaulted).Plan, "a request without plan gets the default plan")

	assert.Contains(t, logs.String(), "tenant create requested")
}

func TestTenantAPIList(t *testing.T) {
	m := newFakeManager(t, fakeDelay)
	m.put(Tenant{ID: "umbrella", Plan: "pro", State: StateReady})
	m.put(Tenant{ID: "acme", Plan: "free", State: StateReady})
	m.put(Tenant{ID: "initech", Plan: "free", State: StatePending})
	c, _ := startTenantAPI(t, m)

	var all tenantList
	resp := c.do(http.MethodGet, "/v1/tenants", nil)
	require.Equal(t, http.StatusOK, resp.status)
	require.NoError(t, json.Unmarshal(resp.body, &all))
	ids := []string{}
	for _, tenant := range all.Tenants {
		ids = append(ids, tenant.ID)
	}
	assert.Equal(t, []string{"acme", "initech", "umbrella"}, ids, "sorted by ID")

	var ready tenantList
	resp = c.do(http.MethodGet, "/v1/tenants?state=ready", nil)
	require.Equal(t, http.StatusOK, resp.status)
	require.NoError(t, json.Unmarshal(resp.body, &ready))
	assert.Len(t, ready.Tenants, 2)

	var removing tenantList
	resp = c.do(http.MethodGet, "/v1/tenants?state=removing", nil)
	require.Equal(t, http.StatusOK, resp.status)
	require.NoError(t, json.Unmarshal(resp.body, &removing))
	assert.NotNil(t, removing.Tenants, "an empty list is [] in JSON, not null")
	assert.Empty(t, removing.Tenants)

	bad := c.do(http.MethodGet, "/v1/tenants?state=sleeping", nil)
	assert.Equal(t, http.StatusBadRequest, bad.status)
	assert.Contains(t, string(bad.body), `\"sleeping\"`)
}

func TestTenantAPIValidation(t *testing.T) {
	m := newFakeManager(t, fakeDelay)
	c, _ := startTenantAPI(t, m)

	cases := []struct {
		name     string
		body     any
		contains []string
	}{
		{"ID with underscore", map[string]any{"id": "acme_1", "plan": "free"}, []string{`acme_1`, "use only a-z, 0-9 and '-'"}},
		{"ID ends with hyphen", map[string]any{"id": "acme-", "plan": "free"}, []string{`acme-`, "starts or ends with '-'"}},
		{"ID too long", map[string]any{"id": strings.Repeat("a", 64), "plan": "free"}, []string{"64 bytes", "maximum of 63"}},
		{"missing ID", map[string]any{"plan": "free"}, []string{"the ID is empty"}},
		{"unknown plan", map[string]any{"id": "acme", "plan": "gold"}, []string{`gold`, "use one of: free, pro"}},
		{"unknown field", map[string]any{"id": "acme", "plan": "free", "tier": "gold"}, []string{`unknown field`, "tier"}},
		{"negative rate", map[string]any{"id": "acme", "limits": map[string]any{"rate": -1}}, []string{"rate -1", "from 0"}},
		{"negative weight", map[string]any{"id": "acme", "weight": -2}, []string{"weight -2"}},
		{"reserved metadata key", map[string]any{"id": "acme", "metadata": map[string]string{"osb_instance_id": "x"}}, []string{"osb_instance_id", "reserved for the service broker"}},
		{"control character in metadata", map[string]any{"id": "acme", "metadata": map[string]string{"team": "a\nb"}}, []string{"control characters"}},
		{"malformed JSON", `{"id": "acme"`, []string{"invalid request body"}},
		{"two objects", `{"id": "acme"} {"id": "globex"}`, []string{"data after the JSON object"}},
		{"empty body", nil, []string{"the body is empty"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client := *c
			client.t = t
			resp := client.do(http.MethodPost, "/v1/tenants", tc.body)
			require.Equal(t, http.StatusBadRequest, resp.status, "body: %s", resp.body)
			var body apiError
			require.NoError(t, json.Unmarshal(resp.body, &body))
			for _, want := range tc.contains {
				assert.Contains(t, body.Error, want)
			}
		})
	}
	assert.Empty(t, m.ListTenants(), "an invalid request created a tenant")

	badPath := c.do(http.MethodGet, "/v1/tenants/Acme_1", nil)
	assert.Equal(t, http.StatusBadRequest, badPath.status)
	assert.Contains(t, string(badPath.body), "Acme_1")
}

func TestTenantAPIUpdate(t *testing.T) {
	m := newFakeManager(t, fakeDelay)
	m.put(Tenant{
		ID: "acme", Plan: "free", Weight: 1, Limits: freeLimits, State: StateReady,
		Metadata: map[string]string{"team": "web", "cost_center": "42", osbInstanceKey: "inst-1"},
	})
	c, logs := startTenantAPI(t, m)

	meta := c.do(http.MethodPatch, "/v1/tenants/acme", map[string]any{
		"metadata": map[string]any{"team": "api", "cost_center": nil, "owner": "ops"},
		"limits":   map[string]any{"max_queued": 8},
	})
	require.Equal(t, http.StatusOK, meta.status, "body: %s", meta.body)
	updated := tenantBody(t, meta)
	assert.Equal(t, map[string]string{"team": "api", "owner": "ops", osbInstanceKey: "inst-1"}, updated.Metadata,
		"null deletes a key, and the broker's keys stay")
	assert.Equal(t, Limits{Rate: 10, Burst: 20, MaxConcurrent: 4, MaxQueued: 8}, updated.Limits)

	moved := c.do(http.MethodPatch, "/v1/tenants/acme", map[string]any{"plan": "pro", "limits": map[string]any{"rate": 800}})
	require.Equal(t, http.StatusAccepted, moved.status, "a plan change is applied asynchronously; body: %s", moved.body)
	movedTenant := tenantBody(t, moved)
	assert.Equal(t, "pro", movedTenant.Plan)
	assert.Equal(t, 10, movedTenant.Weight)
	assert.Equal(t, Limits{Rate: 800, Burst: 1000, MaxConcurrent: 64, MaxQueued: 128}, movedTenant.Limits,
		"the new plan's limits replace the old overrides, and this request's apply on top")
	waitForState(t, c, "acme", StateReady)

	reserved := c.do(http.MethodPatch, "/v1/tenants/acme", map[string]any{"metadata": map[string]any{osbInstanceKey: nil}})
	assert.Equal(t, http.StatusBadRequest, reserved.status)
	stored, _ := m.GetTenant("acme")
	assert.Equal(t, "inst-1", stored.Metadata[osbInstanceKey])

	badPlan := c.do(http.MethodPatch, "/v1/tenants/acme", map[string]any{"plan": "gold"})
	assert.Equal(t, http.StatusBadRequest, badPlan.status)
	assert.Contains(t, string(badPlan.body), "gold")

	unknown := c.do(http.MethodPatch, "/v1/tenants/globex", map[string]any{"plan": "pro"})
	assert.Equal(t, http.StatusNotFound, unknown.status)
	assert.Contains(t, string(unknown.body), "globex")

	idInBody := c.do(http.MethodPatch, "/v1/tenants/acme", map[string]any{"id": "globex"})
	assert.Equal(t, http.StatusBadRequest, idInBody.status, "the ID cannot change")

	assert.Contains(t, logs.String(), "tenant updated")
}

func TestTenantAPIRemove(t *testing.T) {
	m := newFakeManager(t, fakeDelay)
	m.put(Tenant{ID: "acme", Plan: "free", State: StateReady})
	c, _ := startTenantAPI(t, m)

	m.hold(true)
	resp := c.do(http.MethodDelete, "/v1/tenants/acme", nil)
	require.Equal(t, http.StatusAccepted, resp.status, "body: %s", resp.body)
	assert.Equal(t, StateRemoving, tenantBody(t, resp).State)

	again := c.do(http.MethodDelete, "/v1/tenants/acme", nil)
	assert.Equal(t, http.StatusAccepted, again.status, "removal is idempotent while it runs")

	patch := c.do(http.MethodPatch, "/v1/tenants/acme", map[string]any{"plan": "pro"})
	assert.Equal(t, http.StatusConflict, patch.status, "body: %s", patch.body)

	recreate := c.do(http.MethodPost, "/v1/tenants", map[string]any{"id": "acme", "plan": "free"})
	assert.Equal(t, http.StatusConflict, recreate.status, "body: %s", recreate.body)

	m.hold(false)
	deadline := time.Now().Add(5 * time.Second)
	for c.do(http.MethodGet, "/v1/tenants/acme", nil).status != http.StatusNotFound {
		require.True(t, time.Now().Before(deadline), "tenant acme still exists 5s after removal")
		time.Sleep(20 * time.Millisecond)
	}

	unknown := c.do(http.MethodDelete, "/v1/tenants/acme", nil)
	assert.Equal(t, http.StatusNotFound, unknown.status)
	assert.Contains(t, string(unknown.body), "GET /v1/tenants")
}

func TestTenantAPINoCapacity(t *testing.T) {
	m := newFakeManager(t, fakeDelay)
	m.capacity = 1
	m.put(Tenant{ID: "acme", Plan: "free", State: StateReady})
	c, _ := startTenantAPI(t, m)

	resp := c.do(http.MethodPost, "/v1/tenants", map[string]any{"id": "globex", "plan": "free"})
	assert.Equal(t, http.StatusServiceUnavailable, resp.status, "body: %s", resp.body)
	assert.Contains(t, string(resp.body), "add an instance or retry later")
}

func TestTenantAPIBodyTooLarge(t *testing.T) {
	m := newFakeManager(t, fakeDelay)
	c, _ := startTenantAPI(t, m)

	body := `{"id": "acme", "metadata": {"note": "` + strings.Repeat("x", maxBodyBytes) + `"}}`
	resp := c.do(http.MethodPost, "/v1/tenants", body)
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.status)
	assert.Contains(t, string(resp.body), "larger than 1048576 bytes")
	assert.Empty(t, m.ListTenants())
}

func TestTenantAPILogsRejections(t *testing.T) {
	c, logs := startTenantAPI(t, newFakeManager(t, fakeDelay))

	resp := c.do(http.MethodPost, "/v1/tenants", map[string]any{"id": "acme", "plan": "gold"})
	require.Equal(t, http.StatusBadRequest, resp.status)
	assert.Contains(t, logs.String(), "request rejected")
	assert.Contains(t, logs.String(), "status=400")
	assert.Contains(t, logs.String(), `unknown plan \"gold\"`)
}
