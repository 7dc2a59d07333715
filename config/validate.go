package config

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dflb/dflb/tenant"
)

// Limits of MaxHeaderBytes. Every client connection has a read buffer of this size.
const (
	minHeaderBytes = 1 << 10
	maxHeaderBytes = 1 << 20
)

// maxInstanceIDLen is the maximum length of an instance ID in bytes.
const maxInstanceIDLen = 128

// Validate checks every value and returns all problems joined into one error.
// For a parsed configuration each problem starts with file:line.
func (c *Config) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	add(c.validateListen("listen", c.Listen))
	add(c.validateListen("admin.listen", c.Admin.Listen))
	if c.Listen == c.Admin.Listen && !strings.HasSuffix(c.Listen, ":0") {
		add(c.errorf("admin.listen", "address %q is also the edge listen address; give the admin listener its own port", c.Admin.Listen))
	}
	add(c.validateEnvName("admin.token_env", c.Admin.TokenEnv))
	if c.Admin.TenantLabelCap < 0 {
		add(c.errorf("admin.tenant_label_cap", "%d must not be negative; use 0 for no cap", c.Admin.TenantLabelCap))
	}

	errs = append(errs, c.validateProxy()...)
	errs = append(errs, c.validateComponents()...)
	errs = append(errs, c.validateRouting()...)
	errs = append(errs, c.validateProvider()...)
	errs = append(errs, c.validateInstances()...)
	errs = append(errs, c.validateAutoscale()...)
	errs = append(errs, c.validateAlerts()...)
	errs = append(errs, c.validateBroker()...)

	if len(errs) == 0 {
		// Every part was checked above. This catches what only the whole tenant
		// configuration can show.
		if _, err := tenant.New(c.TenantConfig()); err != nil {
			add(c.errorf("routing", "%w", err))
		}
	}
	return errors.Join(errs...)
}

func (c *Config) validateProxy() []error {
	p := &c.Proxy
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	if p.Balance != BalanceLeastInflight && p.Balance != BalanceRoundRobin {
		add(c.errorf("proxy.balance", "invalid value %q; use %s or %s", p.Balance, BalanceLeastInflight, BalanceRoundRobin))
	}
	if p.ForwardedProto != "http" && p.ForwardedProto != "https" {
		add(c.errorf("proxy.forwarded_proto", "invalid value %q; use http or https", p.ForwardedProto))
	}

	if p.MaxHeaderBytes < minHeaderBytes || p.MaxHeaderBytes > maxHeaderBytes {
		add(c.errorf("proxy.max_header_bytes", "%d bytes is outside the range 1KiB to 1MiB; every client connection gets a read buffer of this size", p.MaxHeaderBytes))
	}
	add(c.positiveSize("proxy.max_body_bytes", p.MaxBodyBytes))
	add(c.positiveSize("proxy.stream_threshold", p.StreamThreshold))

	durations := []struct {
		path  string
		value time.Duration
	}{
		{"proxy.connect_timeout", p.ConnectTimeout},
		{"proxy.response_header_timeout", p.ResponseHeaderTimeout},
		{"proxy.client_idle_timeout", p.ClientIdleTimeout},
		{"proxy.client_read_timeout", p.ClientReadTimeout},
		{"proxy.write_timeout", p.WriteTimeout},
		{"proxy.upstream_idle_timeout", p.UpstreamIdleTimeout},
		{"proxy.passive_cooloff", p.PassiveCooloff},
		{"proxy.shutdown_grace", p.ShutdownGrace},
	}
	for _, d := range durations {
		if d.value <= 0 {
			add(c.errorf(d.path, "duration %s must be greater than 0", d.value))
		}
	}

	optional := []struct {
		path  string
		value time.Duration
	}{
		{"proxy.try_duration", p.TryDuration},
		{"proxy.slow_start", p.SlowStart},
		{"proxy.tenant_queue_timeout", p.TenantQueueTimeout},
	}
	for _, d := range optional {
		if d.value < 0 {
			add(c.errorf(d.path, "duration %s must not be negative; use 0 to turn it off", d.value))
		}
	}
	if p.TryInterval < time.Millisecond {
		add(c.errorf("proxy.try_interval", "duration %s is below 1ms; use a pause such as 100ms", p.TryInterval))
	}
	if p.MaxConns < 0 {
		add(c.errorf("proxy.max_conns", "%d must not be negative; use 0 for no cap", p.MaxConns))
	}

	counts := []struct {
		path  string
		value int
	}{
		{"proxy.max_conns_per_backend", p.MaxConnsPerBackend},
		{"proxy.retry_attempts", p.RetryAttempts},
		{"proxy.passive_failures", p.PassiveFailures},
	}
	for _, n := range counts {
		if n.value < 1 {
			add(c.errorf(n.path, "%d must be at least 1", n.value))
		}
	}
	return errs
}

