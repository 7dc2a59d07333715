package controlplane

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/dflb/dflb/tenant"
)

// TenantState is the life-cycle state of a tenant created through the
// tenant API.
type TenantState string

// Tenant states.
const (
	// TenantPending is a tenant recorded and not yet routed.
	TenantPending TenantState = "pending"
	// TenantReady is a tenant whose components confirmed it and that is
	// routed.
	TenantReady TenantState = "ready"
	// TenantRemoving is a tenant whose routes are being removed.
	TenantRemoving TenantState = "removing"
	// TenantFailed is a tenant that could not be placed. Error contains the
	// reason.
	TenantFailed TenantState = "failed"
)

// Errors of the tenant operations.
var (
	ErrTenantNotFound = errors.New("tenant not found")
	ErrTenantConflict = errors.New("tenant exists with other attributes")
	ErrNoCapacity     = errors.New("no instance has room for another tenant and the maximum instance count is reached")
)

// TenantLimits are a tenant's data-plane limits. Zero values set no limit.
type TenantLimits struct {
	// Rate is the sustained request rate per second, Burst the bucket size.
	Rate  float64 `json:"rate"`
	Burst int     `json:"burst"`
	// MaxConcurrent bounds the requests in flight, MaxQueued those waiting
	// for a slot.
	MaxConcurrent int `json:"max_concurrent"`
	MaxQueued     int `json:"max_queued,omitempty"`
}

