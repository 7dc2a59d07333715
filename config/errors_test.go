package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/tenant"
)

// parseError parses data as "c.yaml" and returns the error message, failing
// the test when parsing succeeds.
func parseError(t *testing.T, data string) string {
	t.Helper()
	c, err := Parse([]byte(data), "c.yaml")
	require.Error(t, err, "data:\n%s", data)
	assert.Nil(t, c)
	return err.Error()
}

func TestParseUnknownKey(t *testing.T) {
	f := func(data, want string) {
		t.Helper()
		assert.Contains(t, parseError(t, data), want)
	}
	f("listen: 127.0.0.1:8080\nlistne: x\n", `c.yaml:2: unknown key "listne" at the top level; valid keys are listen, admin, proxy, routing, components, instances`)
	f("proxy:\n  balance: round_robin\n  listne: x\n", `c.yaml:3: unknown key "listne" in proxy; valid keys are balance, trusted_proxies,`)
	f("admin:\n  token: x\n", `c.yaml:2: unknown key "token" in admin; valid keys are listen, token_env`)
	f("routing:\n  tenant_rules:\n    - host: \"{tenant}.x\"\n      strp: true\n", `c.yaml:4: unknown key "strp" in routing.tenant_rules[0]; valid keys are host, path, header, strip`)
	f("routing:\n  component_rules:\n    - prefix: /c/\n", `c.yaml:3: unknown key "prefix" in routing.component_rules[0]`)
	f("instances:\n  - id: i1\n    components: {app: 127.0.0.1:9001}\n  - id: i2\n    tenant: [acme]\n", `c.yaml:5: unknown key "tenant" in instances[1]; valid keys are id, components, tenants`)
}

func TestParseBadDuration(t *testing.T) {
	f := func(value, want string) {
		t.Helper()
		msg := parseError(t, "proxy:\n  connect_timeout: "+value+"\n")
		assert.Contains(t, msg, "c.yaml:2: proxy.connect_timeout: "+want)
	}
	f("2x", `invalid duration "2x"; write a number with a unit such as 500ms, 30s or 2m: time: unknown unit "x" in duration "2x"`)
	f("soon", `invalid duration "soon"`)
	f("30", `duration "30" has no unit; write it with a unit such as 30s`)
	f("1.5", `duration "1.5" has no unit`)
	f("[1s]", `expected a single value, found a list`)
	f("-1s", "duration -1s must be greater than 0")
	f("0s", "duration 0s must be greater than 0")
}

func TestParseBadCIDR(t *testing.T) {
	f := func(value, want string) {
		t.Helper()
		msg := parseError(t, "proxy:\n  trusted_proxies:\n    - 10.0.0.0/8\n    - "+value+"\n")
		assert.Contains(t, msg, "c.yaml:4: proxy.trusted_proxies[1]: "+want)
	}
	f("10.0.0.300/8", `invalid CIDR "10.0.0.300/8"; write a network such as 10.0.0.0/8 or a single address`)
	f("10.0.0.0/33", `invalid CIDR "10.0.0.0/33"`)
	f("example.com", `invalid CIDR "example.com"`)
	f("10.1.0.0/8", `CIDR "10.1.0.0/8" has host bits set; write "10.0.0.0/8"`)
	f("{a: b}", "expected a single value, found a mapping")

	msg := parseError(t, "proxy:\n  trusted_proxies: 10.0.0.0/8\n")
	assert.Contains(t, msg, `c.yaml:2: proxy.trusted_proxies: expected a list, found the value "10.0.0.0/8"`)
}

func TestParseBadSize(t *testing.T) {
	f := func(value, want string) {
		t.Helper()
		msg := parseError(t, "proxy:\n  max_body_bytes: "+value+"\n")
		assert.Contains(t, msg, "c.yaml:2: proxy.max_body_bytes: "+want)
	}
	f("64XB", `invalid size "64XB": unknown unit "XB"; use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB`)
	f("64mib", `invalid size "64mib": unknown unit "mib"`)
	f("1.5GiB", `invalid size "1.5GiB"; write a whole number, with a smaller unit if needed`)
	f("MiB", `invalid size "MiB"; write a whole number of bytes with an optional unit such as 16KiB`)
	f("-1", "size -1 must be greater than 0")
	f("0", "size 0 must be greater than 0")
	f("99999999999TiB", `invalid size "99999999999TiB"; it is larger than 9223372036854775807 bytes`)
	f("true", `invalid size "true"`)

	msg := parseError(t, "proxy:\n  max_header_bytes: 512\n")
	assert.Contains(t, msg, "c.yaml:2: proxy.max_header_bytes: 512 bytes is outside the range 1KiB to 1MiB")
}