func (c *Config) validateComponents() []error {
	if len(c.Components) == 0 {
		return []error{c.errorf("components", "no components listed; list at least one component name such as app")}
	}
	var errs []error
	for i, name := range c.Components {
		path := fmt.Sprintf("components[%d]", i)
		if err := validateComponentName(name); err != nil {
			errs = append(errs, c.errorf(path, "%w", err))
			continue
		}
		if first := slices.Index(c.Components, name); first < i {
			errs = append(errs, c.errorf(path, "component %q is already listed as %s; remove the duplicate", name, c.describe(fmt.Sprintf("components[%d]", first))))
		}
	}
	return errs
}

func (c *Config) validateRouting() []error {
	r := &c.Routing
	var errs []error

	if len(r.TenantRules) == 0 {
		errs = append(errs, c.errorf("routing.tenant_rules", "no tenant rules; add a host, path or header rule or remove the key to get the defaults"))
	}
	for i, rule := range r.TenantRules {
		if err := rule.Validate(); err != nil {
			errs = append(errs, c.errorf(fmt.Sprintf("routing.tenant_rules[%d]", i), "%w", err))
		}
	}
	for i, rule := range r.ComponentRules {
		if err := rule.Validate(c.Components); err != nil {
			errs = append(errs, c.errorf(fmt.Sprintf("routing.component_rules[%d]", i), "%w", err))
		}
	}
	if !slices.Contains(c.Components, r.DefaultComponent) {
		errs = append(errs, c.errorf("routing.default_component", "unknown component %q; use one of %s", r.DefaultComponent, strings.Join(c.Components, ", ")))
	}
	return errs
}

func (c *Config) validateInstances() []error {
	var errs []error
	firstIndex := map[string]int{}
	for i, inst := range c.Instances {
		path := fmt.Sprintf("instances[%d]", i)

		if err := validateInstanceID(inst.ID); err != nil {
			errs = append(errs, c.errorf(path+".id", "%w", err))
		} else if first, dup := firstIndex[inst.ID]; dup {
			errs = append(errs, c.errorf(path+".id", "instance ID %q is already used by %s; give each instance its own ID", inst.ID, c.describe(fmt.Sprintf("instances[%d]", first))))
		} else {
			firstIndex[inst.ID] = i
		}

		errs = append(errs, c.validateInstanceComponents(path, inst)...)
		errs = append(errs, c.validateInstanceTenants(path, inst)...)
	}
	return errs
}

func (c *Config) validateInstanceComponents(path string, inst Instance) []error {
	if c.Provider.Kind != ProviderStatic {
		if len(inst.Components) > 0 {
			return []error{c.errorf(path+".components", "instance %q lists component addresses, but the %s provider assigns them; remove components or use provider kind %s", inst.ID, c.Provider.Kind, ProviderStatic)}
		}
		return nil
	}
	if len(inst.Components) == 0 {
		return []error{c.errorf(path+".components", "instance %q has no components; map at least one component to its host:port", inst.ID)}
	}
	var errs []error
	names := make([]string, 0, len(inst.Components))
	for name := range inst.Components {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		componentPath := path + ".components." + name
		if !slices.Contains(c.Components, name) {
			errs = append(errs, c.errorf(componentPath, "instance %q names unknown component %q; use one of %s or add it to components", inst.ID, name, strings.Join(c.Components, ", ")))
			continue
		}
		if err := validateBackendAddr(inst.Components[name]); err != nil {
			errs = append(errs, c.errorf(componentPath, "instance %q: %w", inst.ID, err))
		}
	}
	return errs
}

