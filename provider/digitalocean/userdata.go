package digitalocean

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/dflb/dflb/provider"
)

// Paths on the droplet. The snapshot provides dfm.service, whose ExecStart
// runs DFM with dfmConfigPath; user data writes the rest.
const (
	dfmConfigPath   = "/etc/dfm/dfm.yaml"
	dfmTemplatePath = "/etc/dfm/dfm.yaml.in"
	dfmEnvPath      = "/etc/dfm/dfm.env"
	dfmDropInPath   = "/etc/systemd/system/dfm.service.d/10-dflb.conf"
	dfmStateDir     = "/var/lib/dfm"
	configureScript = "/usr/local/lib/dflb/configure-dfm"
	// dfmTokenEnv is the variable that carries the shared secret to DFM.
	dfmTokenEnv = "DFM_TOKEN"
)

// addressPlaceholder stands for the droplet's VPC address in the DFM
// configuration template. The address is known only on the droplet, so
// configureScript replaces it there.
const addressPlaceholder = "@PRIVATE_IPV4@"

// maxUserDataBytes is the API's limit on user data.
const maxUserDataBytes = 64 << 10

// cloudConfig is the part of cloud-init's #cloud-config format that the
// provider uses.
type cloudConfig struct {
	WriteFiles []cloudFile `yaml:"write_files"`
	RunCmd     [][]string  `yaml:"runcmd"`
}

type cloudFile struct {
	Path        string `yaml:"path"`
	Owner       string `yaml:"owner"`
	Permissions string `yaml:"permissions"`
	Content     string `yaml:"content"`
}

// dfmConfig mirrors the keys of DFM's configuration file (agent.Config)
// that the provider sets. DFM fills the defaults of every key left out.
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
	Name          string    `yaml:"name"`
	Command       string    `yaml:"command"`
	Args          []string  `yaml:"args"`
	Port          int       `yaml:"port"`
	Health        dfmHealth `yaml:"health"`
	StopSignal    string    `yaml:"stop_signal"`
	TenantsReload string    `yaml:"tenants_reload"`
}

type dfmHealth struct {
	Path string `yaml:"path"`
}

// renderUserData returns the cloud-config that configures and starts DFM
// on the droplet of spec. vpcRange is the VPC's CIDR, such as
// 10.116.0.0/20. The result contains the shared secret, so it must not
// be logged.
func (p *Provider) renderUserData(spec provider.Spec, vpcRange string) (string, error) {
	prefix, err := netip.ParsePrefix(vpcRange)
	if err != nil || !prefix.Addr().Is4() {
		return "", fmt.Errorf("VPC %s has the IP range %q, which is not an IPv4 CIDR", p.cfg.VPCUUID, vpcRange)
	}
	template, err := p.renderDFMConfig(spec)
	if err != nil {
		return "", err
	}

	cc := cloudConfig{
		WriteFiles: []cloudFile{
			{Path: dfmTemplatePath, Owner: "root:root", Permissions: "0644", Content: string(template)},
			{Path: dfmEnvPath, Owner: "root:root", Permissions: "0600", Content: dfmTokenEnv + "='" + spec.Bootstrap.Secret + "'\n"},
			{Path: dfmDropInPath, Owner: "root:root", Permissions: "0644", Content: "[Service]\nEnvironmentFile=" + dfmEnvPath + "\n"},
			{Path: configureScript, Owner: "root:root", Permissions: "0755", Content: configureScriptText(prefix)},
		},
		RunCmd: [][]string{{configureScript}},
	}
	data, err := yaml.Marshal(cc)
	if err != nil {
		return "", fmt.Errorf("rendering user data: %w", err)
	}
	userData := "#cloud-config\n" + string(data)
	if len(userData) > maxUserDataBytes {
		return "", fmt.Errorf("user data is %d bytes, more than the API's limit of %d: configure fewer or shorter components", len(userData), maxUserDataBytes)
	}
	return userData, nil
}

// configureScriptText returns the first-boot script. It finds the
// droplet's address in the VPC as the source address of the route into
// the VPC, which needs no metadata request. The route lookup of the VPC's
// first address returns the droplet's own address even when the droplet
// has that address. Then it writes DFM's configuration and starts DFM.
func configureScriptText(vpc netip.Prefix) string {
	probe := vpc.Masked().Addr().Next()
	return `#!/bin/sh
# Written by DFLB's DigitalOcean provider: completes DFM's configuration
# with this droplet's VPC address, then starts DFM.
set -eu
address=$(ip -4 route get ` + probe.String() + ` | sed -n 's/.* src \([0-9.]*\).*/\1/p')
if [ -z "$address" ]; then
	echo "configure-dfm: no IPv4 address in VPC ` + vpc.String() + `" >&2
	exit 1
fi
sed "s/` + addressPlaceholder + `/$address/g" ` + dfmTemplatePath + ` >` + dfmConfigPath + `
systemctl daemon-reload
systemctl enable --now dfm.service
`
}

// renderDFMConfig returns the DFM configuration template. The secret is
// not in it: DFM reads it from the variable dfmTokenEnv, which the
// systemd drop-in loads from dfmEnvPath.
func (p *Provider) renderDFMConfig(spec provider.Spec) ([]byte, error) {
	cfg := dfmConfig{
		Instance: spec.Name,
		Listen:   net.JoinHostPort(addressPlaceholder, strconv.Itoa(p.cfg.DFMPort)),
		TokenEnv: dfmTokenEnv,
		StateDir: dfmStateDir,
	}
	if spec.Bootstrap.NotifyURL != "" {
		cfg.Notify = &dfmNotify{URL: spec.Bootstrap.NotifyURL}
	}
	for _, tmpl := range p.cfg.Components {
		args := []string{
			"-instance", spec.Name,
			"-component", tmpl.Name,
			"-listen", net.JoinHostPort(addressPlaceholder, strconv.Itoa(tmpl.Port)),
			"-tenants-file", "{tenants_file}",
		}
		cfg.Components = append(cfg.Components, dfmComponent{
			Name:          tmpl.Name,
			Command:       p.cfg.ComponentBinary,
			Args:          append(args, tmpl.Args...),
			Port:          tmpl.Port,
			Health:        dfmHealth{Path: "/healthz"},
			StopSignal:    "SIGTERM",
			TenantsReload: "signal",
		})
	}
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("rendering DFM configuration: %w", err)
	}
	return data, nil
}

// validateSecret checks that the secret fits into a single-quoted value of
// a systemd EnvironmentFile, which takes every character but the quote
// verbatim. The error never contains the secret.
func validateSecret(secret string) error {
	if secret == "" {
		return errors.New("missing Bootstrap.Secret: DFM does not start without the shared secret, so set it")
	}
	if strings.ContainsRune(secret, '\'') {
		return errors.New("Bootstrap.Secret contains a single quote, which the droplet's environment file cannot carry: use another secret")
	}
	for _, r := range secret {
		if r < 0x20 || r == 0x7f {
			return errors.New("Bootstrap.Secret contains a control character: use printable characters only")
		}
	}
	return nil
}

func validateNotifyURL(notifyURL string) error {
	if notifyURL == "" {
		return nil
	}
	u, err := url.Parse(notifyURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("invalid Bootstrap.NotifyURL %q: use an absolute http or https URL that droplets reach in the VPC", notifyURL)
	}
	return nil
}
