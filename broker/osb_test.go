package broker

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testInstanceID = "5e1c7a9b-3f2d-4c8e-a6b0-9d4f2e1c3b5a"

func provisionBody(planID string, parameters map[string]any) map[string]any {
	body := map[string]any{
		"service_id":        testServiceID,
		"plan_id":           planID,
		"organization_guid": "org-1",
		"space_guid":        "space-1",
		"context":           map[string]any{"platform": "cloudfoundry"},
	}
	if parameters != nil {
		body["parameters"] = parameters
	}
	return body
}

func instancePath(instanceID string) string {
	return "/v2/service_instances/" + instanceID
}

func deprovisionPath(instanceID string) string {
	return instancePath(instanceID) + "?service_id=" + testServiceID + "&plan_id=" + testFreePlanID + "&accepts_incomplete=true"
}

func bindingPath(instanceID, bindingID string) string {
	return instancePath(instanceID) + "/service_bindings/" + bindingID
}

func unbindPath(instanceID, bindingID string) string {
	return bindingPath(instanceID, bindingID) + "?service_id=" + testServiceID + "&plan_id=" + testFreePlanID
}

// pollLastOperation polls last_operation like a platform until the state is
// no longer "in progress" or the status is not 200, and returns the last
// response.
func pollLastOperation(t *testing.T, c *osbClient, instanceID, operation string) response {
	t.Helper()
	path := instancePath(instanceID) + "/last_operation?service_id=" + testServiceID + "&plan_id=" + testFreePlanID + "&operation=" + operation
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp := c.do(http.MethodGet, path, nil)
		if resp.status != http.StatusOK || resp.json(t)["state"] != opStateInProgress {
			return resp
		}
		require.True(t, time.Now().Before(deadline), "operation %s still in progress after 5s", operation)
		time.Sleep(20 * time.Millisecond)
	}
}

