package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/tenant"
)

const fullFile = `listen: 127.0.0.1:18080
admin:
  listen: 127.0.0.1:19090
  token_env: MY_TOKEN
proxy:
  balance: round_robin
  trusted_proxies: [10.0.0.0/8, 192.168.1.7, "fd00::/8"]
  forwarded_proto: https
  max_header_bytes: 32KiB
  max_body_bytes: 64MiB
  stream_threshold: 524288
  connect_timeout: 500ms
  response_header_timeout: 1m30s
  client_idle_timeout: 61s
  client_read_timeout: 62s
  write_timeout: 63s
  upstream_idle_timeout: 5s
  max_conns_per_backend: 256
  retry_attempts: 3
  passive_failures: 5
  passive_cooloff: 15s
  shutdown_grace: 45s
routing:
  tenant_rules:
    - host: "{tenant}.{component}.apps.example.com"
    - path: "/t/{tenant}/"
      strip: true
    - header: X-Org
  component_rules:
    - path_prefix: /compile/
      component: compiler
    - header: X-Component
  default_component: app
components: [app, compiler]
instances:
  - id: i1
    components: {app: 127.0.0.1:9001, compiler: 127.0.0.1:9101}
    tenants: [acme, globex]
  - id: i2
    components:
      app: 127.0.0.1:9002
    tenants:
      - initech
      - "007"
`

func TestParseFullFile(t *testing.T) {
	c, err := Parse([]byte(fullFile), "full.yaml")
	require.NoError(t, err)

	assert.Equal(t, "127.0.0.1:18080", c.Listen)
	assert.Equal(t, Admin{Listen: "127.0.0.1:19090", TokenEnv: "MY_TOKEN", TenantLabelCap: 100}, c.Admin)

	p := c.Proxy
	assert.Equal(t, BalanceRoundRobin, p.Balance)
	assert.Equal(t, []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.168.1.7/32"),
		netip.MustParsePrefix("fd00::/8"),
	}, p.TrustedProxies)
	assert.Equal(t, "https", p.ForwardedProto)
	assert.Equal(t, int64(32<<10), p.MaxHeaderBytes)
	assert.Equal(t, int64(64<<20), p.MaxBodyBytes)
	assert.Equal(t, int64(524288), p.StreamThreshold)
	assert.Equal(t, 500*time.Millisecond, p.ConnectTimeout)
	assert.Equal(t, 90*time.Second, p.ResponseHeaderTimeout)
	assert.Equal(t, 61*time.Second, p.ClientIdleTimeout)
	assert.Equal(t, 62*time.Second, p.ClientReadTimeout)
	assert.Equal(t, 63*time.Second, p.WriteTimeout)
	assert.Equal(t, 5*time.Second, p.UpstreamIdleTimeout)
	assert.Equal(t, 256, p.MaxConnsPerBackend)
	assert.Equal(t, 3, p.RetryAttempts)
	assert.Equal(t, 5, p.PassiveFailures)
	assert.Equal(t, 15*time.Second, p.PassiveCooloff)
	assert.Equal(t, 45*time.Second, p.ShutdownGrace)

	assert.Equal(t, []tenant.Rule{
		{Host: "{tenant}.{component}.apps.example.com"},
		{Path: "/t/{tenant}/", Strip: true},
		{Header: "X-Org"},
	}, c.Routing.TenantRules)
	assert.Equal(t, []tenant.ComponentRule{
		{PathPrefix: "/compile/", Component: "compiler"},
		{Header: "X-Component"},
	}, c.Routing.ComponentRules)
	assert.Equal(t, "app", c.Routing.DefaultComponent)
	assert.Equal(t, []string{"app", "compiler"}, c.Components)

	assert.Equal(t, []Instance{
		{ID: "i1", Components: map[string]string{"app": "127.0.0.1:9001", "compiler": "127.0.0.1:9101"}, Tenants: []string{"acme", "globex"}},
		{ID: "i2", Components: map[string]string{"app": "127.0.0.1:9002"}, Tenants: []string{"initech", "007"}},
	}, c.Instances)
}

func TestParseEmptyFileGivesDefaults(t *testing.T) {
	f := func(data string) {
		t.Helper()
		c, err := Parse([]byte(data), "empty.yaml")
		require.NoError(t, err, "data %q", data)
		c.origin = nil
		assert.Equal(t, Default(), c, "data %q", data)
	}
	f("")
	f("# only a comment\n")
	f("---\n")
	f("~\n")
	f("proxy:\nadmin: {}\n")
}

