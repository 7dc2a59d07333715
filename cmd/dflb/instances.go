package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"

	"github.com/dflb/dflb/balancer"
	"github.com/dflb/dflb/config"
	"github.com/dflb/dflb/controlplane"
	"github.com/dflb/dflb/provider"
	"github.com/dflb/dflb/provider/local"
)

// instances turns the configured instances into routing specs. With the
// static provider they are read from the file; with the local provider they
// are launched, or found running, through it.
type instances struct {
	launcher *controlplane.Launcher // nil for the static provider
	log      *slog.Logger
}

// newInstances builds the provider that cfg selects. notifyURL is where
// DFM posts its notifications and secret is the secret shared with DFM.
func newInstances(cfg *config.Config, notifyURL, secret string, logger *slog.Logger) (*instances, error) {
	if cfg.Provider.Kind != config.ProviderLocal {
		return &instances{log: logger}, nil
	}

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

// specs returns the routing specs of cfg's instances, launching them first
// when a provider manages them.
func (s *instances) specs(ctx context.Context, cfg *config.Config) ([]balancer.InstanceSpec, error) {
	if s.launcher == nil {
		return staticSpecs(cfg), nil
	}
	return s.launcher.Launch(ctx, plans(cfg, nil))
}

// change moves from the instances of old to those of next so that no
// request meets an instance that does not serve its tenant. Every instance
// first serves the union of its old and new tenants. Then the routes switch
// through publish, each instance drops the tenants it lost, and instances
// no longer configured are deleted.
//
// switched reports whether the routes of next were published, which is the
// case for some errors too: those of the steps after the switch.
func (s *instances) change(ctx context.Context, old, next *config.Config, publish func([]balancer.InstanceSpec) error) (switched bool, err error) {
	if s.launcher == nil {
		err := publish(staticSpecs(next))
		return err == nil, err
	}

	widened, err := s.launcher.Launch(ctx, plans(next, old))
	if err != nil {
		return false, err
	}
	for i := range widened {
		widened[i].Tenants = next.Instances[i].Tenants
	}
	if err := publish(widened); err != nil {
		return false, err
	}

	if _, err := s.launcher.Launch(ctx, plans(next, nil)); err != nil {
		return true, fmt.Errorf("removing tenants that moved away: %w", err)
	}
	for _, inst := range old.Instances {
		if slices.ContainsFunc(next.Instances, func(n config.Instance) bool { return n.ID == inst.ID }) {
			continue
		}
		if err := s.launcher.Provider.Delete(ctx, inst.ID); err != nil {
			return true, fmt.Errorf("deleting instance %s, which the configuration no longer lists: %w", inst.ID, err)
		}
		s.log.Info("instance deleted", "instance", inst.ID, "reason", "no longer in the configuration")
	}
	return true, nil
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

// plans lists cfg's instances with every known component. When also is
// set, each instance keeps the tenants it has there too.
func plans(cfg *config.Config, also *config.Config) []controlplane.Plan {
	out := make([]controlplane.Plan, 0, len(cfg.Instances))
	for _, inst := range cfg.Instances {
		tenants := slices.Clone(inst.Tenants)
		if also != nil {
			for _, prev := range also.Instances {
				if prev.ID != inst.ID {
					continue
				}
				for _, t := range prev.Tenants {
					if !slices.Contains(tenants, t) {
						tenants = append(tenants, t)
					}
				}
			}
		}
		out = append(out, controlplane.Plan{ID: inst.ID, Components: slices.Clone(cfg.Components), Tenants: tenants})
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
