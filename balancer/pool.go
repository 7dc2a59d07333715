package balancer

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// InstanceSpec describes one instance for Pool.Build.
type InstanceSpec struct {
	ID string
	// Components maps a component name to the host:port it listens on.
	Components map[string]string
	// Tenants lists the normalized tenant IDs the instance serves. Build
	// stores them as given, so they must match what the proxy passes to
	// Table.Lookup.
	Tenants []string
}

type backendKey struct {
	instance, component, addr string
}

// routeKey names a route: a tenant and one of its components.
type routeKey struct {
	tenant, component string
}

// Pool owns the backends of every table it builds, keyed by
// (instance, component, addr), so runtime state survives reloads.
// Build and Prune are safe for concurrent use, but a reload must run
// Build, Router.Store and Prune in order before the next reload starts.
type Pool struct {
	newTransport   func(addr string) any
	closeTransport func(any)
	health         HealthConfig

	mu       sync.Mutex
	backends map[backendKey]*Backend
	// routes lists the routes of the last table built, from which Build
	// tells whether a new backend joins a route that already has traffic.
	routes map[routeKey]struct{}
}

// NewPool returns an empty Pool. newTransport creates the Transport of each
// new backend and closeTransport releases it in Prune. Either may be nil.
// closeTransport must be safe to call while requests that loaded an older
// table still use the transport.
func NewPool(newTransport func(addr string) any, hc HealthConfig, closeTransport func(any)) *Pool {
	return &Pool{
		newTransport:   newTransport,
		closeTransport: closeTransport,
		health:         hc,
		backends:       make(map[backendKey]*Backend),
	}
}

// Build validates instances and returns a new Table. Backends already in the
// pool are reused with their state, and new ones get a transport from the
// factory. A new backend that serves a route of the previous table built
// starts its slow start (HealthConfig.SlowStart) now. Route and target
// counters come from stats, or from a private registry when stats is nil.
// On error the pool is unchanged.
func (p *Pool) Build(instances []InstanceSpec, stats *Stats) (*Table, error) {
	if stats == nil {
		stats = NewStats()
	}
	if err := validateSpecs(instances); err != nil {
		return nil, err
	}

	t := &Table{
		tenants:  make(map[string]*Route),
		backends: make(map[*Backend]struct{}),
		pairs:    make(map[Pair]struct{}),
	}

	p.mu.Lock()
	defer p.mu.Unlock()

	now := time.Now().UnixNano()
	routes := make(map[routeKey]struct{})
	for _, inst := range instances {
		for _, component := range slices.Sorted(maps.Keys(inst.Components)) {
			b, created := p.backendLocked(inst.ID, component, inst.Components[component])
			if created && p.joinsExistingRouteLocked(inst.Tenants, component) {
				b.startRamp(now)
			}
			t.backends[b] = struct{}{}
			for _, tenant := range inst.Tenants {
				route := t.route(tenant, component, stats)
				route.Targets = append(route.Targets, Target{
					Backend: b,
					Stats:   stats.Pair(tenant, inst.ID),
				})
				t.pairs[Pair{Tenant: tenant, Instance: inst.ID}] = struct{}{}
				routes[routeKey{tenant: tenant, component: component}] = struct{}{}
			}
		}
	}
	t.index = newTenantIndex(t.tenants)
	p.routes = routes
	return t, nil
}

// joinsExistingRouteLocked reports whether a backend of component serving
// tenants joins a route that the previous table built already had. The
// first table has no previous one, so its backends start at full share.
// Traffic starts on all of them at once, so there is none to shift.
func (p *Pool) joinsExistingRouteLocked(tenants []string, component string) bool {
	for _, tenant := range tenants {
		if _, ok := p.routes[routeKey{tenant: tenant, component: component}]; ok {
			return true
		}
	}
	return false
}

// route returns the route of tenant and component in t, creating it empty.
func (t *Table) route(tenant, component string, stats *Stats) *Route {
	first := t.tenants[tenant]
	for route := first; route != nil; route = route.next {
		if route.Component == component {
			return route
		}
	}
	route := &Route{Tenant: tenant, Component: component, Stats: stats.Tenant(tenant), next: first}
	t.tenants[tenant] = route
	return route
}

// backendLocked returns the pool's backend for the key, creating it when
// the pool has none. created reports whether it did.
func (p *Pool) backendLocked(instance, component, addr string) (b *Backend, created bool) {
	key := backendKey{instance: instance, component: component, addr: addr}
	if b, ok := p.backends[key]; ok {
		return b, false
	}
	b = newBackend(instance, component, addr, p.health)
	if p.newTransport != nil {
		b.Transport = p.newTransport(addr)
	}
	p.backends[key] = b
	return b, true
}

// Prune removes from the pool every backend that t does not use and passes
// its Transport to closeTransport. Call it after Router.Store(t), so that
// no new request loads a table that still uses a pruned backend.
// It returns the number of backends removed.
func (p *Pool) Prune(t *Table) int {
	p.mu.Lock()
	var removed []*Backend
	for key, b := range p.backends {
		if _, ok := t.backends[b]; ok {
			continue
		}
		delete(p.backends, key)
		removed = append(removed, b)
	}
	p.mu.Unlock()

	// Transports close outside the lock because closing may block on I/O.
	if p.closeTransport != nil {
		for _, b := range removed {
			p.closeTransport(b.Transport)
		}
	}
	return len(removed)
}

// Backends returns the backends in the pool, sorted by instance, component
// and address.
func (p *Pool) Backends() []*Backend {
	p.mu.Lock()
	out := make([]*Backend, 0, len(p.backends))
	for _, b := range p.backends {
		out = append(out, b)
	}
	p.mu.Unlock()

	slices.SortFunc(out, compareBackends)
	return out
}

func compareBackends(a, b *Backend) int {
	return cmp.Or(
		strings.Compare(a.Instance, b.Instance),
		strings.Compare(a.Component, b.Component),
		strings.Compare(a.Addr, b.Addr),
	)
}

func validateSpecs(instances []InstanceSpec) error {
	targets := make(map[routeKey]int)
	seen := make(map[string]struct{}, len(instances))
	for i, inst := range instances {
		if inst.ID == "" {
			return fmt.Errorf("balancer: instance %d has an empty ID: give every instance an id", i)
		}
		if _, dup := seen[inst.ID]; dup {
			return fmt.Errorf("balancer: duplicate instance ID %q: instance IDs must be unique", inst.ID)
		}
		seen[inst.ID] = struct{}{}

		for component, addr := range inst.Components {
			if component == "" {
				return fmt.Errorf("balancer: instance %q has a component with an empty name", inst.ID)
			}
			if addr == "" {
				return fmt.Errorf("balancer: instance %q component %q has an empty address: set host:port", inst.ID, component)
			}
		}

		tenants := make(map[string]struct{}, len(inst.Tenants))
		for _, tenant := range inst.Tenants {
			if tenant == "" {
				return fmt.Errorf("balancer: instance %q lists an empty tenant ID", inst.ID)
			}
			if _, dup := tenants[tenant]; dup {
				return fmt.Errorf("balancer: instance %q lists tenant %q twice: remove the duplicate", inst.ID, tenant)
			}
			tenants[tenant] = struct{}{}

			for component := range inst.Components {
				key := routeKey{tenant: tenant, component: component}
				targets[key]++
				if targets[key] > MaxTargets {
					return fmt.Errorf("balancer: tenant %q component %q is served by more than %d instances: remove the tenant from some instances", tenant, component, MaxTargets)
				}
			}
		}
	}
	return nil
}