func TestOSBMarketplaceSequence(t *testing.T) {
	m := newFakeManager(t, fakeDelay)
	c, _ := startOSB(t, m)

	catalog := c.do(http.MethodGet, "/v2/catalog", nil)
	require.Equal(t, http.StatusOK, catalog.status, "body: %s", catalog.body)
	services := catalog.json(t)["services"].([]any)
	require.Len(t, services, 1)
	service := services[0].(map[string]any)
	assert.Equal(t, testServiceID, service["id"])
	assert.Equal(t, "dflb-tenant", service["name"])
	assert.Equal(t, true, service["bindable"])
	plans := service["plans"].([]any)
	require.Len(t, plans, 2)
	assert.Equal(t, testFreePlanID, plans[0].(map[string]any)["id"])
	assert.Equal(t, "free", plans[0].(map[string]any)["name"])
	assert.Equal(t, true, plans[0].(map[string]any)["free"])

	m.hold(true)
	prov := c.do(http.MethodPut, instancePath(testInstanceID)+"?accepts_incomplete=true", provisionBody(testFreePlanID, nil))
	require.Equal(t, http.StatusAccepted, prov.status, "body: %s", prov.body)
	assert.Equal(t, opProvision, prov.json(t)["operation"])

	tenantID := "osb-" + testInstanceID
	created, ok := m.GetTenant(tenantID)
	require.True(t, ok, "tenant %s not created", tenantID)
	assert.Equal(t, "free", created.Plan)
	assert.Equal(t, freeLimits, created.Limits)
	assert.Equal(t, testInstanceID, created.Metadata[osbInstanceKey])

	pending := c.do(http.MethodGet, instancePath(testInstanceID)+"/last_operation?operation="+opProvision, nil)
	require.Equal(t, http.StatusOK, pending.status, "body: %s", pending.body)
	assert.Equal(t, opStateInProgress, pending.json(t)["state"])
	assert.Contains(t, pending.json(t)["description"], "being set up")
	m.hold(false)

	last := pollLastOperation(t, c, testInstanceID, opProvision)
	require.Equal(t, http.StatusOK, last.status, "body: %s", last.body)
	assert.Equal(t, opStateSucceeded, last.json(t)["state"])
	assert.Contains(t, last.json(t)["description"], tenantID)

	bind := c.do(http.MethodPut, bindingPath(testInstanceID, "b1"), map[string]any{
		"service_id": testServiceID, "plan_id": testFreePlanID, "bind_resource": map[string]any{"app_guid": "app-1"},
	})
	require.Equal(t, http.StatusCreated, bind.status, "body: %s", bind.body)
	creds := bind.json(t)["credentials"].(map[string]any)
	assert.Equal(t, "http://"+tenantID+".apps.localhost:8080", creds["url"])
	assert.Equal(t, tenantID, creds["tenant"])

	rebind := c.do(http.MethodPut, bindingPath(testInstanceID, "b1"), map[string]any{
		"service_id": testServiceID, "plan_id": testFreePlanID, "bind_resource": map[string]any{"app_guid": "app-1"},
	})
	assert.Equal(t, http.StatusOK, rebind.status, "body: %s", rebind.body)
	assert.Equal(t, creds, rebind.json(t)["credentials"])

	unbind := c.do(http.MethodDelete, unbindPath(testInstanceID, "b1"), nil)
	assert.Equal(t, http.StatusOK, unbind.status, "body: %s", unbind.body)
	assert.JSONEq(t, `{}`, string(unbind.body))
	unbound, _ := m.GetTenant(tenantID)
	assert.NotContains(t, unbound.Metadata, osbBindingPrefix+"b1")
	unbindAgain := c.do(http.MethodDelete, unbindPath(testInstanceID, "b1"), nil)
	assert.Equal(t, http.StatusGone, unbindAgain.status, "body: %s", unbindAgain.body)

	m.hold(true)
	deprov := c.do(http.MethodDelete, deprovisionPath(testInstanceID), nil)
	require.Equal(t, http.StatusAccepted, deprov.status, "body: %s", deprov.body)
	assert.Equal(t, opDeprovision, deprov.json(t)["operation"])
	deprovAgain := c.do(http.MethodDelete, deprovisionPath(testInstanceID), nil)
	assert.Equal(t, http.StatusAccepted, deprovAgain.status, "a repeated deprovision during removal must get 202; body: %s", deprovAgain.body)
	removing := c.do(http.MethodGet, instancePath(testInstanceID)+"/last_operation?operation="+opDeprovision, nil)
	require.Equal(t, http.StatusOK, removing.status, "body: %s", removing.body)
	assert.Equal(t, opStateInProgress, removing.json(t)["state"])
	m.hold(false)

	last = pollLastOperation(t, c, testInstanceID, opDeprovision)
	assert.Equal(t, http.StatusGone, last.status, "body: %s", last.body)
	_, ok = m.GetTenant(tenantID)
	assert.False(t, ok, "tenant still exists after deprovision")

	deprovGone := c.do(http.MethodDelete, deprovisionPath(testInstanceID), nil)
	assert.Equal(t, http.StatusGone, deprovGone.status, "body: %s", deprovGone.body)
	assert.JSONEq(t, `{}`, string(deprovGone.body))
}

func TestOSBFindsInstanceAfterRestart(t *testing.T) {
	m := newFakeManager(t, fakeDelay)
	c, _ := startOSB(t, m)
	prov := c.do(http.MethodPut, instancePath(testInstanceID)+"?accepts_incomplete=true",
		provisionBody(testFreePlanID, map[string]any{"tenant": "Acme"}))
	require.Equal(t, http.StatusAccepted, prov.status, "body: %s", prov.body)

	// A second broker on the same manager has nothing but the tenants'
	// metadata to go by, as after a restart.
	restarted, _ := startOSB(t, m)
	last := pollLastOperation(t, restarted, testInstanceID, opProvision)
	require.Equal(t, http.StatusOK, last.status, "body: %s", last.body)
	assert.Equal(t, opStateSucceeded, last.json(t)["state"])

	bind := restarted.do(http.MethodPut, bindingPath(testInstanceID, "b1"), map[string]any{"service_id": testServiceID, "plan_id": testFreePlanID})
	require.Equal(t, http.StatusCreated, bind.status, "body: %s", bind.body)
	assert.Equal(t, "acme", bind.json(t)["credentials"].(map[string]any)["tenant"])
}

