package broker

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeManager is an in-memory Manager that behaves like the control
// plane's: a created tenant stays pending for delay and then becomes ready,
// a removed one stays removing for delay and then disappears. A tenant whose
// ID starts with "fail-" ends in StateFailed instead of StateReady.
type fakeManager struct {
	delay time.Duration
	// capacity is the maximum number of tenants, 0 for no limit.
	capacity int

	mu      sync.Mutex
	tenants map[string]*fakeTenant
	timers  []*time.Timer
	// transitionsHeld postpones every transition until hold(false), so that a
	// test can observe a state without racing the timers.
	transitionsHeld bool
}

type fakeTenant struct {
	Tenant
	// generation changes with every transition, so that a timer of an
	// earlier one does nothing.
	generation int
}

func newFakeManager(t *testing.T, delay time.Duration) *fakeManager {
	m := &fakeManager{delay: delay, tenants: map[string]*fakeTenant{}}
	t.Cleanup(func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, timer := range m.timers {
			timer.Stop()
		}
	})
	return m
}

func (m *fakeManager) CreateTenant(_ context.Context, t Tenant) (Tenant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()

	if existing, ok := m.tenants[t.ID]; ok {
		if existing.State == StateRemoving {
			return Tenant{}, fmt.Errorf("tenant %q is being removed: %w", t.ID, ErrConflict)
		}
		if !sameAttributes(existing.Tenant, t) {
			return Tenant{}, fmt.Errorf("tenant %q exists on plan %q with other attributes: %w", t.ID, existing.Plan, ErrConflict)
		}
		return copyTenant(existing.Tenant), nil
	}
	if m.capacity > 0 && len(m.tenants) >= m.capacity {
		return Tenant{}, fmt.Errorf("all %d tenant slots are taken: %w", m.capacity, ErrNoCapacity)
	}

	t = copyTenant(t)
	t.State, t.Instances, t.Error = StatePending, nil, ""
	ft := &fakeTenant{Tenant: t}
	m.tenants[t.ID] = ft
	m.after(ft, func(ft *fakeTenant) {
		if strings.HasPrefix(ft.ID, "fail-") {
			ft.State, ft.Error = StateFailed, "no instance could start the tenant"
			return
		}
		ft.State, ft.Instances = StateReady, []string{"i1"}
	})
	return copyTenant(t), nil
}

func (m *fakeManager) UpdateTenant(_ context.Context, t Tenant) (Tenant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()

	ft, ok := m.tenants[t.ID]
	if !ok {
		return Tenant{}, fmt.Errorf("tenant %q: %w", t.ID, ErrNotFound)
	}
	if ft.State == StateRemoving {
		return Tenant{}, fmt.Errorf("tenant %q is being removed: %w", t.ID, ErrConflict)
	}
	planChanged := ft.Plan != t.Plan
	ft.Plan, ft.Weight, ft.Limits = t.Plan, t.Weight, t.Limits
	ft.Metadata = maps.Clone(t.Metadata)
	// A plan change moves the tenant, which takes time; other changes apply
	// at once.
	if planChanged && ft.State == StateReady {
		ft.State = StatePending
		m.after(ft, func(ft *fakeTenant) { ft.State = StateReady })
	}
	return copyTenant(ft.Tenant), nil
}

func (m *fakeManager) RemoveTenant(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()

	ft, ok := m.tenants[id]
	if !ok {
		return fmt.Errorf("tenant %q: %w", id, ErrNotFound)
	}
	if ft.State == StateRemoving {
		return nil
	}
	ft.State = StateRemoving
	m.after(ft, func(ft *fakeTenant) { delete(m.tenants, ft.ID) })
	return nil
}

func (m *fakeManager) GetTenant(id string) (Tenant, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ft, ok := m.tenants[id]
	if !ok {
		return Tenant{}, false
	}
	return copyTenant(ft.Tenant), true
}

func (m *fakeManager) ListTenants() []Tenant {
	m.mu.Lock()
	defer m.mu.Unlock()
	list := make([]Tenant, 0, len(m.tenants))
	for _, ft := range m.tenants {
		list = append(list, copyTenant(ft.Tenant))
	}
	return list
}

// put stores a tenant in its given state at once, as one created by an
// operator earlier would be.
func (m *fakeManager) put(t Tenant) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tenants[t.ID] = &fakeTenant{Tenant: copyTenant(t)}
}

// hold postpones transitions while on is true.
func (m *fakeManager) hold(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.transitionsHeld = on
}

// after runs step on ft after m.delay unless ft changed meanwhile. While
// m.transitionsHeld is set, the step waits another m.delay. The caller
// holds m.mu.
func (m *fakeManager) after(ft *fakeTenant, step func(*fakeTenant)) {
	ft.generation++
	m.schedule(ft, ft.generation, step)
}

// schedule arms the timer for after. The caller holds m.mu.
func (m *fakeManager) schedule(ft *fakeTenant, generation int, step func(*fakeTenant)) {
	m.timers = append(m.timers, time.AfterFunc(m.delay, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if ft.generation != generation {
			return
		}
		if m.transitionsHeld {
			m.schedule(ft, generation, step)
			return
		}
		ft.generation++
		step(ft)
	}))
}

func sameAttributes(a, b Tenant) bool {
	return a.Plan == b.Plan && a.Weight == b.Weight && a.Limits == b.Limits && maps.Equal(a.Metadata, b.Metadata)
}

func copyTenant(t Tenant) Tenant {
	t.Metadata = maps.Clone(t.Metadata)
	t.Instances = slices.Clone(t.Instances)
	return t
}
