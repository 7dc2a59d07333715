package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/dflb/dflb/balancer"
	"github.com/dflb/dflb/dfmapi"
	"github.com/dflb/dflb/provider"
)

// Plan is one instance that the configuration requests: its ID, which is
// also its provider name, the components it runs and the tenants they serve.
type Plan struct {
	ID         string
	Components []string
	Tenants    []string
}

// Launcher brings planned instances up through a provider. It creates the
// instances that do not exist yet, or finds the ones that an earlier DFLB
// left running, has their DFM start the components with the planned
// tenants, and waits until every component reports up.
//
// Launch is idempotent: running it again with the same plans changes
// nothing, and with other tenants it applies the new tenant sets.
type Launcher struct {
	Provider provider.Provider
	// Image is the provider image of new instances.
	Image string
	// Bootstrap is handed to every new instance: where DFM sends its
	// notifications and the secret that both sides use.
	Bootstrap provider.Bootstrap
	// ReadyTimeout bounds the wait for one instance's components. Default 60 s.
	ReadyTimeout time.Duration
	Logger       *slog.Logger
}

// Launch returns the routing spec of each planned instance, in plan order,
// with the component addresses that DFM reported. Instances are created one
// after the other, so that a provider hands out addresses in plan order,
// and then started all at once. It fails if any instance does not come up;
// the others keep running.
func (l *Launcher) Launch(ctx context.Context, plans []Plan) ([]balancer.InstanceSpec, error) {
	started := time.Now()
	instances := make([]provider.Instance, len(plans))
	for i, plan := range plans {
		inst, err := l.Provider.Create(ctx, provider.Spec{Name: plan.ID, Image: l.Image, Bootstrap: l.Bootstrap})
		if err != nil {
			return nil, fmt.Errorf("creating instance %s: %w", plan.ID, err)
		}
		instances[i] = inst
	}

	specs := make([]balancer.InstanceSpec, len(plans))
	errs := make([]error, len(plans))
	var wg sync.WaitGroup
	for i, plan := range plans {
		wg.Go(func() {
			specs[i], errs[i] = l.start(ctx, instances[i], plan, started)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return specs, nil
}

// start has DFM run the plan's components with its tenants and waits until
// they are up.
func (l *Launcher) start(ctx context.Context, inst provider.Instance, plan Plan, started time.Time) (balancer.InstanceSpec, error) {
	logger := l.logger().With("instance", plan.ID)
	client := l.client(inst)

	req := dfmapi.StartRequest{Components: plan.Components, Tenants: plan.Tenants}
	if err := client.Start(ctx, req); err != nil {
		return balancer.InstanceSpec{}, fmt.Errorf("starting components %v on instance %s: %w", plan.Components, plan.ID, err)
	}

	status, err := l.waitUp(ctx, client, plan)
	if err != nil {
		return balancer.InstanceSpec{}, err
	}

	spec := balancer.InstanceSpec{ID: plan.ID, Components: map[string]string{}, Tenants: slices.Clone(plan.Tenants)}
	for _, name := range plan.Components {
		comp, _ := status.Component(name)
		spec.Components[name] = net.JoinHostPort(inst.Address, strconv.Itoa(comp.Port))
	}
	logger.Info("instance ready", "address", inst.Address, "components", len(plan.Components),
		"tenants", len(plan.Tenants), "took", time.Since(started).Round(time.Millisecond).String())
	return spec, nil
}

// waitUp polls DFM until every planned component is up and serves exactly
// the planned tenants.
func (l *Launcher) waitUp(ctx context.Context, client *dfmapi.Client, plan Plan) (dfmapi.Status, error) {
	timeout := l.ReadyTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	var last string
	for {
		status, err := client.Status(ctx)
		if err == nil {
			waiting := pendingComponents(status, plan)
			if len(waiting) == 0 {
				return status, nil
			}
			last = fmt.Sprintf("components not ready: %v", waiting)
		} else {
			last = err.Error()
		}

		select {
		case <-ctx.Done():
			return dfmapi.Status{}, fmt.Errorf("instance %s not ready after %s (%s): read its dfm.log", plan.ID, timeout, last)
		case <-ticker.C:
		}
	}
}

// pendingComponents names the planned components that are not up with the
// planned tenants yet, each with its state.
func pendingComponents(status dfmapi.Status, plan Plan) []string {
	want := slices.Sorted(slices.Values(plan.Tenants))
	var waiting []string
	for _, name := range plan.Components {
		comp, ok := status.Component(name)
		switch {
		case !ok:
			waiting = append(waiting, name+" (unknown to DFM)")
		case comp.State != dfmapi.ComponentUp:
			waiting = append(waiting, name+" ("+string(comp.State)+")")
		case !slices.Equal(slices.Sorted(slices.Values(comp.Tenants)), want):
			waiting = append(waiting, name+" (applying tenants)")
		}
	}
	return waiting
}

func (l *Launcher) client(inst provider.Instance) *dfmapi.Client {
	return &dfmapi.Client{BaseURL: inst.DFMURL, Token: l.Bootstrap.Secret}
}

func (l *Launcher) logger() *slog.Logger {
	if l.Logger == nil {
		return slog.Default()
	}
	return l.Logger
}

// Teardown deletes every instance that the provider lists, all at once,
// for a local run that should leave no process behind.
func (l *Launcher) Teardown(ctx context.Context) error {
	instances, err := l.Provider.List(ctx)
	if err != nil {
		return fmt.Errorf("listing instances: %w", err)
	}
	errs := make([]error, len(instances))
	var wg sync.WaitGroup
	for i, inst := range instances {
		wg.Go(func() {
			if err := l.Provider.Delete(ctx, inst.ID); err != nil {
				errs[i] = fmt.Errorf("deleting instance %s: %w", inst.ID, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