func TestOSBWrongCredentials(t *testing.T) {
	m := newFakeManager(t, fakeDelay)
	c, _ := startOSB(t, m)

	cases := []struct {
		name, username, password string
	}{
		{"wrong password", testUsername, "wrong"},
		{"wrong user", "someone", testPassword},
		{"no credentials", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client := *c
			client.t, client.username, client.password = t, tc.username, tc.password

			resp := client.do(http.MethodPut, instancePath(testInstanceID)+"?accepts_incomplete=true", provisionBody(testFreePlanID, nil))
			assert.Equal(t, http.StatusUnauthorized, resp.status)
			assert.Contains(t, resp.header.Get("WWW-Authenticate"), "Basic")
			assert.Equal(t, codeUnauthorized, resp.json(t)["error"])
			assert.Empty(t, m.ListTenants(), "an unauthenticated request created a tenant")

			catalog := client.do(http.MethodGet, "/v2/catalog", nil)
			assert.Equal(t, http.StatusUnauthorized, catalog.status)
		})
	}
}

func TestOSBAPIVersion(t *testing.T) {
	m := newFakeManager(t, fakeDelay)
	c, _ := startOSB(t, m)

	rejected := []string{"", "2.12", "2.0", "3.0", "1.20", "two", "2"}
	for _, version := range rejected {
		client := *c
		client.version = version
		resp := client.do(http.MethodGet, "/v2/catalog", nil)
		assert.Equal(t, http.StatusPreconditionFailed, resp.status, "version %q", version)
		body := resp.json(t)
		assert.Equal(t, codeAPIVersion, body["error"], "version %q", version)
		assert.Contains(t, body["description"], "2.13", "version %q", version)
	}

	for _, version := range []string{"2.13", "2.14", "2.17"} {
		client := *c
		client.version = version
		resp := client.do(http.MethodGet, "/v2/catalog", nil)
		assert.Equal(t, http.StatusOK, resp.status, "version %q", version)
	}

	client := *c
	client.version = ""
	resp := client.do(http.MethodPut, instancePath(testInstanceID)+"?accepts_incomplete=true", provisionBody(testFreePlanID, nil))
	assert.Equal(t, http.StatusPreconditionFailed, resp.status)
	assert.Empty(t, m.ListTenants(), "a request without API version created a tenant")
}

func TestOSBProvisionDuplicate(t *testing.T) {
	m := newFakeManager(t, fakeDelay)
	c, _ := startOSB(t, m)
	path := instancePath(testInstanceID) + "?accepts_incomplete=true"

	m.hold(true)
	first := c.do(http.MethodPut, path, provisionBody(testFreePlanID, nil))
	require.Equal(t, http.StatusAccepted, first.status, "body: %s", first.body)

	pending := c.do(http.MethodPut, path, provisionBody(testFreePlanID, nil))
	assert.Equal(t, http.StatusAccepted, pending.status, "identical provision while pending; body: %s", pending.body)
	assert.Equal(t, opProvision, pending.json(t)["operation"])

	otherPlan := c.do(http.MethodPut, path, provisionBody(testProPlanID, nil))
	assert.Equal(t, http.StatusConflict, otherPlan.status, "body: %s", otherPlan.body)

	otherTenant := c.do(http.MethodPut, path, provisionBody(testFreePlanID, map[string]any{"tenant": "globex"}))
	assert.Equal(t, http.StatusConflict, otherTenant.status, "body: %s", otherTenant.body)

	m.hold(false)
	last := pollLastOperation(t, c, testInstanceID, opProvision)
	require.Equal(t, opStateSucceeded, last.json(t)["state"])

	ready := c.do(http.MethodPut, path, provisionBody(testFreePlanID, nil))
	assert.Equal(t, http.StatusOK, ready.status, "identical provision when ready; body: %s", ready.body)
	assert.JSONEq(t, `{}`, string(ready.body))
	assert.Len(t, m.ListTenants(), 1)
}

