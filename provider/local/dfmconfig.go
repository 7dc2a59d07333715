package local

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// dfmConfig mirrors the keys of DFM's configuration file that the provider
// sets. DFM fills the defaults of every key left out.
type dfmConfig struct {
	Instance   string         `yaml:"instance"`
	Listen     string         `yaml:"listen"`
	TokenEnv   string         `yaml:"token_env"`
	StateDir   string         `yaml:"state_dir"`
	Notify     *dfmNotify     `yaml:"notify,omitempty"`
	Components []dfmComponent `yaml:"components"`
}

type dfmNotify struct {
	URL string `yaml:"url"`
}

type dfmComponent struct {
	Name          string            `yaml:"name"`
	Command       string            `yaml:"command"`
	Args          []string          `yaml:"args"`
	Env           map[string]string `yaml:"env,omitempty"`
	Port          int               `yaml:"port"`
	Health        dfmHealth         `yaml:"health"`
	StartTimeout  string            `yaml:"start_timeout,omitempty"`
	StopSignal    string            `yaml:"stop_signal"`
	Grace         string            `yaml:"grace,omitempty"`
	TenantsReload string            `yaml:"tenants_reload"`
}

type dfmHealth struct {
	Path string `yaml:"path"`
}

// renderDFMConfig returns dfm.yaml for an instance. The secret is not in
// it: DFM reads it from the environment variable named by token_env.
func (p *Provider) renderDFMConfig(m meta, notifyURL string) ([]byte, error) {
	cfg := dfmConfig{
		Instance: m.ID,
		Listen:   net.JoinHostPort(m.Address, strconv.Itoa(p.cfg.DFMPort)),
		TokenEnv: tokenEnv,
		StateDir: p.dir(m.Name),
	}
	if notifyURL != "" {
		cfg.Notify = &dfmNotify{URL: notifyURL}
	}
	for _, tmpl := range p.cfg.Components {
		cfg.Components = append(cfg.Components, p.renderComponent(m, tmpl))
	}
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("rendering DFM configuration: %w", err)
	}
	return data, nil
}

// renderComponent sets the sample component's flags for this instance.
// DFM replaces {tenants_file} with the tenant file that it maintains.
func (p *Provider) renderComponent(m meta, tmpl ComponentTemplate) dfmComponent {
	args := []string{
		"-instance", m.ID,
		"-component", tmpl.Name,
		"-listen", net.JoinHostPort(m.Address, strconv.Itoa(tmpl.Port)),
		"-tenants-file", "{tenants_file}",
	}
	return dfmComponent{
		Name:          tmpl.Name,
		Command:       p.cfg.ComponentBinary,
		Args:          append(args, tmpl.Args...),
		Env:           tmpl.Env,
		Port:          tmpl.Port,
		Health:        dfmHealth{Path: "/healthz"},
		StartTimeout:  formatDuration(tmpl.StartTimeout),
		StopSignal:    "SIGTERM",
		Grace:         formatDuration(tmpl.Grace),
		TenantsReload: "signal",
	}
}

// formatDuration returns "" for 0, so that the key is left out.
func formatDuration(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}
