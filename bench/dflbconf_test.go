package bench

import (
	"strings"
	"testing"

	"github.com/dflb/dflb/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func TestWriteDFLBConfigRoundTrip(t *testing.T) {
	var b strings.Builder
	require.NoError(t, WriteDFLBConfig(&b, DFLBConfig{
		Listen:      "127.0.0.1:18080",
		AdminListen: "127.0.0.1:19090",
		Component:   "app",
		Instances: []DFLBInstance{
			{ID: "i1", Addr: "127.0.0.1:19101", Tenants: []string{"bench", "t0001"}},
			{ID: "i2", Addr: "127.0.0.1:19102", Tenants: []string{"bench", "t0002"}},
		},
	}))

	var got map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(b.String()), &got), b.String())
	assert.Equal(t, "127.0.0.1:18080", got["listen"])
	assert.Equal(t, map[string]any{"listen": "127.0.0.1:19090"}, got["admin"])
	assert.Equal(t, []any{"app"}, got["components"])
	assert.Equal(t, []any{
		map[string]any{"id": "i1", "components": map[string]any{"app": "127.0.0.1:19101"}, "tenants": []any{"bench", "t0001"}},
		map[string]any{"id": "i2", "components": map[string]any{"app": "127.0.0.1:19102"}, "tenants": []any{"bench", "t0002"}},
	}, got["instances"])
}

func TestWriteDFLBConfigRejects(t *testing.T) {
	assert.Error(t, WriteDFLBConfig(&strings.Builder{}, DFLBConfig{Listen: "a:1", AdminListen: "a:2", Component: "app"}))
	assert.Error(t, WriteDFLBConfig(&strings.Builder{}, DFLBConfig{Listen: "a:1", Component: "app",
		Instances: []DFLBInstance{{ID: "i1", Addr: "a:3"}}}))
	assert.Error(t, WriteDFLBConfig(&strings.Builder{}, DFLBConfig{Listen: "a:1", AdminListen: "a:2", Component: "app",
		Instances: []DFLBInstance{{ID: "i1"}}}))
}

// TestDFLBConfigLoads checks the generated file against DFLB's own strict
// config parser, with the full tenant population of a run.
func TestDFLBConfigLoads(t *testing.T) {
	conf := DFLBConfig{Listen: addrDFLB, AdminListen: addrDFLBAdmin, Component: "app"}
	for _, in := range platform() {
		conf.Instances = append(conf.Instances, DFLBInstance{ID: in.id, Addr: in.addr, Tenants: in.tenants})
	}
	var b strings.Builder
	require.NoError(t, WriteDFLBConfig(&b, conf))

	parsed, err := config.Parse([]byte(b.String()), "dflb.yaml")
	require.NoError(t, err)
	assert.Equal(t, addrDFLB, parsed.Listen)
	assert.Equal(t, addrDFLBAdmin, parsed.Admin.Listen)
	require.Len(t, parsed.Instances, 2)
	assert.Equal(t, addrI2, parsed.Instances[1].Components["app"])
	assert.Len(t, parsed.Instances[0].Tenants, tenantCount/2+1)
}
