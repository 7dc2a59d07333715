package config

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// ProviderDigitalOcean runs each instance as a DigitalOcean droplet.
const ProviderDigitalOcean = "digitalocean"

// DigitalOceanProvider configures droplets. provider/digitalocean checks
// the values and fills the defaults that docs/digitalocean.md lists; zero
// values here mean "use that default".
type DigitalOceanProvider struct {
	TokenEnv         string
	APIURL           string
	Cluster          string
	Region           string
	Size             string
	Image            string
	VPCUUID          string
	SSHKeys          []string
	Tags             []string
	MaxDroplets      int
	DFMPort          int
	ComponentBinary  string
	Components       []DropletComponent
	CreateTimeout    time.Duration
	ReadyTimeout     time.Duration
	RebootTimeout    time.Duration
	ActionTimeout    time.Duration
	PollInterval     time.Duration
	RequestTimeout   time.Duration
	HealthTimeout    time.Duration
	MaxRetries       int
	RateLimitMaxWait time.Duration
}

// DropletComponent is one component that DFM runs on every droplet.
type DropletComponent struct {
	Name string
	Port int
	Args []string
}

func (d *decoder) digitalOceanProvider(path string, n *yaml.Node, p *DigitalOceanProvider) {
	d.mapping(path, n,
		field{"token_env", d.String(&p.TokenEnv)},
		field{"api_url", d.String(&p.APIURL)},
		field{"cluster", d.String(&p.Cluster)},
		field{"region", d.String(&p.Region)},
		field{"size", d.String(&p.Size)},
		field{"image", d.String(&p.Image)},
		field{"vpc_uuid", d.String(&p.VPCUUID)},
		field{"ssh_keys", d.StringList(&p.SSHKeys)},
		field{"tags", d.StringList(&p.Tags)},
		field{"max_droplets", d.Int(&p.MaxDroplets)},
		field{"dfm_port", d.Int(&p.DFMPort)},
		field{"component_binary", d.String(&p.ComponentBinary)},
		field{"components", func(path string, n *yaml.Node) {
			list := []DropletComponent{}
			d.Sequence(path, n, func(itemPath string, item *yaml.Node) {
				var c DropletComponent
				d.mapping(itemPath, item,
					field{"name", d.String(&c.Name)},
					field{"port", d.Int(&c.Port)},
					field{"args", d.StringList(&c.Args)},
				)
				list = append(list, c)
			})
			p.Components = list
		}},
		field{"create_timeout", d.Duration(&p.CreateTimeout)},
		field{"ready_timeout", d.Duration(&p.ReadyTimeout)},
		field{"reboot_timeout", d.Duration(&p.RebootTimeout)},
		field{"action_timeout", d.Duration(&p.ActionTimeout)},
		field{"poll_interval", d.Duration(&p.PollInterval)},
		field{"request_timeout", d.Duration(&p.RequestTimeout)},
		field{"health_timeout", d.Duration(&p.HealthTimeout)},
		field{"max_retries", d.Int(&p.MaxRetries)},
		field{"rate_limit_max_wait", d.Duration(&p.RateLimitMaxWait)},
	)
}
