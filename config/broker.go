package config

import (
	"go.yaml.in/yaml/v3"

	"github.com/dflb/dflb/broker"
)

// defaultPlan is the plan of tenants created without one when the
// configuration names none: no limits. Its ID is a fixed GUID, since a
// marketplace keeps plan IDs.
var defaultPlan = broker.Plan{
	Name:        "basic",
	ID:          "6f1e0c52-3d4b-4f8e-9a37-1b2c5d7e9f01",
	Description: "A tenant without traffic limits",
	Free:        true,
}

func defaultBroker() broker.Config {
	b := broker.DefaultConfig()
	b.Plans = []broker.Plan{defaultPlan}
	return b
}

// The broker section is decoded into broker.Config, whose fields document
// the keys and defaults; config/example.yaml lists them too.
func (d *decoder) broker(path string, n *yaml.Node, b *broker.Config) {
	d.mapping(path, n,
		field{"service_id", d.String(&b.ServiceID)},
		field{"service_name", d.String(&b.ServiceName)},
		field{"service_description", d.String(&b.ServiceDescription)},
		field{"username_env", d.String(&b.UsernameEnv)},
		field{"password_env", d.String(&b.PasswordEnv)},
		field{"tenant_url", d.String(&b.TenantURL)},
		field{"default_plan", d.String(&b.DefaultPlan)},
		field{"plans", func(path string, n *yaml.Node) {
			list := []broker.Plan{}
			d.Sequence(path, n, func(itemPath string, item *yaml.Node) {
				p := broker.Plan{Free: true}
				d.mapping(itemPath, item,
					field{"name", d.String(&p.Name)},
					field{"id", d.String(&p.ID)},
					field{"description", d.String(&p.Description)},
					field{"free", d.Bool(&p.Free)},
					field{"weight", d.Int(&p.Weight)},
					field{"limits", func(path string, n *yaml.Node) {
						d.mapping(path, n,
							field{"rate", d.Float(&p.Limits.Rate)},
							field{"burst", d.Int(&p.Limits.Burst)},
							field{"max_concurrent", d.Int(&p.Limits.MaxConcurrent)},
							field{"max_queued", d.Int(&p.Limits.MaxQueued)},
						)
					}},
				)
				list = append(list, p)
			})
			b.Plans = list
		}},
	)
}

// validateBroker checks the broker section. Without a service_id the Open
// Service Broker endpoint is off, so only the plans matter, for the
// tenant API.
func (c *Config) validateBroker() []error {
	b := c.Broker
	if b.ServiceID == "" {
		// Borrow a valid service ID to check the rest with the same rules.
		b.ServiceID = "00000000-0000-4000-8000-000000000000"
	}
	var errs []error
	for _, e := range unjoin(b.Validate()) {
		if e == nil {
			continue
		}
		errs = append(errs, c.errorf("broker", "%w", e))
	}
	return errs
}