func TestOSBProvisionRequiresAcceptsIncomplete(t *testing.T) {
	m := newFakeManager(t, fakeDelay)
	c, _ := startOSB(t, m)

	for _, query := range []string{"", "?accepts_incomplete=false"} {
		resp := c.do(http.MethodPut, instancePath(testInstanceID)+query, provisionBody(testFreePlanID, nil))
		assert.Equal(t, http.StatusUnprocessableEntity, resp.status, "query %q", query)
		assert.Equal(t, codeAsyncRequired, resp.json(t)["error"], "query %q", query)
		assert.Contains(t, resp.json(t)["description"], "accepts_incomplete=true", "query %q", query)
	}
	assert.Empty(t, m.ListTenants())
}

func TestOSBProvisionInvalidRequest(t *testing.T) {
	m := newFakeManager(t, fakeDelay)
	c, _ := startOSB(t, m)
	path := instancePath(testInstanceID) + "?accepts_incomplete=true"

	cases := []struct {
		name     string
		body     any
		contains []string
	}{
		{"tenant with underscore", provisionBody(testFreePlanID, map[string]any{"tenant": "acme_corp"}), []string{`"acme_corp"`, "a-z, 0-9 and '-'"}},
		{"tenant too long", provisionBody(testFreePlanID, map[string]any{"tenant": strings.Repeat("a", 64)}), []string{"64 bytes", "maximum of 63"}},
		{"tenant not a string", provisionBody(testFreePlanID, map[string]any{"tenant": 7}), []string{"parameters.tenant", "string"}},
		{"unknown parameter", provisionBody(testFreePlanID, map[string]any{"size": "xl"}), []string{`"size"`, "only parameter is tenant"}},
		{"unknown plan", provisionBody("no-such-plan", nil), []string{`"no-such-plan"`, "GET /v2/catalog"}},
		{"other service", map[string]any{"service_id": "other", "plan_id": testFreePlanID}, []string{`"other"`, testServiceID}},
		{"missing plan", map[string]any{"service_id": testServiceID}, []string{"plan_id is missing"}},
		{"malformed JSON", `{"service_id": `, []string{"invalid request body"}},
		{"empty body", nil, []string{"body is empty"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client := *c
			client.t = t
			resp := client.do(http.MethodPut, path, tc.body)
			require.Equal(t, http.StatusBadRequest, resp.status, "body: %s", resp.body)
			body := resp.json(t)
			assert.Equal(t, codeBadRequest, body["error"])
			for _, want := range tc.contains {
				assert.Contains(t, body["description"], want)
			}
		})
	}
	assert.Empty(t, m.ListTenants())
}

func TestOSBProvisionTenantTaken(t *testing.T) {
	m := newFakeManager(t, fakeDelay)
	m.put(Tenant{ID: "acme", Plan: "free", Limits: freeLimits, State: StateReady})
	c, _ := startOSB(t, m)

	resp := c.do(http.MethodPut, instancePath(testInstanceID)+"?accepts_incomplete=true",
		provisionBody(testFreePlanID, map[string]any{"tenant": "acme"}))
	assert.Equal(t, http.StatusConflict, resp.status, "body: %s", resp.body)
	assert.Contains(t, resp.json(t)["description"], `"acme"`)

	acme, _ := m.GetTenant("acme")
	assert.NotContains(t, acme.Metadata, osbInstanceKey, "the broker took over an operator's tenant")
}

func TestOSBNoCapacity(t *testing.T) {
	m := newFakeManager(t, fakeDelay)
	m.capacity = 1
	m.put(Tenant{ID: "acme", Plan: "free", State: StateReady})
	c, _ := startOSB(t, m)

	resp := c.do(http.MethodPut, instancePath(testInstanceID)+"?accepts_incomplete=true", provisionBody(testFreePlanID, nil))
	assert.Equal(t, http.StatusServiceUnavailable, resp.status, "body: %s", resp.body)
	assert.Equal(t, codeNoCapacity, resp.json(t)["error"])
}

