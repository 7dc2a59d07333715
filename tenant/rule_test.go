package tenant

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewRejectsInvalidConfig(t *testing.T) {
	valid := func() Config {
		return Config{
			Rules:      []Rule{{Host: "{tenant}.apps.localhost"}},
			Components: []string{"app", "compiler"},
		}
	}
	fail := func(edit func(*Config), wantText string) {
		t.Helper()
		cfg := valid()
		edit(&cfg)
		e, err := New(cfg)
		require.Error(t, err, "want error containing %q", wantText)
		assert.Nil(t, e)
		assert.Contains(t, err.Error(), wantText)
	}

	fail(func(c *Config) { c.Components = nil }, "no components configured")
	fail(func(c *Config) { c.Components = []string{"App"} }, `component name "App": label "App" contains "A"`)
	fail(func(c *Config) { c.Components = []string{"app", "app"} }, `component "app" is listed twice`)
	fail(func(c *Config) { c.DefaultComponent = "web" }, `default component "web" is not one of the components app, compiler`)
	fail(func(c *Config) { c.Rules = nil }, "no tenant rules configured")

	fail(func(c *Config) { c.Rules = []Rule{{}} }, "tenant rule 1: tenant rule sets 0 of host")
	fail(func(c *Config) { c.Rules = []Rule{{Host: "{tenant}.x", Header: "X-Tenant-ID"}} }, "sets 2 of host")
	fail(func(c *Config) { c.Rules = append(c.Rules, Rule{Header: "X-T", Strip: true}) }, "tenant rule 2: strip is set on a tenant rule without a path")

	fail(func(c *Config) { c.Rules[0].Host = "{tenant}.apps.localhost:8080" }, "remove the port")
	fail(func(c *Config) { c.Rules[0].Host = "{tenant}..localhost" }, "label 2 is empty")
	fail(func(c *Config) { c.Rules[0].Host = "apps.localhost" }, "found 0 {tenant} labels; use exactly one")
	fail(func(c *Config) { c.Rules[0].Host = "{tenant}.{tenant}.localhost" }, "found 2 {tenant} labels")
	fail(func(c *Config) { c.Rules[0].Host = "{tenant}.{component}.{component}.x" }, "found 2 {component} labels; use at most one")
	fail(func(c *Config) { c.Rules[0].Host = "t-{tenant}.apps" }, `"t-{tenant}" is neither literal text nor a whole {tenant} or {component} placeholder`)
	fail(func(c *Config) { c.Rules[0].Host = "{tenant}.ap_ps" }, `label "ap_ps" contains "_"`)
	fail(func(c *Config) { c.Rules[0].Host = "{tenant}.-apps" }, `label "-apps" starts or ends with '-'`)

	fail(func(c *Config) { c.Rules[0] = Rule{Path: "t/{tenant}/"} }, `path pattern "t/{tenant}/" does not start with '/'`)
	fail(func(c *Config) { c.Rules[0] = Rule{Path: "/t//{tenant}/"} }, "segment 2 is empty")
	fail(func(c *Config) { c.Rules[0] = Rule{Path: "/t/{tenant}?x"} }, "contains '?', '#', '%'")
	fail(func(c *Config) { c.Rules[0] = Rule{Path: "/t/"} }, "found 0 {tenant} segments")
	fail(func(c *Config) { c.Rules[0] = Rule{Path: "/t/{tenant}x/"} }, `"{tenant}x" is neither literal text`)

	fail(func(c *Config) { c.Rules[0] = Rule{Header: "X Tenant"} }, `header name "X Tenant" contains " "`)

	fail(func(c *Config) { c.ComponentRules = []ComponentRule{{}} }, "component rule 1: component rule sets neither path prefix nor header")
	fail(func(c *Config) {
		c.ComponentRules = []ComponentRule{{PathPrefix: "/c/", Header: "X-Component"}}
	}, "sets both path prefix")
	fail(func(c *Config) { c.ComponentRules = []ComponentRule{{PathPrefix: "/", Component: "app"}} }, "matches every path")
	fail(func(c *Config) { c.ComponentRules = []ComponentRule{{PathPrefix: "compile", Component: "app"}} }, "does not start with '/'")
	fail(func(c *Config) { c.ComponentRules = []ComponentRule{{PathPrefix: "/a//b", Component: "app"}} }, "empty segment")
	fail(func(c *Config) { c.ComponentRules = []ComponentRule{{PathPrefix: "/compile/"}} }, "has no component")
	fail(func(c *Config) {
		c.ComponentRules = []ComponentRule{{PathPrefix: "/compile/", Component: "web"}}
	}, `selects unknown component "web"; use one of app, compiler`)
	fail(func(c *Config) {
		c.ComponentRules = []ComponentRule{{Header: "X-Component", Component: "app"}}
	}, "the header value names the component")
	fail(func(c *Config) { c.ComponentRules = []ComponentRule{{Header: "X:Component"}} }, `header name "X:Component" contains ":"`)
}

func TestNewDefaultComponentIsFirst(t *testing.T) {
	e, err := New(Config{
		Rules:      []Rule{{Header: "X-Tenant-ID"}},
		Components: []string{"web", "app"},
	})
	require.NoError(t, err)

	var res Result
	require.NoError(t, e.Extract(nil, []byte("/"), headers{"X-Tenant-ID": []byte("acme")}, &res))
	assert.Equal(t, "web", res.Component)
}

func TestRuleValidate(t *testing.T) {
	require.NoError(t, Rule{Host: "{tenant}.{component}.apps.localhost"}.Validate())
	require.NoError(t, Rule{Path: "/t/{tenant}", Strip: true}.Validate())
	require.NoError(t, Rule{Header: "X-Tenant-ID"}.Validate())
	require.Error(t, Rule{Path: "/t/{tenant}/", Header: "X-Tenant-ID"}.Validate())

	require.NoError(t, ComponentRule{PathPrefix: "/compile/", Component: "compiler"}.Validate([]string{"app", "compiler"}))
	require.NoError(t, ComponentRule{Header: "X-Component"}.Validate([]string{"app"}))
	require.Error(t, ComponentRule{PathPrefix: "/compile/", Component: "compiler"}.Validate([]string{"app"}))
}