// TenantSpec is the requested configuration of a tenant.
type TenantSpec struct {
	ID       string            `json:"id"`
	Plan     string            `json:"plan,omitempty"`
	Weight   int               `json:"weight,omitempty"`
	Limits   TenantLimits      `json:"limits"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// TenantRecord is a tenant in the control plane's state.
type TenantRecord struct {
	TenantSpec
	State   TenantState `json:"state"`
	Error   string      `json:"error,omitempty"`
	Created time.Time   `json:"created"`
	Updated time.Time   `json:"updated"`
}

// TenantView is a tenant as the tenant API shows it: its record, or a
// ready record for a tenant placed by the configuration file, with the
// instances that serve it.
type TenantView struct {
	TenantRecord
	Instances []string `json:"instances,omitempty"`
}

// tenantBatch bounds the tenants that one operation adds or removes.
const tenantBatch = 50

// CreateTenant records spec and returns at once; the next pass places the
// tenant and State moves to ready once its components confirm it. Creating
// a tenant that exists with the same spec returns it, with another spec
// ErrTenantConflict.
func (c *Controller) CreateTenant(spec TenantSpec) (TenantView, error) {
	var buf [tenant.MaxIDLen]byte
	normalized, err := tenant.Normalize([]byte(spec.ID), &buf)
	if err != nil {
		return TenantView{}, fmt.Errorf("tenant ID %q: %w", spec.ID, err)
	}
	id := string(normalized)
	spec.ID = id

	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.state.Tenants[id]; ok {
		if r.State != TenantRemoving && sameSpec(r.TenantSpec, spec) {
			return c.viewLocked(id), nil
		}
		return c.viewLocked(id), fmt.Errorf("tenant %s: %w", id, ErrTenantConflict)
	}
	if _, placed := c.state.placedOn(id); placed {
		return c.viewLocked(id), fmt.Errorf("tenant %s is placed by the configuration file: %w", id, ErrTenantConflict)
	}

	now := c.now()
	c.state.tenants()[id] = &TenantRecord{TenantSpec: spec, State: TenantPending, Created: now, Updated: now}
	if err := c.save(nil); err != nil {
		delete(c.state.Tenants, id)
		return TenantView{}, err
	}
	c.decide(Decision{Kind: "tenant_create", Decided: "place tenant " + id, Reason: "requested through the tenant API"})
	c.limitsChanged()
	c.poke()
	return c.viewLocked(id), nil
}

func sameSpec(a, b TenantSpec) bool {
	return a.ID == b.ID && a.Plan == b.Plan && a.Weight == b.Weight && a.Limits == b.Limits &&
		(len(a.Metadata) == 0 && len(b.Metadata) == 0 || reflect.DeepEqual(a.Metadata, b.Metadata))
}

// UpdateTenant changes the plan, weight, limits and metadata of a tenant;
// the new limits apply at once.
func (c *Controller) UpdateTenant(spec TenantSpec) (TenantView, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.state.Tenants[spec.ID]
	if !ok || r.State == TenantRemoving {
		return TenantView{}, fmt.Errorf("tenant %s: %w", spec.ID, ErrTenantNotFound)
	}
	r.TenantSpec = spec
	r.Updated = c.now()
	if err := c.save(nil); err != nil {
		return TenantView{}, err
	}
	c.limitsChanged()
	return c.viewLocked(spec.ID), nil
}

// RemoveTenant marks a tenant for removal and returns at once: its routes
// go first, then its components drop it, then its record and statistics.
// Removing a tenant being removed does nothing.
func (c *Controller) RemoveTenant(id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()

	r, ok := c.state.Tenants[id]
	if !ok {
		if _, placed := c.state.placedOn(id); !placed {
			return fmt.Errorf("tenant %s: %w", id, ErrTenantNotFound)
		}
		// A tenant from the configuration file gets a record to carry
		// its removal through a restart.
		now := c.now()
		r = &TenantRecord{TenantSpec: TenantSpec{ID: id}, Created: now}
		c.state.tenants()[id] = r
	}
	if r.State == TenantRemoving {
		return nil
	}
	r.State = TenantRemoving
	r.Updated = c.now()
	if err := c.save(nil); err != nil {
		return err
	}
	c.decide(Decision{Kind: "tenant_remove", Decided: "remove tenant " + id, Reason: "requested through the tenant API"})
	c.poke()
	return nil
}

// Tenant returns one tenant.
func (c *Controller) Tenant(id string) (TenantView, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, recorded := c.state.Tenants[id]
	_, placed := c.state.placedOn(id)
	if !recorded && !placed {
		return TenantView{}, false
	}
	return c.viewLocked(id), true
}

// Tenants returns every tenant, recorded or placed by the configuration
// file, by ID.
func (c *Controller) Tenants() []TenantView {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := map[string]bool{}
	for id := range c.state.Tenants {
		ids[id] = true
	}
	for _, r := range c.state.Instances {
		for _, t := range r.Tenants {
			ids[t] = true
		}
	}
	out := make([]TenantView, 0, len(ids))
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		out = append(out, c.viewLocked(id))
	}
	return out
}

func (c *Controller) viewLocked(id string) TenantView {
	var v TenantView
	if r, ok := c.state.Tenants[id]; ok {
		v.TenantRecord = *r
		v.Metadata = maps.Clone(r.Metadata)
	} else {
		v.ID = id
		v.State = TenantReady
	}
	for _, name := range c.state.names() {
		if slices.Contains(c.state.Instances[name].Tenants, id) {
			v.Instances = append(v.Instances, name)
		}
	}
	return v
}

// TenantLimits returns the limits of every recorded tenant that has any,
// for the data plane.
func (c *Controller) TenantLimits() map[string]TenantLimits {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.limitsLocked()
}

func (c *Controller) limitsLocked() map[string]TenantLimits {
	out := map[string]TenantLimits{}
	for id, r := range c.state.Tenants {
		if r.Limits != (TenantLimits{}) && r.State != TenantRemoving {
			out[id] = r.Limits
		}
	}
	return out
}

// limitsChanged hands the current limits to OnLimits. The caller holds
// c.mu.
func (c *Controller) limitsChanged() {
	if c.OnLimits != nil {
		c.OnLimits(c.limitsLocked())
	}
}

// planTenants plans one operation that places pending tenants and removes
// the ones being removed. The caller holds c.mu and has checked that no
// operation is in progress. It reports whether it planned one.
func (c *Controller) planTenants(now time.Time) bool {
	var adds, removes []string
	for _, id := range slices.Sorted(maps.Keys(c.state.Tenants)) {
		switch c.state.Tenants[id].State {
		case TenantPending:
			adds = append(adds, id)
		case TenantRemoving:
			removes = append(removes, id)
		}
	}
	adds = adds[:min(len(adds), tenantBatch)]
	removes = removes[:min(len(removes), tenantBatch)]
	if len(adds) == 0 && len(removes) == 0 {
		return false
	}

	op := &Operation{Kind: OpTenants, Step: StepCreate, Added: adds, Removed: removes,
		Observed: fmt.Sprintf("%d tenants to add, %d to remove", len(adds), len(removes))}
	after := map[string][]string{}
	for _, id := range removes {
		for _, name := range c.state.names() {
			if tenants := tenantsAfter(after, c.state, name); slices.Contains(tenants, id) {
				after[name] = slices.DeleteFunc(slices.Clone(tenants), func(t string) bool { return t == id })
			}
		}
	}

	var created []string
	load := c.newPlacementLoad()
	for _, id := range adds {
		target := c.roomFor(after, created, load)
		if target == "" {
			if c.state.count()+len(created) >= c.Policy.MaxInstances {
				r := c.state.Tenants[id]
				r.State, r.Error, r.Updated = TenantFailed, ErrNoCapacity.Error(), now
				op.Added = slices.DeleteFunc(op.Added, func(t string) bool { return t == id })
				continue
			}
			target = c.newName()
			created = append(created, target)
		}
		after[target] = append(slices.Clone(tenantsAfter(after, c.state, target)), id)
	}
	if len(op.Added) == 0 && len(removes) == 0 {
		_ = c.save(nil)
		return false
	}

	op.Create = created
	for name, tenants := range after {
		var before []string
		if r, ok := c.state.Instances[name]; ok {
			before = r.Tenants
		}
		op.setLayout(name, tenants, before)
	}
	op.Moved = slices.Concat(op.Added, op.Removed)
	var parts []string
	if len(op.Added) > 0 {
		parts = append(parts, "add "+strings.Join(op.Added, ", "))
	}
	if len(removes) > 0 {
		parts = append(parts, "remove "+strings.Join(removes, ", "))
	}
	if len(created) > 0 {
		parts = append(parts, "on new instance "+strings.Join(created, ", "))
	}
	op.Reason = strings.Join(parts, "; ")
	c.plan(op, now, OriginScaleOut)
	return true
}

// tenantsAfter returns the tenants of instance name once the plan in
// after is applied.
func tenantsAfter(after map[string][]string, st *State, name string) []string {
	if a, ok := after[name]; ok {
		return a
	}
	if r, ok := st.Instances[name]; ok {
		return r.Tenants
	}
	return nil
}

// roomFor returns the ready instance (or one being created in this plan)
// under MaxTenantsPerInstance with the least estimated load, counting the
// tenants already planned, or "" when none is under it. Of instances with
// the same load, the one with the fewest tenants wins.
func (c *Controller) roomFor(after map[string][]string, created []string, load placementLoad) string {
	best, bestLoad, bestCount := "", 0.0, 0
	candidates := slices.Concat(c.state.names(), created)
	for _, name := range candidates {
		if r, ok := c.state.Instances[name]; ok && (r.Phase != PhaseReady || c.observed[name].isBroken()) {
			continue
		}
		tenants := tenantsAfter(after, c.state, name)
		n := len(tenants)
		if n >= c.Policy.MaxTenantsPerInstance {
			continue
		}
		estimate := load.of(c.state, name, tenants)
		if best == "" || estimate < bestLoad || estimate == bestLoad && n < bestCount {
			best, bestLoad, bestCount = name, estimate, n
		}
	}
	return best
}

// tenantsDone updates the records of a finished tenant operation: added
// tenants are ready, removed ones are forgotten with their statistics.
// The caller holds c.mu.
func (c *Controller) tenantsDone(op *Operation, now time.Time) {
	for _, id := range op.Added {
		if r, ok := c.state.Tenants[id]; ok && r.State == TenantPending {
			r.State, r.Updated = TenantReady, now
		}
	}
	for _, id := range op.Removed {
		delete(c.state.Tenants, id)
		if c.Stats != nil {
			c.Stats.Forget(id)
		}
	}
	c.limitsChanged()
}

// tenantsFailed marks the tenants of a rolled-back operation. The caller
// holds c.mu.
func (c *Controller) tenantsFailed(op *Operation, cause error, now time.Time) {
	for _, id := range op.Added {
		if r, ok := c.state.Tenants[id]; ok {
			r.State, r.Error, r.Updated = TenantFailed, cause.Error(), now
		}
	}
}

// tenants returns the tenant records, creating the map of a state saved
// before tenants had records.
func (s *State) tenants() map[string]*TenantRecord {
	if s.Tenants == nil {
		s.Tenants = map[string]*TenantRecord{}
	}
	return s.Tenants
}