func TestOSBLastOperationFailed(t *testing.T) {
	m := newFakeManager(t, fakeDelay)
	c, _ := startOSB(t, m)
	prov := c.do(http.MethodPut, instancePath(testInstanceID)+"?accepts_incomplete=true",
		provisionBody(testFreePlanID, map[string]any{"tenant": "fail-1"}))
	require.Equal(t, http.StatusAccepted, prov.status, "body: %s", prov.body)

	last := pollLastOperation(t, c, testInstanceID, opProvision)
	require.Equal(t, http.StatusOK, last.status)
	assert.Equal(t, opStateFailed, last.json(t)["state"])
	assert.Contains(t, last.json(t)["description"], "no instance could start the tenant")

	// Orphan mitigation: the platform deprovisions the failed instance.
	deprov := c.do(http.MethodDelete, deprovisionPath(testInstanceID), nil)
	assert.Equal(t, http.StatusAccepted, deprov.status, "body: %s", deprov.body)
}

func TestOSBLastOperationUnknown(t *testing.T) {
	m := newFakeManager(t, fakeDelay)
	c, _ := startOSB(t, m)

	unknown := c.do(http.MethodGet, instancePath("never-provisioned")+"/last_operation", nil)
	assert.Equal(t, http.StatusGone, unknown.status)

	bad := c.do(http.MethodGet, instancePath("never-provisioned")+"/last_operation?operation=explode", nil)
	assert.Equal(t, http.StatusBadRequest, bad.status)
	assert.Contains(t, bad.json(t)["description"], `"explode"`)
}

func TestOSBDeprovisionChecks(t *testing.T) {
	m := newFakeManager(t, fakeDelay)
	c, _ := startOSB(t, m)
	m.hold(true)
	prov := c.do(http.MethodPut, instancePath(testInstanceID)+"?accepts_incomplete=true", provisionBody(testFreePlanID, nil))
	require.Equal(t, http.StatusAccepted, prov.status)

	noAsync := c.do(http.MethodDelete, instancePath(testInstanceID)+"?service_id="+testServiceID+"&plan_id="+testFreePlanID, nil)
	assert.Equal(t, http.StatusUnprocessableEntity, noAsync.status)
	assert.Equal(t, codeAsyncRequired, noAsync.json(t)["error"])

	noPlan := c.do(http.MethodDelete, instancePath(testInstanceID)+"?service_id="+testServiceID+"&accepts_incomplete=true", nil)
	assert.Equal(t, http.StatusBadRequest, noPlan.status)
	assert.Contains(t, noPlan.json(t)["description"], "plan_id")

	noService := c.do(http.MethodDelete, instancePath(testInstanceID)+"?plan_id="+testFreePlanID+"&accepts_incomplete=true", nil)
	assert.Equal(t, http.StatusBadRequest, noService.status)
	assert.Contains(t, noService.json(t)["description"], "service_id")

	tenant, _ := m.GetTenant("osb-" + testInstanceID)
	assert.Equal(t, StatePending, tenant.State, "a rejected deprovision changed the tenant")
}

func TestOSBUpdatePlan(t *testing.T) {
	m := newFakeManager(t, fakeDelay)
	c, _ := startOSB(t, m)
	path := instancePath(testInstanceID)
	m.hold(true)
	require.Equal(t, http.StatusAccepted, c.do(http.MethodPut, path+"?accepts_incomplete=true", provisionBody(testFreePlanID, nil)).status)

	update := map[string]any{"service_id": testServiceID, "plan_id": testProPlanID, "previous_values": map[string]any{"plan_id": testFreePlanID}}
	busy := c.do(http.MethodPatch, path+"?accepts_incomplete=true", update)
	assert.Equal(t, http.StatusUnprocessableEntity, busy.status, "plan change while provisioning; body: %s", busy.body)
	assert.Equal(t, codeConcurrencyError, busy.json(t)["error"])

	m.hold(false)
	last := pollLastOperation(t, c, testInstanceID, opProvision)
	require.Equal(t, opStateSucceeded, last.json(t)["state"])

	noAsync := c.do(http.MethodPatch, path, update)
	assert.Equal(t, http.StatusUnprocessableEntity, noAsync.status)
	assert.Equal(t, codeAsyncRequired, noAsync.json(t)["error"])

	renamed := c.do(http.MethodPatch, path+"?accepts_incomplete=true", map[string]any{
		"service_id": testServiceID, "plan_id": testProPlanID, "parameters": map[string]any{"tenant": "globex"},
	})
	assert.Equal(t, http.StatusBadRequest, renamed.status)
	assert.Contains(t, renamed.json(t)["description"], "cannot change")

	moved := c.do(http.MethodPatch, path+"?accepts_incomplete=true", update)
	require.Equal(t, http.StatusAccepted, moved.status, "body: %s", moved.body)
	assert.Equal(t, opUpdate, moved.json(t)["operation"])
	tenant, _ := m.GetTenant("osb-" + testInstanceID)
	assert.Equal(t, "pro", tenant.Plan)
	assert.Equal(t, proLimits, tenant.Limits)
	assert.Equal(t, 10, tenant.Weight)
	assert.Equal(t, testInstanceID, tenant.Metadata[osbInstanceKey], "the plan change lost the instance ID")

	last = pollLastOperation(t, c, testInstanceID, opUpdate)
	assert.Equal(t, opStateSucceeded, last.json(t)["state"])

	same := c.do(http.MethodPatch, path, update)
	assert.Equal(t, http.StatusOK, same.status, "an update to the current plan needs no asynchronous support; body: %s", same.body)

	unknown := c.do(http.MethodPatch, instancePath("never-provisioned")+"?accepts_incomplete=true", update)
	assert.Equal(t, http.StatusNotFound, unknown.status)
}

