package config

import (
	"fmt"
	"net/url"
	"slices"

	"go.yaml.in/yaml/v3"
)

// Provider kinds.
const (
	// ProviderStatic serves the instances listed in the file at the
	// component addresses listed there; nothing creates or supervises them.
	ProviderStatic = "static"
	// ProviderLocal creates each listed instance as a group of local
	// processes, DFM and its components, on its own loopback address.
	ProviderLocal = "local"
)

// Provider selects where instances come from.
type Provider struct {
	// Kind is ProviderStatic or ProviderLocal. Default static.
	Kind string
	// SecretEnv names the environment variable with the secret that DFLB and
	// every DFM share to authenticate each other. When the variable is unset,
	// dflb generates a secret into its data directory. Default DFLB_DFM_SECRET.
	SecretEnv string
	// Local configures the local provider; the others ignore it.
	Local LocalProvider
	// DigitalOcean configures droplets; the others ignore it.
	DigitalOcean DigitalOceanProvider
	// NotifyURL is where DFM on each instance posts its notifications: the
	// admin listener's /v1/notifications as the instances reach it. Default:
	// derived from admin.listen, with loopback for an unspecified host,
	// which suits local instances only.
	NotifyURL string
}

// LocalProvider configures instances made of local processes.
type LocalProvider struct {
	// Root is the directory that holds one state directory per instance.
	// Default .dflb/instances.
	Root string
	// DFMBinary is the dfm program. Default bin/dfm.
	DFMBinary string
	// ComponentBinary is the component program that DFM runs. Default bin/component.
	ComponentBinary string
	// Network is the first three octets of the 127.0.0.0/8 addresses given
	// to instances: the first instance gets <network>.1. Default 127.0.1.
	Network string
	// DFMPort is the port of DFM's API on every instance. Default 7070.
	DFMPort int
	// Components gives the port of each known component on every instance.
	// Default: app on 9001.
	Components []LocalComponent
}

// LocalComponent is one component of a local instance.
type LocalComponent struct {
	Name string
	Port int
}

func defaultProvider() Provider {
	return Provider{
		Kind:      ProviderStatic,
		SecretEnv: "DFLB_DFM_SECRET",
		Local: LocalProvider{
			Root:            ".dflb/instances",
			DFMBinary:       "bin/dfm",
			ComponentBinary: "bin/component",
			Network:         "127.0.1",
			DFMPort:         7070,
			Components:      []LocalComponent{{Name: "app", Port: 9001}},
		},
	}
}

func (d *decoder) provider(path string, n *yaml.Node, p *Provider) {
	d.mapping(path, n,
		field{"kind", d.String(&p.Kind)},
		field{"secret_env", d.String(&p.SecretEnv)},
		field{"local", func(path string, n *yaml.Node) { d.localProvider(path, n, &p.Local) }},
		field{"digitalocean", func(path string, n *yaml.Node) { d.digitalOceanProvider(path, n, &p.DigitalOcean) }},
		field{"notify_url", d.String(&p.NotifyURL)},
	)
}

func (d *decoder) localProvider(path string, n *yaml.Node, l *LocalProvider) {
	d.mapping(path, n,
		field{"root", d.String(&l.Root)},
		field{"dfm_binary", d.String(&l.DFMBinary)},
		field{"component_binary", d.String(&l.ComponentBinary)},
		field{"network", d.String(&l.Network)},
		field{"dfm_port", d.Int(&l.DFMPort)},
		field{"components", func(path string, n *yaml.Node) {
			list := []LocalComponent{}
			d.Sequence(path, n, func(itemPath string, item *yaml.Node) {
				var c LocalComponent
				d.mapping(itemPath, item,
					field{"name", d.String(&c.Name)},
					field{"port", d.Int(&c.Port)},
				)
				list = append(list, c)
			})
			l.Components = list
		}},
	)
}

// validateProvider checks the provider section and, for the local provider,
// that instances leave their component addresses to it.
func (c *Config) validateProvider() []error {
	var errs []error
	p := &c.Provider
	if err := c.validateEnvName("provider.secret_env", p.SecretEnv); err != nil {
		errs = append(errs, err)
	}

	if p.NotifyURL != "" {
		if u, err := url.Parse(p.NotifyURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, c.errorf("provider.notify_url", "invalid URL %q; write the admin listener's URL as the instances reach it, such as http://10.0.0.2:9090/v1/notifications", p.NotifyURL))
		}
	}

	switch p.Kind {
	case ProviderStatic:
		return errs
	case ProviderLocal:
	case ProviderDigitalOcean:
		if p.NotifyURL == "" {
			errs = append(errs, c.errorf("provider.notify_url", "droplets cannot reach DFLB's admin listener through loopback; set provider.notify_url to its VPC address, such as http://10.0.0.2:9090/v1/notifications"))
		}
		return errs
	default:
		return append(errs, c.errorf("provider.kind", "unknown provider %q; use %s, %s or %s", p.Kind, ProviderStatic, ProviderLocal, ProviderDigitalOcean))
	}

	l := &p.Local
	required := []struct{ key, value string }{
		{"root", l.Root}, {"dfm_binary", l.DFMBinary}, {"component_binary", l.ComponentBinary}, {"network", l.Network},
	}
	for _, r := range required {
		if r.value == "" {
			errs = append(errs, c.errorf("provider.local."+r.key, "provider.local.%s is empty; set it or remove the key for the default", r.key))
		}
	}
	if l.DFMPort < 1 || l.DFMPort > 65535 {
		errs = append(errs, c.errorf("provider.local.dfm_port", "DFM port %d is out of range; use a port from 1 to 65535", l.DFMPort))
	}

	ports := map[int]string{l.DFMPort: "DFM"}
	for i, comp := range l.Components {
		path := fmt.Sprintf("provider.local.components[%d]", i)
		if !slices.Contains(c.Components, comp.Name) {
			errs = append(errs, c.errorf(path+".name", "unknown component %q; add it to components or remove it here", comp.Name))
		}
		if comp.Port < 1 || comp.Port > 65535 {
			errs = append(errs, c.errorf(path+".port", "port %d of component %q is out of range; use a port from 1 to 65535", comp.Port, comp.Name))
		} else if other, dup := ports[comp.Port]; dup {
			errs = append(errs, c.errorf(path+".port", "port %d of component %q is also the port of %s; give each its own", comp.Port, comp.Name, other))
		} else {
			ports[comp.Port] = comp.Name
		}
	}
	for _, name := range c.Components {
		if !slices.ContainsFunc(l.Components, func(lc LocalComponent) bool { return lc.Name == name }) {
			errs = append(errs, c.errorf("provider.local.components", "component %q has no port; add {name: %s, port: N}", name, name))
		}
	}
	return errs
}
