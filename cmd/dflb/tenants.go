package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/dflb/dflb/broker"
	"github.com/dflb/dflb/controlplane"
)

// tenantManager lets the tenant API and the service broker create and
// remove tenants through the control plane.
type tenantManager struct {
	c *controlplane.Controller
}

var _ broker.Manager = tenantManager{}

func (m tenantManager) CreateTenant(_ context.Context, t broker.Tenant) (broker.Tenant, error) {
	v, err := m.c.CreateTenant(specOf(t))
	return tenantOf(v), brokerError(err)
}

func (m tenantManager) UpdateTenant(_ context.Context, t broker.Tenant) (broker.Tenant, error) {
	if v, ok := m.c.Tenant(t.ID); ok && v.State == controlplane.TenantRemoving {
		return tenantOf(v), fmt.Errorf("tenant %s is being removed: %w", t.ID, broker.ErrConflict)
	}
	v, err := m.c.UpdateTenant(specOf(t))
	return tenantOf(v), brokerError(err)
}

func (m tenantManager) RemoveTenant(_ context.Context, id string) error {
	return brokerError(m.c.RemoveTenant(id))
}

func (m tenantManager) GetTenant(id string) (broker.Tenant, bool) {
	v, ok := m.c.Tenant(id)
	return tenantOf(v), ok
}

func (m tenantManager) ListTenants() []broker.Tenant {
	views := m.c.Tenants()
	out := make([]broker.Tenant, 0, len(views))
	for _, v := range views {
		out = append(out, tenantOf(v))
	}
	return out
}

func specOf(t broker.Tenant) controlplane.TenantSpec {
	return controlplane.TenantSpec{
		ID:     t.ID,
		Plan:   t.Plan,
		Weight: t.Weight,
		Limits: controlplane.TenantLimits{
			Rate: t.Limits.Rate, Burst: t.Limits.Burst,
			MaxConcurrent: t.Limits.MaxConcurrent, MaxQueued: t.Limits.MaxQueued,
		},
		Metadata: t.Metadata,
	}
}

func tenantOf(v controlplane.TenantView) broker.Tenant {
	return broker.Tenant{
		ID:     v.ID,
		Plan:   v.Plan,
		Weight: v.Weight,
		Limits: broker.Limits{
			Rate: v.Limits.Rate, Burst: v.Limits.Burst,
			MaxConcurrent: v.Limits.MaxConcurrent, MaxQueued: v.Limits.MaxQueued,
		},
		Metadata:  v.Metadata,
		State:     string(v.State),
		Instances: v.Instances,
		Error:     v.Error,
	}
}

// brokerError maps the control plane's tenant errors to the broker's, so
// that both handlers respond with the right status.
func brokerError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, controlplane.ErrTenantNotFound):
		return fmt.Errorf("%w: %w", broker.ErrNotFound, err)
	case errors.Is(err, controlplane.ErrTenantConflict):
		return fmt.Errorf("%w: %w", broker.ErrConflict, err)
	case errors.Is(err, controlplane.ErrNoCapacity):
		return fmt.Errorf("%w: %w", broker.ErrNoCapacity, err)
	}
	return err
}
