package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/dflb/dflb/balancer"
	"github.com/dflb/dflb/config"
	"github.com/dflb/dflb/controlplane"
	"github.com/dflb/dflb/provider"
	"github.com/dflb/dflb/provider/digitalocean"
	"github.com/dflb/dflb/provider/local"
)

// instances turns the configured instances into routing specs. With the
// static provider they are read from the file; with the local provider the
// control plane creates them, or finds them running, and then manages them.
type instances struct {
	launcher   *controlplane.Launcher   // nil for the static provider
	controller *controlplane.Controller // nil for the static provider
	log        *slog.Logger
}

// newInstances builds the provider that cfg selects. notifyURL is where
// DFM posts its notifications and secret is the secret shared with DFM.
func newInstances(cfg *config.Config, notifyURL, secret string, logger *slog.Logger) (*instances, error) {
	if cfg.Provider.NotifyURL != "" {
		notifyURL = cfg.Provider.NotifyURL
	}
	switch cfg.Provider.Kind {
	case config.ProviderLocal:
		return newLocalInstances(cfg, notifyURL, secret, logger)
	case config.ProviderDigitalOcean:
		return newDropletInstances(cfg, notifyURL, secret, logger)
	}
	return &instances{log: logger}, nil
}

// newLocalInstances builds the local provider: instances as process
// groups on loopback addresses.
func newLocalInstances(cfg *config.Config, notifyURL, secret string, logger *slog.Logger) (*instances, error) {

	l := cfg.Provider.Local
	templates := make([]local.ComponentTemplate, 0, len(l.Components))
	for _, c := range l.Components {
		templates = append(templates, local.ComponentTemplate{Name: c.Name, Port: c.Port})
	}
	p, err := local.New(local.Config{
		Root:            l.Root,
		Binary:          l.DFMBinary,
		ComponentBinary: l.ComponentBinary,
		Network:         l.Network,
		DFMPort:         l.DFMPort,
		Components:      templates,
		Secret:          secret,
	}, logger)
	if err != nil {
		return nil, fmt.Errorf("local provider: %w", err)
	}
	return &instances{
		launcher: &controlplane.Launcher{
			Provider:  p,
			Image:     local.DefaultImage,
			Bootstrap: provider.Bootstrap{NotifyURL: notifyURL, Secret: secret},
			Logger:    logger,
		},
		log: logger,
	}, nil
}

// newDropletInstances builds the DigitalOcean provider: instances as
// droplets made from a prepared image.
func newDropletInstances(cfg *config.Config, notifyURL, secret string, logger *slog.Logger) (*instances, error) {
	d := cfg.Provider.DigitalOcean
	components := make([]digitalocean.ComponentTemplate, 0, len(d.Components))
	for _, c := range d.Components {
		components = append(components, digitalocean.ComponentTemplate{Name: c.Name, Port: c.Port, Args: c.Args})
	}
	p, err := digitalocean.New(digitalocean.Config{
		TokenEnv:             d.TokenEnv,
		APIURL:               d.APIURL,
		Cluster:              d.Cluster,
		Region:               d.Region,
		Size:                 d.Size,
		Image:                d.Image,
		VPCUUID:              d.VPCUUID,
		SSHKeys:              d.SSHKeys,
		Tags:                 d.Tags,
		MaxDroplets:          d.MaxDroplets,
		DFMPort:              d.DFMPort,
		ComponentBinary:      d.ComponentBinary,
		Components:           components,
		CreateTimeout:        d.CreateTimeout,
		ReadyTimeout:         d.ReadyTimeout,
		RebootTimeout:        d.RebootTimeout,
		ActionTimeout:        d.ActionTimeout,
		PollInterval:         d.PollInterval,
		RequestTimeout:       d.RequestTimeout,
		HealthRequestTimeout: d.HealthTimeout,
		MaxRetries:           d.MaxRetries,
		RateLimitMaxWait:     d.RateLimitMaxWait,
	}, logger)
	if err != nil {
		return nil, fmt.Errorf("provider.digitalocean: %w", err)
	}
	return &instances{
		launcher: &controlplane.Launcher{
			Provider:  p,
			Bootstrap: provider.Bootstrap{NotifyURL: notifyURL, Secret: secret},
			// Droplets boot in minutes, not seconds.
			ReadyTimeout: 10 * time.Minute,
			Logger:       logger,
		},
		log: logger,
	}, nil
}