func TestDefaultValues(t *testing.T) {
	c := Default()

	assert.Equal(t, "127.0.0.1:8080", c.Listen)
	assert.Equal(t, "127.0.0.1:9090", c.Admin.Listen)
	assert.Equal(t, "DFLB_ADMIN_TOKEN", c.Admin.TokenEnv)
	assert.Equal(t, BalanceLeastInflight, c.Proxy.Balance)
	assert.Nil(t, c.Proxy.TrustedProxies)
	assert.Equal(t, "http", c.Proxy.ForwardedProto)
	assert.Equal(t, int64(16<<10), c.Proxy.MaxHeaderBytes)
	assert.Equal(t, int64(1<<30), c.Proxy.MaxBodyBytes)
	assert.Equal(t, int64(1<<20), c.Proxy.StreamThreshold)
	assert.Equal(t, 2*time.Second, c.Proxy.ConnectTimeout)
	assert.Equal(t, 60*time.Second, c.Proxy.ResponseHeaderTimeout)
	assert.Equal(t, 60*time.Second, c.Proxy.ClientIdleTimeout)
	assert.Equal(t, 60*time.Second, c.Proxy.ClientReadTimeout)
	assert.Equal(t, 60*time.Second, c.Proxy.WriteTimeout)
	assert.Equal(t, 4*time.Second, c.Proxy.UpstreamIdleTimeout)
	assert.Equal(t, 1024, c.Proxy.MaxConnsPerBackend)
	assert.Equal(t, 2, c.Proxy.RetryAttempts)
	assert.Equal(t, 3, c.Proxy.PassiveFailures)
	assert.Equal(t, 10*time.Second, c.Proxy.PassiveCooloff)
	assert.Equal(t, 30*time.Second, c.Proxy.ShutdownGrace)
	assert.Equal(t, []tenant.Rule{
		{Host: "{tenant}.apps.localhost"},
		{Path: "/t/{tenant}/", Strip: true},
		{Header: "X-Tenant-ID"},
	}, c.Routing.TenantRules)
	assert.Nil(t, c.Routing.ComponentRules)
	assert.Equal(t, "app", c.Routing.DefaultComponent)
	assert.Equal(t, []string{"app"}, c.Components)
	assert.Nil(t, c.Instances)
	require.NoError(t, c.Validate())
}

func TestParseDefaultComponentIsFirstListed(t *testing.T) {
	c, err := Parse([]byte("components: [web, app]\n"), "c.yaml")

	require.NoError(t, err)
	assert.Equal(t, "web", c.Routing.DefaultComponent)
}

func TestParseEmptyListsStayEmpty(t *testing.T) {
	c, err := Parse([]byte("proxy:\n  trusted_proxies: []\ninstances: []\n"), "c.yaml")

	require.NoError(t, err)
	assert.Empty(t, c.Proxy.TrustedProxies)
	assert.NotNil(t, c.Proxy.TrustedProxies)
	assert.Empty(t, c.Instances)
}

func TestExampleFile(t *testing.T) {
	c, err := Load("example.yaml")
	require.NoError(t, err)

	require.Len(t, c.Instances, 2)
	assert.Equal(t, Instance{ID: "i1", Components: map[string]string{"app": "127.0.0.1:9001"}, Tenants: []string{"acme", "globex"}}, c.Instances[0])
	assert.Equal(t, Instance{ID: "i2", Components: map[string]string{"app": "127.0.0.1:9002"}, Tenants: []string{"initech", "umbrella"}}, c.Instances[1])
	assert.Equal(t, []string{"app"}, c.Components)

	// Apart from the instances and an explicit empty list, the example shows the defaults.
	c.origin = nil
	c.Instances = nil
	c.Proxy.TrustedProxies = nil
	c.Routing.ComponentRules = nil
	assert.Equal(t, Default(), c)
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.yaml")

	c, err := Load(path)

	assert.Nil(t, c)
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "configuration file "+path+" not found: pass -config")
}

func TestLoadNamesFileInErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dflb.yaml")
	require.NoError(t, os.WriteFile(path, []byte("listen: 127.0.0.1:8080\nlistne: x\n"), 0o600))

	_, err := Load(path)

	require.Error(t, err)
	assert.Contains(t, err.Error(), path+`:2: unknown key "listne" at the top level`)
}

func TestTenantConfigBuildsExtractor(t *testing.T) {
	c, err := Parse([]byte(fullFile), "full.yaml")
	require.NoError(t, err)
	e, err := tenant.New(c.TenantConfig())
	require.NoError(t, err)
	var res tenant.Result

	err = e.Extract([]byte("acme.compiler.apps.example.com:8080"), []byte("/"), nil, &res)

	require.NoError(t, err)
	assert.Equal(t, "acme", string(res.Tenant()))
	assert.Equal(t, "compiler", res.Component)
}

func TestTenantConfigCopiesSlices(t *testing.T) {
	c := Default()

	tc := c.TenantConfig()
	tc.Rules[0].Host = "changed"
	tc.Components[0] = "changed"

	assert.Equal(t, "{tenant}.apps.localhost", c.Routing.TenantRules[0].Host)
	assert.Equal(t, "app", c.Components[0])
}
