package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseLocalProvider(t *testing.T) {
	c, err := Parse([]byte(`components: [app, compiler]
provider:
  kind: local
  local:
    root: /var/lib/dflb
    network: 127.0.9
    components:
      - {name: app, port: 9001}
      - {name: compiler, port: 9002}
instances:
  - id: i1
    tenants: [acme]
`), "c.yaml")
	require.NoError(t, err)

	assert.Equal(t, ProviderLocal, c.Provider.Kind)
	assert.Equal(t, "DFLB_DFM_SECRET", c.Provider.SecretEnv)
	assert.Equal(t, "/var/lib/dflb", c.Provider.Local.Root)
	assert.Equal(t, "bin/dfm", c.Provider.Local.DFMBinary)
	assert.Equal(t, "127.0.9", c.Provider.Local.Network)
	assert.Equal(t, 7070, c.Provider.Local.DFMPort)
	assert.Equal(t, []LocalComponent{{"app", 9001}, {"compiler", 9002}}, c.Provider.Local.Components)
	assert.Empty(t, c.Instances[0].Components)
}

func TestParseProviderErrors(t *testing.T) {
	f := func(data, want string) {
		t.Helper()
		assert.Contains(t, parseError(t, data), want)
	}
	f("provider:\n  kind: cloud\n", `c.yaml:2: provider.kind: unknown provider "cloud"; use static, local or digitalocean`)
	f("provider:\n  kind: local\n  local:\n    rot: x\n", `c.yaml:4: unknown key "rot" in provider.local`)
	f("provider:\n  kind: local\ninstances:\n  - id: i1\n    components: {app: 127.0.0.1:9001}\n",
		`c.yaml:5: instances[0].components: instance "i1" lists component addresses, but the local provider assigns them`)
	f("components: [app, compiler]\nprovider:\n  kind: local\n",
		`provider.local.components: component "compiler" has no port; add {name: compiler, port: N}`)
	f("provider:\n  kind: local\n  local:\n    components:\n      - {name: app, port: 7070}\n",
		`c.yaml:5: provider.local.components[0].port: port 7070 of component "app" is also the port of DFM`)
	f("provider:\n  kind: local\n  local:\n    dfm_port: 0\n", `c.yaml:4: provider.local.dfm_port: DFM port 0 is out of range`)
	f("provider:\n  secret_env: 9X\n", `c.yaml:2: provider.secret_env: invalid environment variable name "9X"`)
}

func TestStaticProviderNeedsAddresses(t *testing.T) {
	msg := parseError(t, "instances:\n  - id: i1\n    tenants: [acme]\n")

	assert.Contains(t, msg, `instance "i1" has no components`)
}
