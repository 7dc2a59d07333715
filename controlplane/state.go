package controlplane

import (
	"maps"
	"slices"
	"time"

	"github.com/dflb/dflb/balancer"
)

// Origin is the reason an instance exists.
type Origin string

// Instance origins.
const (
	OriginConfig      Origin = "config"
	OriginScaleOut    Origin = "scale_out"
	OriginReplacement Origin = "replacement"
)

// Phase is the life-cycle phase of an instance in the control plane's state.
type Phase string

// Instance phases.
const (
	// PhaseCreating is an instance that an operation is creating and
	// starting. It gets no traffic.
	PhaseCreating Phase = "creating"
	// PhaseReady is an instance that serves its tenants.
	PhaseReady Phase = "ready"
	// PhaseRetiring is an instance that an operation is emptying and
	// removing. It keeps serving the requests in flight.
	PhaseRetiring Phase = "retiring"
)

// InstanceRecord is the control plane's record of one instance.
type InstanceRecord struct {
	// Name is the instance's provider name and DFM's instance ID.
	Name string `json:"name"`
	// ProviderID is the provider's ID of the instance, empty until created.
	ProviderID string `json:"provider_id,omitempty"`
	Address    string `json:"address,omitempty"`
	DFMURL     string `json:"dfm_url,omitempty"`
	// Components maps each component name to its host:port, known once DFM
	// started them.
	Components map[string]string `json:"components,omitempty"`
	// Tenants are the tenants placed here.
	Tenants []string `json:"tenants"`
	// Guests are tenants placed elsewhere that this instance serves too,
	// while their own instance is broken.
	Guests []string `json:"guests,omitempty"`
	Phase  Phase    `json:"phase"`
	Origin Origin   `json:"origin"`
	// Created is when DFLB created or adopted the instance, on DFLB's clock.
	Created time.Time `json:"created"`
	// Changed is when the instance's tenants last changed, on DFLB's clock.
	// Statistics from before it describe another placement.
	Changed time.Time `json:"changed"`
}

// serves returns every tenant the instance must be configured for.
func (r *InstanceRecord) serves() []string {
	out := slices.Clone(r.Tenants)
	for _, g := range r.Guests {
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	slices.Sort(out)
	return out
}

// State is the control plane's persisted state: every instance it manages,
// the tenants placed on each, the operation in progress and the times that
// the cooldowns start from.
type State struct {
	Instances map[string]*InstanceRecord `json:"instances"`
	// NextSeq numbers the instances that scale-outs and replacements name.
	NextSeq int `json:"next_seq"`
	// LastScaleOut and LastScaleIn are the end of the last scale action of
	// each kind, on DFLB's clock.
	LastScaleOut time.Time `json:"last_scale_out"`
	LastScaleIn  time.Time `json:"last_scale_in"`
	// Op is the operation in progress, nil when none is.
	Op *Operation `json:"op,omitempty"`
	// Tenants are the tenants created through the tenant API, and those
	// of the configuration file being removed through it, by ID.
	Tenants map[string]*TenantRecord `json:"tenants,omitempty"`
}

func newState() *State {
	return &State{Instances: map[string]*InstanceRecord{}, NextSeq: 1}
}

// clone returns a deep copy, so that a state handed out is never changed
// by the controller afterwards.
func (s *State) clone() *State {
	out := *s
	out.Instances = make(map[string]*InstanceRecord, len(s.Instances))
	for name, r := range s.Instances {
		c := *r
		c.Components = maps.Clone(r.Components)
		c.Tenants = slices.Clone(r.Tenants)
		c.Guests = slices.Clone(r.Guests)
		out.Instances[name] = &c
	}
	if s.Op != nil {
		op := s.Op.clone()
		out.Op = &op
	}
	if s.Tenants != nil {
		out.Tenants = make(map[string]*TenantRecord, len(s.Tenants))
		for id, r := range s.Tenants {
			c := *r
			c.Metadata = maps.Clone(r.Metadata)
			out.Tenants[id] = &c
		}
	}
	return &out
}

// names returns the instance names in order.
func (s *State) names() []string {
	return slices.Sorted(maps.Keys(s.Instances))
}

// placedOn returns the name of the instance that tenant is placed on.
func (s *State) placedOn(tenant string) (string, bool) {
	for _, name := range s.names() {
		if slices.Contains(s.Instances[name].Tenants, tenant) {
			return name, true
		}
	}
	return "", false
}

// count returns the number of instances that exist or are being created.
func (s *State) count() int {
	return len(s.Instances)
}

// specs returns the routing specs of the instances that serve traffic:
// ready and retiring ones whose component addresses are known.
func (s *State) specs() []balancer.InstanceSpec {
	var out []balancer.InstanceSpec
	for _, name := range s.names() {
		r := s.Instances[name]
		if r.Phase == PhaseCreating || len(r.Components) == 0 {
			continue
		}
		tenants := r.serves()
		if len(tenants) == 0 {
			continue
		}
		out = append(out, balancer.InstanceSpec{ID: r.Name, Components: maps.Clone(r.Components), Tenants: tenants})
	}
	return out
}

// setTenants gives the named instance exactly tenants and marks it
// changed at now when they differ from what it had.
func (s *State) setTenants(name string, tenants []string, now time.Time) {
	r, ok := s.Instances[name]
	if !ok {
		return
	}
	tenants = slices.Clone(tenants)
	slices.Sort(tenants)
	if slices.Equal(r.Tenants, tenants) {
		return
	}
	r.Tenants = tenants
	r.Changed = now
}

// servedElsewhere reports whether an instance other than except that
// healthy reports true for serves tenant.
func (s *State) servedElsewhere(tenant, except string, healthy func(string) bool) bool {
	for name, r := range s.Instances {
		if name == except || r.Phase != PhaseReady || !healthy(name) {
			continue
		}
		if slices.Contains(r.Tenants, tenant) || slices.Contains(r.Guests, tenant) {
			return true
		}
	}
	return false
}
