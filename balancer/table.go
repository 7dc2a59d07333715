package balancer

import (
	"errors"
	"sync/atomic"
)

// MaxTargets is the maximum number of targets in one Route, set by the
// 64-bit tried mask of Route.Pick.
const MaxTargets = 64

var (
	// ErrUnknownTenant is returned by Table.Lookup for a tenant that no
	// instance serves.
	ErrUnknownTenant = errors.New("balancer: tenant not found in routing table")
	// ErrUnknownComponent is returned by Table.Lookup when the tenant is
	// known but no instance serves it the requested component.
	ErrUnknownComponent = errors.New("balancer: component not served for tenant")
)

// Target is one backend that may serve a route.
type Target struct {
	Backend *Backend
	// Stats is the tenant x instance cell. The proxy records one Start and
	// one Done on it per attempt sent to Backend.
	Stats *Counters
}

// Route is the set of targets for one tenant and one component. Only its
// selection cursor changes after Build, so it is safe for concurrent use.
type Route struct {
	Tenant    string
	Component string
	// Targets lists the backends of every instance that serves Tenant and
	// has Component, in instance order. It holds 1 to MaxTargets entries.
	Targets []Target
	// Stats is the tenant cell. The proxy records one Start and one Done on
	// it per client request, with the final class, even when no backend
	// responded.
	Stats *Counters

	// The fields above fill the first cache line, which every request
	// reads, and the size of 3 lines keeps routes aligned to lines in Go's
	// 192-byte size class. The cursor has a line of its own, because
	// round-robin choices write it.
	next   *Route // the tenant's route of another component, or nil
	_      [cacheLine - 8]byte
	cursor atomic.Uint64
	_      [cacheLine - 8]byte
}

// Table is an immutable routing table built by Pool.Build. Its methods are
// safe for concurrent use without locks.
type Table struct {
	// tenants maps a tenant to its first route, and Route.next links the
	// routes of its other components. A tenant has few components, so a
	// short walk beats a second map lookup.
	tenants  map[string]*Route
	index    tenantIndex // the same first routes, for Lookup
	backends map[*Backend]struct{}
	pairs    map[Pair]struct{}
}

// Lookup returns the route of tenant for component. tenant is the normalized
// tenant ID; Lookup does not retain it and does not allocate. The error is
// ErrUnknownTenant or ErrUnknownComponent itself, not wrapped, so the caller
// adds the tenant and component when it logs. On a nil Table, Lookup
// returns ErrUnknownTenant.
func (t *Table) Lookup(tenant []byte, component string) (*Route, error) {
	if t == nil {
		return nil, ErrUnknownTenant
	}
	route := t.index.find(tenant)
	if route == nil {
		return nil, ErrUnknownTenant
	}
	for ; route != nil; route = route.next {
		if route.Component == component {
			return route, nil
		}
	}
	return nil, ErrUnknownComponent
}

// Tenants returns the number of tenants in t.
func (t *Table) Tenants() int {
	if t == nil {
		return 0
	}
	return len(t.tenants)
}

// HasTenant reports whether t routes tenant.
func (t *Table) HasTenant(tenant string) bool {
	if t == nil {
		return false
	}
	_, ok := t.tenants[tenant]
	return ok
}

// Router publishes the current Table to request goroutines. Load returns nil
// until the first Store. The zero value is ready to use.
type Router struct {
	atomic.Pointer[Table]
}

func (t *Table) hasPair(tenant, instance string) bool {
	if t == nil {
		return false
	}
	_, ok := t.pairs[Pair{Tenant: tenant, Instance: instance}]
	return ok
}