func TestOSBBindingChecks(t *testing.T) {
	m := newFakeManager(t, fakeDelay)
	c, _ := startOSB(t, m)
	m.hold(true)
	require.Equal(t, http.StatusAccepted, c.do(http.MethodPut, instancePath(testInstanceID)+"?accepts_incomplete=true", provisionBody(testFreePlanID, nil)).status)
	bind := func(bindingID, appGUID string) response {
		return c.do(http.MethodPut, bindingPath(testInstanceID, bindingID), map[string]any{
			"service_id": testServiceID, "plan_id": testFreePlanID, "bind_resource": map[string]any{"app_guid": appGUID},
		})
	}

	early := bind("b1", "app-1")
	assert.Equal(t, http.StatusUnprocessableEntity, early.status, "bind while provisioning; body: %s", early.body)
	assert.Equal(t, codeConcurrencyError, early.json(t)["error"])

	m.hold(false)
	pollLastOperation(t, c, testInstanceID, opProvision)
	require.Equal(t, http.StatusCreated, bind("b1", "app-1").status)
	require.Equal(t, http.StatusCreated, bind("b2", "app-2").status)

	conflict := bind("b1", "app-2")
	assert.Equal(t, http.StatusConflict, conflict.status, "body: %s", conflict.body)
	assert.Contains(t, conflict.json(t)["description"], `"b1"`)

	withParams := c.do(http.MethodPut, bindingPath(testInstanceID, "b3"), map[string]any{
		"service_id": testServiceID, "plan_id": testFreePlanID, "parameters": map[string]any{"role": "admin"},
	})
	assert.Equal(t, http.StatusBadRequest, withParams.status)

	unknownInstance := c.do(http.MethodPut, bindingPath("never-provisioned", "b1"), map[string]any{"service_id": testServiceID, "plan_id": testFreePlanID})
	assert.Equal(t, http.StatusNotFound, unknownInstance.status)

	tenant, _ := m.GetTenant("osb-" + testInstanceID)
	assert.Contains(t, tenant.Metadata, osbBindingPrefix+"b1")
	assert.Contains(t, tenant.Metadata, osbBindingPrefix+"b2")

	unbindUnknown := c.do(http.MethodDelete, unbindPath("never-provisioned", "b1"), nil)
	assert.Equal(t, http.StatusGone, unbindUnknown.status)
	unbindNoPlan := c.do(http.MethodDelete, bindingPath(testInstanceID, "b1")+"?service_id="+testServiceID, nil)
	assert.Equal(t, http.StatusBadRequest, unbindNoPlan.status)
}