func (c *Config) validateInstanceTenants(path string, inst Instance) []error {
	var errs []error
	for j, id := range inst.Tenants {
		tenantPath := fmt.Sprintf("%s.tenants[%d]", path, j)
		var buf [tenant.MaxIDLen]byte
		normalized, err := tenant.Normalize([]byte(id), &buf)
		if err != nil {
			errs = append(errs, c.errorf(tenantPath, "instance %q: %w", inst.ID, err))
			continue
		}
		if string(normalized) != id {
			errs = append(errs, c.errorf(tenantPath, "instance %q: tenant ID %q contains upper case; write it as %q", inst.ID, id, normalized))
			continue
		}
		if first := slices.Index(inst.Tenants, id); first < j {
			errs = append(errs, c.errorf(tenantPath, "tenant %q is listed twice on instance %q, first as %s; remove the duplicate", id, inst.ID, c.describe(fmt.Sprintf("%s.tenants[%d]", path, first))))
		}
	}
	return errs
}

func (c *Config) validateListen(path, addr string) error {
	_, err := splitAddr(addr, true)
	if err != nil {
		return c.errorf(path, "%w", err)
	}
	return nil
}

func (c *Config) validateEnvName(path, name string) error {
	if name == "" {
		return c.errorf(path, "environment variable name is empty; name the variable that contains the token")
	}
	for i := range len(name) {
		ch := name[i]
		letter := 'A' <= ch && ch <= 'Z' || 'a' <= ch && ch <= 'z' || ch == '_'
		if !letter && (i == 0 || ch < '0' || ch > '9') {
			return c.errorf(path, "invalid environment variable name %q; use letters, digits and '_', not starting with a digit", name)
		}
	}
	return nil
}

func (c *Config) positiveSize(path string, size int64) error {
	if size <= 0 {
		return c.errorf(path, "size %d must be greater than 0", size)
	}
	return nil
}

// splitAddr checks a numeric host:port and returns the host. A listen address
// may have an empty host, meaning every interface, and port 0.
func splitAddr(addr string, listen bool) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("invalid address %q; write host:port such as 127.0.0.1:8080: %w", addr, err)
	}
	n, err := strconv.ParseUint(port, 10, 64)
	if err != nil {
		return "", fmt.Errorf("invalid port %q in address %q; use a numeric port such as 8080", port, addr)
	}
	if n > 65535 {
		return "", fmt.Errorf("port %d in address %q is out of range; use a port from 1 to 65535", n, addr)
	}
	if n == 0 && !listen {
		return "", fmt.Errorf("port 0 in backend address %q is not allowed; use the port the component listens on", addr)
	}
	if strings.ContainsFunc(host, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "", fmt.Errorf("host %q in address %q contains a space or control character", host, addr)
	}
	return host, nil
}

func validateBackendAddr(addr string) error {
	host, err := splitAddr(addr, false)
	if err != nil {
		return err
	}
	if host == "" {
		return fmt.Errorf("address %q has no host; write host:port such as 127.0.0.1:9001", addr)
	}
	return nil
}

// validateComponentName accepts a lower-case DNS label, as tenant.New requires.
func validateComponentName(name string) error {
	var buf [tenant.MaxIDLen]byte
	normalized, err := tenant.Normalize([]byte(name), &buf)
	if err != nil {
		return fmt.Errorf("invalid component name %q; use 1 to 63 bytes of a-z, 0-9 and '-', not starting or ending with '-'", name)
	}
	if string(normalized) != name {
		return fmt.Errorf("component name %q contains upper case; write it as %q", name, normalized)
	}
	return nil
}

func validateInstanceID(id string) error {
	if id == "" {
		return errors.New("instance ID is missing; set id to a name such as i1")
	}
	if len(id) > maxInstanceIDLen {
		return fmt.Errorf("instance ID %q is %d bytes, longer than the maximum of %d", id, len(id), maxInstanceIDLen)
	}
	for i := range len(id) {
		ch := id[i]
		if !('a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || ch == '.' || ch == '_' || ch == '-') {
			return fmt.Errorf("instance ID %q contains %q; use letters, digits, '.', '_' and '-'", id, id[i:i+1])
		}
	}
	return nil
}
