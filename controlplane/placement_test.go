package controlplane

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func placementPolicy() Policy {
	p := testPolicy()
	p.MaxTenantsPerInstance = 10
	return p
}

// createTenants records specs through the tenant API and plans their
// placement, as the controller's next pass would.
func createTenants(t *testing.T, h *policyHarness, specs ...TenantSpec) *Operation {
	t.Helper()
	for _, spec := range specs {
		_, err := h.c.CreateTenant(spec)
		require.NoError(t, err)
	}
	require.True(t, h.c.planTenants(h.now), "no operation planned")
	require.NotNil(t, h.c.state.Op)
	return h.c.state.Op
}

// One busy tenant outweighs three quiet ones: the new tenant goes to the
// instance with more tenants and less traffic.
func TestPlaceTenantOnLeastLoaded(t *testing.T) {
	h := newPolicyHarness(t, placementPolicy(), map[string][]string{"i1": {"a"}, "i2": {"b", "c", "d"}})
	h.traffic(7, map[string]map[string]int{"i1": {"a": 60}, "i2": {"b": 5, "c": 5, "d": 5}})

	op := createTenants(t, h, TenantSpec{ID: "e"})

	assert.ElementsMatch(t, []string{"b", "c", "d", "e"}, op.Layout["i2"])
	assert.NotContains(t, op.Layout, "i1", "i1 keeps its tenants")
}

// Before the rates cover a window, tenants count with their weight.
func TestPlaceTenantsByWeightWithoutRates(t *testing.T) {
	h := newPolicyHarness(t, placementPolicy(), map[string][]string{"i1": {"a"}, "i2": {"b", "c"}})

	op := createTenants(t, h, TenantSpec{ID: "e", Weight: 3}, TenantSpec{ID: "f"})

	assert.ElementsMatch(t, []string{"a", "e"}, op.Layout["i1"], "e goes to the instance of weight 1")
	assert.ElementsMatch(t, []string{"b", "c", "f"}, op.Layout["i2"], "f goes to weight 2 rather than 1+3")
}

// New tenants in one batch count with the mean measured rate, so they
// spread instead of all landing on the instance that was least loaded
// before the batch.
func TestPlaceTenantBatchSpreads(t *testing.T) {
	h := newPolicyHarness(t, placementPolicy(), map[string][]string{"i1": {"a"}, "i2": {"b"}})
	h.traffic(7, map[string]map[string]int{"i1": {"a": 20}, "i2": {"b": 30}})

	var specs []TenantSpec
	for i := range 4 {
		specs = append(specs, TenantSpec{ID: fmt.Sprintf("n%d", i)})
	}
	op := createTenants(t, h, specs...)

	assert.Len(t, op.Layout["i1"], 3, "layout %v", op.Layout)
	assert.Len(t, op.Layout["i2"], 3, "layout %v", op.Layout)
}

// Among instances that carry no traffic, the one with fewer tenants wins.
func TestPlaceTenantIdleInstancesByCount(t *testing.T) {
	h := newPolicyHarness(t, placementPolicy(), map[string][]string{"i1": {"a", "b", "c"}, "i2": {"d"}})
	h.traffic(7, nil)

	op := createTenants(t, h, TenantSpec{ID: "e"})

	assert.ElementsMatch(t, []string{"d", "e"}, op.Layout["i2"])
}

func TestTenantWeightDefaultsToOne(t *testing.T) {
	st := stateWith(map[string][]string{"i1": {"a"}}, nil)
	st.tenants()["heavy"] = &TenantRecord{TenantSpec: TenantSpec{ID: "heavy", Weight: 5}}
	st.tenants()["plain"] = &TenantRecord{TenantSpec: TenantSpec{ID: "plain"}}

	assert.Equal(t, 5.0, tenantWeight(st, "heavy"))
	assert.Equal(t, 1.0, tenantWeight(st, "plain"))
	assert.Equal(t, 1.0, tenantWeight(st, "a"), "a tenant of the configuration file")
}
