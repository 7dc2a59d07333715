package broker

import (
	"context"
	"fmt"
	"math"

	"github.com/dflb/dflb/tenant"
)

// Tenant states. The Manager sets them, and the APIs only read them.
const (
	// StatePending means that the tenant was recorded and is being placed
	// on instances, or that a change to it is being applied.
	StatePending = "pending"
	// StateReady means that the proxy routes the tenant's requests.
	StateReady = "ready"
	// StateRemoving means that the tenant is being removed. It disappears
	// from the Manager when that is done.
	StateRemoving = "removing"
	// StateFailed means that placing or removing the tenant failed. Error
	// contains the reason.
	StateFailed = "failed"
)

// Tenant is one customer organisation, in the form that the tenant API
// sends and the Manager stores.
type Tenant struct {
	// ID is a DNS label in lower case, the form that tenant.Normalize returns.
	ID string `json:"id"`
	// Plan is the name of one of the configured plans.
	Plan string `json:"plan"`
	// Weight is the tenant's expected load against a tenant of weight 1,
	// which the control plane places new tenants by. 0 means unset and
	// counts as 1.
	Weight int `json:"weight,omitempty"`
	// Limits caps the tenant's traffic in the proxy.
	Limits Limits `json:"limits"`
	// Metadata contains free-form labels. Keys that start with "osb_" belong
	// to the service broker, which stores its instance and bindings there.
	Metadata map[string]string `json:"metadata,omitempty"`
	// State is one of StatePending, StateReady, StateRemoving and
	// StateFailed. The Manager sets it.
	State string `json:"state"`
	// Instances are the IDs of the instances that serve the tenant. The
	// Manager sets them.
	Instances []string `json:"instances,omitempty"`
	// Error is the reason for StateFailed. The Manager sets it.
	Error string `json:"error,omitempty"`
}

// Limits caps the traffic of one tenant, with the units and zero values of
// proxy.TenantLimit: a zero field leaves its dimension unlimited.
type Limits struct {
	// Rate is the sustained request rate in requests per second.
	Rate float64 `json:"rate"`
	// Burst is the number of requests that may arrive at once above Rate.
	Burst int `json:"burst"`
	// MaxConcurrent is the maximum number of requests forwarded at once.
	MaxConcurrent int `json:"max_concurrent"`
	// MaxQueued is the maximum number of requests waiting for a
	// concurrency slot.
	MaxQueued int `json:"max_queued,omitempty"`
}

// maxRate matches the upper bound that the proxy accepts for Rate.
const maxRate = 1e9

// Validate returns an error naming the first field that no proxy could
// enforce.
//
// NOTE: the proxy also rejects a Rate below one request per 24 hours and a
// Burst that covers more than 24 hours at Rate. Those limits pass here and
// fail when the control plane applies them.
func (l Limits) Validate() error {
	if math.IsNaN(l.Rate) || math.IsInf(l.Rate, 0) || l.Rate < 0 || l.Rate > maxRate {
		return fmt.Errorf("rate %v is invalid: use requests per second from 0 (no limit) to %g", l.Rate, maxRate)
	}
	if l.Burst < 0 {
		return fmt.Errorf("burst %d is negative: use 0 or more requests", l.Burst)
	}
	if l.MaxConcurrent < 0 {
		return fmt.Errorf("max_concurrent %d is negative: use 0 (no limit) or more requests", l.MaxConcurrent)
	}
	if l.MaxQueued < 0 {
		return fmt.Errorf("max_queued %d is negative: use 0 or more requests", l.MaxQueued)
	}
	return nil
}

// Manager is implemented by the control plane. Create and Remove are
// asynchronous and idempotent: they record the request and return at once,
// and State reports progress.
//
// Errors wrap ErrNotFound, ErrConflict or ErrNoCapacity where those apply,
// so that the APIs can map them to a status with errors.Is. Any other error
// becomes 500. Returned tenants and their maps and slices are copies that
// the caller may modify.
type Manager interface {
	// CreateTenant records a new tenant in StatePending and returns it. The
	// ID is already normalized, and State, Instances and Error are ignored.
	// For an existing tenant with the same Plan, Weight, Limits and Metadata
	// it returns that tenant in its current state. For an existing tenant
	// that differs, or that is being removed, it returns ErrConflict. It
	// returns ErrNoCapacity when no instance can take the tenant.
	CreateTenant(ctx context.Context, t Tenant) (Tenant, error)

	// UpdateTenant replaces Plan, Weight, Limits and Metadata of the tenant
	// t.ID and returns it. State StatePending in the result means that the
	// change is still being applied. It returns ErrNotFound for an unknown
	// tenant and ErrConflict for one being removed.
	UpdateTenant(ctx context.Context, t Tenant) (Tenant, error)

	// RemoveTenant starts removing the tenant and returns at once. It
	// returns ErrNotFound for an unknown tenant and nil for a tenant that
	// is already being removed.
	RemoveTenant(ctx context.Context, id string) error

	// GetTenant returns the tenant with the normalized ID id.
	GetTenant(id string) (Tenant, bool)

	// ListTenants returns every tenant, including those being removed.
	ListTenants() []Tenant
}

// normalizeTenantID validates raw as a tenant ID and returns it in lower
// case. The error quotes raw and names the allowed bytes.
func normalizeTenantID(raw string) (string, error) {
	var buf [tenant.MaxIDLen]byte
	id, err := tenant.Normalize([]byte(raw), &buf)
	if err != nil {
		return "", err
	}
	return string(id), nil
}
