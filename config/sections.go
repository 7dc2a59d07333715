package config

import (
	"go.yaml.in/yaml/v3"

	"github.com/dflb/dflb/internal/strictyaml"
	"github.com/dflb/dflb/tenant"
)

// This file lists the keys of each section of the file.

func (d *decoder) config(n *yaml.Node, c *Config) {
	d.mapping("", n,
		field{"listen", d.String(&c.Listen)},
		field{"admin", func(path string, n *yaml.Node) { d.admin(path, n, &c.Admin) }},
		field{"proxy", func(path string, n *yaml.Node) { d.proxy(path, n, &c.Proxy) }},
		field{"routing", func(path string, n *yaml.Node) { d.routing(path, n, &c.Routing) }},
		field{"components", d.StringList(&c.Components)},
		field{"instances", func(path string, n *yaml.Node) { d.instances(path, n, &c.Instances) }},
		field{"provider", func(path string, n *yaml.Node) { d.provider(path, n, &c.Provider) }},
		field{"autoscale", func(path string, n *yaml.Node) { d.autoscale(path, n, &c.Autoscale) }},
		field{"alerts", func(path string, n *yaml.Node) { d.alerts(path, n, &c.Alerts) }},
		field{"broker", func(path string, n *yaml.Node) { d.broker(path, n, &c.Broker) }},
	)
}

func (d *decoder) admin(path string, n *yaml.Node, a *Admin) {
	d.mapping(path, n,
		field{"listen", d.String(&a.Listen)},
		field{"token_env", d.String(&a.TokenEnv)},
		field{"tenant_label_cap", d.Int(&a.TenantLabelCap)},
	)
}

func (d *decoder) proxy(path string, n *yaml.Node, p *Proxy) {
	d.mapping(path, n,
		field{"balance", d.String(&p.Balance)},
		field{"trusted_proxies", d.prefixList(&p.TrustedProxies)},
		field{"forwarded_proto", d.String(&p.ForwardedProto)},
		field{"max_header_bytes", d.sizeValue(&p.MaxHeaderBytes)},
		field{"max_body_bytes", d.sizeValue(&p.MaxBodyBytes)},
		field{"stream_threshold", d.sizeValue(&p.StreamThreshold)},
		field{"connect_timeout", d.Duration(&p.ConnectTimeout)},
		field{"response_header_timeout", d.Duration(&p.ResponseHeaderTimeout)},
		field{"client_idle_timeout", d.Duration(&p.ClientIdleTimeout)},
		field{"client_read_timeout", d.Duration(&p.ClientReadTimeout)},
		field{"write_timeout", d.Duration(&p.WriteTimeout)},
		field{"upstream_idle_timeout", d.Duration(&p.UpstreamIdleTimeout)},
		field{"max_conns_per_backend", d.Int(&p.MaxConnsPerBackend)},
		field{"retry_attempts", d.Int(&p.RetryAttempts)},
		field{"passive_failures", d.Int(&p.PassiveFailures)},
		field{"passive_cooloff", d.Duration(&p.PassiveCooloff)},
		field{"shutdown_grace", d.Duration(&p.ShutdownGrace)},
		field{"try_duration", d.Duration(&p.TryDuration)},
		field{"try_interval", d.Duration(&p.TryInterval)},
		field{"slow_start", d.Duration(&p.SlowStart)},
		field{"max_conns", d.Int(&p.MaxConns)},
		field{"tenant_queue_timeout", d.Duration(&p.TenantQueueTimeout)},
	)
}

func (d *decoder) routing(path string, n *yaml.Node, r *Routing) {
	d.mapping(path, n,
		field{"tenant_rules", func(path string, n *yaml.Node) {
			rules := []tenant.Rule{}
			d.Sequence(path, n, func(itemPath string, item *yaml.Node) {
				var rule tenant.Rule
				d.mapping(itemPath, item,
					field{"host", d.String(&rule.Host)},
					field{"path", d.String(&rule.Path)},
					field{"header", d.String(&rule.Header)},
					field{"strip", d.Bool(&rule.Strip)},
				)
				rules = append(rules, rule)
			})
			r.TenantRules = rules
		}},
		field{"component_rules", func(path string, n *yaml.Node) {
			rules := []tenant.ComponentRule{}
			d.Sequence(path, n, func(itemPath string, item *yaml.Node) {
				var rule tenant.ComponentRule
				d.mapping(itemPath, item,
					field{"path_prefix", d.String(&rule.PathPrefix)},
					field{"header", d.String(&rule.Header)},
					field{"component", d.String(&rule.Component)},
				)
				rules = append(rules, rule)
			})
			r.ComponentRules = rules
		}},
		field{"default_component", d.String(&r.DefaultComponent)},
	)
}

func (d *decoder) instances(path string, n *yaml.Node, dst *[]Instance) {
	list := []Instance{}
	d.Sequence(path, n, func(itemPath string, item *yaml.Node) {
		var inst Instance
		d.mapping(itemPath, item,
			field{"id", d.String(&inst.ID)},
			field{"components", func(path string, n *yaml.Node) { inst.Components = d.addressMap(path, n) }},
			field{"tenants", d.StringList(&inst.Tenants)},
		)
		list = append(list, inst)
	})
	*dst = list
}

// addressMap decodes a mapping of component name to host:port. The names are
// checked by Validate against the known components.
func (d *decoder) addressMap(path string, n *yaml.Node) map[string]string {
	addrs := map[string]string{}
	if !d.ExpectKind(path, n, yaml.MappingNode) {
		return addrs
	}
	firstLine := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], n.Content[i+1]
		name, ok := d.Scalar(path, key)
		if !ok {
			continue
		}
		childPath := strictyaml.JoinPath(path, name)
		if line, dup := firstLine[name]; dup {
			d.Errorf(key, childPath, "component is already set at line %d; remove one of them", line)
			continue
		}
		firstLine[name] = key.Line
		d.SetLine(childPath, key.Line)
		if addr, ok := d.Scalar(childPath, value); ok {
			addrs[name] = addr
		}
	}
	return addrs
}