func TestParseBadScalars(t *testing.T) {
	f := func(data, want string) {
		t.Helper()
		assert.Contains(t, parseError(t, data), want)
	}
	f("proxy:\n  retry_attempts: two\n", `c.yaml:2: proxy.retry_attempts: invalid integer "two"; write a whole number such as 3`)
	f("proxy:\n  retry_attempts: 1.5\n", `invalid integer "1.5"`)
	f("proxy:\n  retry_attempts: 0\n", "c.yaml:2: proxy.retry_attempts: 0 must be at least 1")
	f("proxy:\n  max_conns_per_backend: -1\n", "proxy.max_conns_per_backend: -1 must be at least 1")
	f("routing:\n  tenant_rules:\n    - path: /t/{tenant}/\n      strip: yes\n", `c.yaml:4: routing.tenant_rules[0].strip: invalid boolean "yes"; use true or false`)
	f("proxy:\n  forwarded_proto: ftp\n", `c.yaml:2: proxy.forwarded_proto: invalid value "ftp"; use http or https`)
	f("admin:\n  token_env: 1TOKEN\n", `c.yaml:2: admin.token_env: invalid environment variable name "1TOKEN"`)
	f("admin:\n  token_env: \"\"\n", "admin.token_env: environment variable name is empty")
	f("listen: localhost\n", `c.yaml:1: listen: invalid address "localhost"; write host:port such as 127.0.0.1:8080`)
	f("listen: 127.0.0.1:http\n", `c.yaml:1: listen: invalid port "http" in address "127.0.0.1:http"; use a numeric port such as 8080`)
	f("listen: 127.0.0.1:70000\n", `c.yaml:1: listen: port 70000 in address "127.0.0.1:70000" is out of range; use a port from 1 to 65535`)
	f("admin:\n  listen: 127.0.0.1:8080\n", `c.yaml:2: admin.listen: address "127.0.0.1:8080" is also the edge listen address`)
	f("components: [app, null]\n", "c.yaml:1: components[1]: value is null")
}

func TestParseBadBalance(t *testing.T) {
	msg := parseError(t, "proxy:\n  balance: random\n")

	assert.Contains(t, msg, `c.yaml:2: proxy.balance: invalid value "random"; use least_inflight or round_robin`)
}

func TestParseDuplicateInstanceID(t *testing.T) {
	msg := parseError(t, `instances:
  - id: i1
    components: {app: 127.0.0.1:9001}
  - id: i1
    components: {app: 127.0.0.1:9002}
`)

	assert.Contains(t, msg, `c.yaml:4: instances[1].id: instance ID "i1" is already used by instances[0] (line 2); give each instance its own ID`)
}

func TestParseInstanceUnknownComponent(t *testing.T) {
	msg := parseError(t, `components: [app]
instances:
  - id: i1
    components:
      app: 127.0.0.1:9001
      compiler: 127.0.0.1:9101
`)

	assert.Contains(t, msg, `c.yaml:6: instances[0].components.compiler: instance "i1" names unknown component "compiler"; use one of app or add it to components`)
}

func TestParseInstanceErrors(t *testing.T) {
	f := func(instance, want string) {
		t.Helper()
		assert.Contains(t, parseError(t, "instances:\n  - "+instance+"\n"), want)
	}
	f("id: i1", `c.yaml:2: instances[0].components: instance "i1" has no components`)
	f("components: {app: 127.0.0.1:9001}", "c.yaml:2: instances[0].id: instance ID is missing; set id to a name such as i1")
	f("{id: i 1, components: {app: 127.0.0.1:9001}}", `instance ID "i 1" contains " "`)
	f("{id: i1, components: {app: 9001}}", `c.yaml:2: instances[0].components.app: instance "i1": invalid address "9001"`)
	f("{id: i1, components: {app: \":9001\"}}", `address ":9001" has no host`)
	f("{id: i1, components: {app: 127.0.0.1:0}}", `port 0 in backend address "127.0.0.1:0" is not allowed`)
	f("{id: i1, components: {app: 127.0.0.1:1, app: 127.0.0.1:2}}", "instances[0].components.app: component is already set at line 2")
	f("{id: i1, components: {app: [127.0.0.1:1]}}", "instances[0].components.app: expected a single value, found a list")
}

func TestParseInvalidTenantID(t *testing.T) {
	f := func(id, want string) {
		t.Helper()
		msg := parseError(t, "instances:\n  - id: i1\n    components: {app: 127.0.0.1:9001}\n    tenants:\n      - acme\n      - "+id+"\n")
		assert.Contains(t, msg, `c.yaml:6: instances[0].tenants[1]: instance "i1": `+want)
	}
	f(`"..x"`, `invalid tenant ID "..x": byte "." at offset 0 is not allowed`)
	f(`"ac me"`, `invalid tenant ID "ac me"`)
	f(`"-acme"`, `invalid tenant ID "-acme": the ID starts or ends with '-'`)
	f(`""`, "invalid tenant ID: the ID is empty")
	f(strings.Repeat("a", 64), `invalid tenant ID "`+strings.Repeat("a", 64)+`": 64 bytes is longer than the maximum of 63`)
	f(`"ac\x00me"`, `invalid tenant ID "ac\x00me"`)
	f("Globex", `tenant ID "Globex" contains upper case; write it as "globex"`)

	c, err := Parse([]byte("instances:\n  - id: i1\n    components: {app: 127.0.0.1:9001}\n    tenants: [\"a.b\"]\n"), "c.yaml")
	assert.Nil(t, c)
	require.ErrorIs(t, err, tenant.ErrInvalidTenant)
}