// start brings the instances up and publishes the first table through
// w.publish. With a provider, the control plane does it from the state in
// w.db, or from cfg's layout on a first start.
func (s *instances) start(ctx context.Context, cfg *config.Config, w wiring) error {
	if s.launcher == nil {
		return w.publish(staticSpecs(cfg))
	}

	s.controller = &controlplane.Controller{
		Provider:   s.launcher.Provider,
		Launcher:   s.launcher,
		DB:         w.db,
		Policy:     policy(cfg.Autoscale),
		Components: slices.Clone(cfg.Components),
		Publish:    w.publish,
		Stats:      w.stats,
		Pool:       w.pool,
		OnLimits:   w.limits,
		Logger:     s.log,
	}
	return s.controller.Start(ctx, plans(cfg))
}

// wiring is the set of data-plane parts that the control plane uses.
type wiring struct {
	db      *controlplane.DB
	publish func([]balancer.InstanceSpec) error
	stats   *balancer.Stats
	pool    *balancer.Pool
	// limits receives the tenants' data-plane limits whenever they change.
	limits func(map[string]controlplane.TenantLimits)
}

// policy converts the autoscale section into the control plane's policy.
func policy(a config.Autoscale) controlplane.Policy {
	return controlplane.Policy{
		Enabled:               a.Enabled,
		MinInstances:          a.MinInstances,
		MaxInstances:          a.MaxInstances,
		OverloadRPS:           a.OverloadRPS,
		LowRPS:                a.LowRPS,
		OverloadCPU:           a.OverloadCPU,
		Target:                a.Target,
		OverloadFor:           a.OverloadFor,
		LowFor:                a.LowFor,
		ScaleOutCooldown:      a.ScaleOutCooldown,
		ScaleInCooldown:       a.ScaleInCooldown,
		Warmup:                a.Warmup,
		MaxTenantsPerStep:     a.MaxTenantsPerStep,
		MaxTenantsPerInstance: a.MaxTenantsPerInstance,
		DrainTimeout:          a.DrainTimeout,
		ShutdownTimeout:       a.ShutdownTimeout,
		FailbackAfter:         a.FailbackAfter,
		Orphans:               a.Orphans,
	}
}

// change moves from the instances of old to those of next so that no
// request meets an instance that does not serve its tenant: the control
// plane widens, switches, narrows and removes, in that order.
//
// switched reports whether the routes of next were published, which is the
// case for some errors too: those of the steps after the switch.
func (s *instances) change(ctx context.Context, old, next *config.Config, publish func([]balancer.InstanceSpec) error) (switched bool, err error) {
	if s.controller == nil {
		err := publish(staticSpecs(next))
		return err == nil, err
	}
	return s.controller.Apply(ctx, plans(old), plans(next))
}

// teardown deletes every instance of the provider.
func (s *instances) teardown(ctx context.Context) error {
	if s.launcher == nil {
		return nil
	}
	return s.launcher.Teardown(ctx)
}

func staticSpecs(cfg *config.Config) []balancer.InstanceSpec {
	specs := make([]balancer.InstanceSpec, 0, len(cfg.Instances))
	for _, inst := range cfg.Instances {
		specs = append(specs, balancer.InstanceSpec{ID: inst.ID, Components: inst.Components, Tenants: inst.Tenants})
	}
	return specs
}

// plans lists cfg's instances with every known component and their
// tenants.
func plans(cfg *config.Config) []controlplane.Plan {
	out := make([]controlplane.Plan, 0, len(cfg.Instances))
	for _, inst := range cfg.Instances {
		out = append(out, controlplane.Plan{ID: inst.ID, Components: slices.Clone(cfg.Components), Tenants: slices.Clone(inst.Tenants)})
	}
	return out
}

// notifyURL is the address at which DFM reaches the admin listener. A
// listener on every interface is reached through loopback, which suits the
// local provider, whose instances run on this machine.
// NOTE: instances on other machines need an address they can route to;
// there is no setting for it yet.
func notifyURL(adminLn net.Listener) string {
	addr := adminLn.Addr().(*net.TCPAddr)
	host := addr.IP
	if host.IsUnspecified() {
		host = net.IPv4(127, 0, 0, 1)
	}
	return "http://" + net.JoinHostPort(host.String(), strconv.Itoa(addr.Port)) + controlplane.NotificationsPath
}