func TestOSBPasswordNotLogged(t *testing.T) {
	m := newFakeManager(t, fakeDelay)
	c, logs := startOSB(t, m)

	wrong := *c
	wrong.password = "pw-wrong-4d2b8e"
	assert.Equal(t, http.StatusUnauthorized, wrong.do(http.MethodGet, "/v2/catalog", nil).status)
	require.Equal(t, http.StatusAccepted, c.do(http.MethodPut, instancePath(testInstanceID)+"?accepts_incomplete=true", provisionBody(testFreePlanID, nil)).status)
	pollLastOperation(t, c, testInstanceID, opProvision)
	require.Equal(t, http.StatusCreated, c.do(http.MethodPut, bindingPath(testInstanceID, "b1"), map[string]any{"service_id": testServiceID, "plan_id": testFreePlanID}).status)
	require.Equal(t, http.StatusAccepted, c.do(http.MethodDelete, deprovisionPath(testInstanceID), nil).status)

	out := logs.String()
	assert.Contains(t, out, "unauthorized service broker request", "the rejected request was not logged")
	assert.Contains(t, out, "service instance provision requested")
	for _, secret := range []string{testPassword, wrong.password} {
		assert.NotContains(t, out, secret)
		assert.NotContains(t, out, base64.StdEncoding.EncodeToString([]byte(testUsername+":"+secret)))
	}
}

func TestOSBMissingCredentials(t *testing.T) {
	m := newFakeManager(t, fakeDelay)
	t.Setenv(testUsernameEnv, testUsername)
	t.Setenv(testPasswordEnv, "")
	logger, logs := newTestLogger()
	cfg := testConfig()
	require.Error(t, cfg.CheckCredentials())

	server := newLoopbackServer(t, NewOSB(m, cfg, logger))
	c := &osbClient{t: t, url: server, username: testUsername, password: "", version: testAPIVersion}
	resp := c.do(http.MethodPut, instancePath(testInstanceID)+"?accepts_incomplete=true", provisionBody(testFreePlanID, nil))
	assert.Equal(t, http.StatusServiceUnavailable, resp.status)
	assert.Equal(t, codeUnavailable, resp.json(t)["error"])
	assert.Empty(t, m.ListTenants())
	assert.Contains(t, logs.String(), testPasswordEnv, "the log must name the unset variable")
}

func TestOSBEchoesRequestIdentity(t *testing.T) {
	c, _ := startOSB(t, newFakeManager(t, fakeDelay))
	req := newRequest(t, http.MethodGet, c.url+"/v2/catalog", nil)
	req.SetBasicAuth(testUsername, testPassword)
	req.Header.Set(apiVersionHeader, testAPIVersion)
	req.Header.Set(requestIDHeader, "req-42")
	resp := send(t, req)
	assert.Equal(t, http.StatusOK, resp.status)
	assert.Equal(t, "req-42", resp.header.Get(requestIDHeader))
}

func TestTenantIDForInstance(t *testing.T) {
	cases := []struct {
		instanceID string
		want       string
	}{
		{testInstanceID, "osb-" + testInstanceID},
		{"abc", "osb-abc"},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, tenantIDForInstance(tc.instanceID), "instance %q", tc.instanceID)
	}

	// IDs that are no lower-case DNS label, or too long, are hashed.
	for _, instanceID := range []string{"ABC", "a_b", "-abc", strings.Repeat("a", 60), "ü", "a.b"} {
		id := tenantIDForInstance(instanceID)
		assert.Len(t, id, len("osb-")+32, "instance %q", instanceID)
		normalized, err := normalizeTenantID(id)
		assert.NoError(t, err, "instance %q", instanceID)
		assert.Equal(t, id, normalized, "instance %q", instanceID)
		assert.Equal(t, id, tenantIDForInstance(instanceID), "instance %q: not deterministic", instanceID)
	}
	assert.NotEqual(t, tenantIDForInstance("ABC"), tenantIDForInstance("abc"))
}

func TestOSBLogsRejections(t *testing.T) {
	c, logs := startOSB(t, newFakeManager(t, fakeDelay))

	resp := c.do(http.MethodPut, instancePath(testInstanceID), provisionBody(testFreePlanID, nil))
	require.Equal(t, http.StatusUnprocessableEntity, resp.status)
	assert.Contains(t, logs.String(), "request rejected")
	assert.Contains(t, logs.String(), "status=422")
	assert.Contains(t, logs.String(), codeAsyncRequired)
}