func TestParseTenantTwiceOnInstance(t *testing.T) {
	msg := parseError(t, `instances:
  - id: i1
    components: {app: 127.0.0.1:9001}
    tenants:
      - acme
      - globex
      - acme
`)

	assert.Contains(t, msg, `c.yaml:7: instances[0].tenants[2]: tenant "acme" is listed twice on instance "i1", first as instances[0].tenants[0] (line 5); remove the duplicate`)
}

func TestParseTenantOnTwoInstances(t *testing.T) {
	_, err := Parse([]byte(`instances:
  - {id: i1, components: {app: 127.0.0.1:9001}, tenants: [acme]}
  - {id: i2, components: {app: 127.0.0.1:9002}, tenants: [acme]}
`), "c.yaml")

	require.NoError(t, err, "a tenant may be served by several instances")
}

func TestParseRoutingErrors(t *testing.T) {
	f := func(data, want string) {
		t.Helper()
		assert.Contains(t, parseError(t, data), want)
	}
	f("routing:\n  tenant_rules: []\n", "c.yaml:2: routing.tenant_rules: no tenant rules")
	f("routing:\n  tenant_rules:\n    - host: apps.localhost\n", "c.yaml:3: routing.tenant_rules[0]: host pattern \"apps.localhost\": found 0 {tenant} labels; use exactly one")
	f("routing:\n  tenant_rules:\n    - {host: \"{tenant}.x\", header: X-T}\n", "c.yaml:3: routing.tenant_rules[0]: tenant rule sets 2 of host")
	f("routing:\n  component_rules:\n    - {path_prefix: /c/, component: web}\n", `c.yaml:3: routing.component_rules[0]: component rule with path prefix "/c/" selects unknown component "web"; use one of app`)
	f("routing:\n  default_component: web\n", `c.yaml:2: routing.default_component: unknown component "web"; use one of app`)
	f("components: []\n", "c.yaml:1: components: no components listed")
	f("components: [app, App]\n", `c.yaml:1: components[1]: component name "App" contains upper case; write it as "app"`)
	f("components: [app, a_b]\n", `invalid component name "a_b"`)
	f("components: [app, app]\n", `c.yaml:1: components[1]: component "app" is already listed as components[0] (line 1)`)
}

func TestParseStructureErrors(t *testing.T) {
	f := func(data, want string) {
		t.Helper()
		assert.Contains(t, parseError(t, data), want)
	}
	f("- a\n- b\n", "c.yaml:1: top level: expected a mapping, found a list")
	f("proxy: fast\n", `c.yaml:1: proxy: expected a mapping, found the value "fast"`)
	f("listen: 127.0.0.1:8080\nlisten: 127.0.0.1:8081\n", "c.yaml:2: listen: key is already set at line 1; remove one of them")
	f("base: &a 127.0.0.1:1\n", `unknown key "base"`)
	f("admin:\n  listen: &a 127.0.0.1:1\nlisten: *a\n", "c.yaml:3: listen: aliases (*a) are not supported; write the value out")
	f("listen: [\n", "c.yaml: invalid YAML: yaml: line 1")
	f("listen: 127.0.0.1:8080\n---\nlisten: 127.0.0.1:8081\n", "c.yaml:2: a second YAML document starts here")
	f("listen: 127.0.0.1:8080\n---\nlisten: [\n", "c.yaml: invalid YAML: yaml: line 3")
	f("? [a, b]\n: c\n", "c.yaml:1: top level: found a list as a key")
}

func TestParseJoinsAllErrors(t *testing.T) {
	msg := parseError(t, "proxy:\n  balance: random\n  connect_timeout: 2x\n  listne: 1\n")

	assert.Contains(t, msg, "c.yaml:3: proxy.connect_timeout: invalid duration")
	assert.Contains(t, msg, `c.yaml:4: unknown key "listne" in proxy`)
}

func TestValidateWithoutFile(t *testing.T) {
	c := Default()
	c.Proxy.Balance = "random"
	c.Instances = []Instance{{ID: "i1", Components: map[string]string{"app": "127.0.0.1:9001"}, Tenants: []string{"acme", "acme"}}}

	err := c.Validate()

	require.Error(t, err)
	assert.Contains(t, err.Error(), `proxy.balance: invalid value "random"`)
	assert.Contains(t, err.Error(), `instances[0].tenants[1]: tenant "acme" is listed twice on instance "i1", first as instances[0].tenants[0];`)
	assert.NotContains(t, err.Error(), ".yaml")
}
