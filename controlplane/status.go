package controlplane

import (
	"slices"
	"strings"
	"time"

	"github.com/dflb/dflb/balancer"
	"github.com/dflb/dflb/dfmapi"
)

// Status is the operator's view of DFLB: instances and their backends,
// tenant placement and traffic, and what DFM reported lately. It is the
// body of the admin API's GET /v1/status.
type Status struct {
	Time time.Time `json:"time"`
	// Window is the span over which the rates were measured.
	Window        Duration              `json:"window"`
	Instances     []InstanceStatus      `json:"instances"`
	Tenants       []TenantStatus        `json:"tenants"`
	Notifications []dfmapi.Notification `json:"notifications"`
	// Managed is the control plane's state: each instance's phase, origin
	// and tenants, and the operation in progress. Nil for instances that
	// the configuration file lists with fixed addresses.
	Managed *State `json:"managed,omitempty"`
	// Decisions are the control plane's most recent decisions, oldest
	// first.
	Decisions []Decision `json:"decisions,omitempty"`
}

// InstanceStatus is one instance of the published routing table.
type InstanceStatus struct {
	ID       string          `json:"id"`
	Tenants  []string        `json:"tenants"`
	Backends []BackendStatus `json:"backends"`
	Traffic  Traffic         `json:"traffic"`
}

// BackendStatus is one component port of an instance.
type BackendStatus struct {
	Component string `json:"component"`
	Addr      string `json:"addr"`
	Up        bool   `json:"up"`
	Inflight  int64  `json:"inflight"`
}

// TenantStatus is one tenant's placement and traffic.
type TenantStatus struct {
	Tenant    string   `json:"tenant"`
	Instances []string `json:"instances"`
	Traffic   Traffic  `json:"traffic"`
}

// Traffic is a rate over the status window.
type Traffic struct {
	RequestsPerSecond float64  `json:"requests_per_second"`
	ErrorsPerSecond   float64  `json:"errors_per_second"`
	P99               Duration `json:"p99"`
	Inflight          int64    `json:"inflight"`
}

// Duration is written in JSON as a Go duration string such as "1.5s".
type Duration = dfmapi.Duration

// BuildStatus assembles a Status from the published instance specs, the
// pool's backends, the window's rates and the recent notifications. Lists
// are sorted by ID so that two calls compare equal when nothing changed.
func BuildStatus(now time.Time, specs []balancer.InstanceSpec, backends []*balancer.Backend, rates balancer.Rates, recent []dfmapi.Notification) Status {
	st := Status{
		Time:          now,
		Window:        Duration(rates.Span.Round(time.Millisecond)),
		Instances:     []InstanceStatus{},
		Tenants:       []TenantStatus{},
		Notifications: recent,
	}
	if st.Notifications == nil {
		st.Notifications = []dfmapi.Notification{}
	}

	placement := map[string][]string{}
	for _, spec := range specs {
		inst := InstanceStatus{ID: spec.ID, Tenants: slices.Sorted(slices.Values(spec.Tenants)), Backends: []BackendStatus{}}
		for _, b := range backends {
			if b.Instance != spec.ID {
				continue
			}
			inst.Backends = append(inst.Backends, BackendStatus{
				Component: b.Component, Addr: b.Addr, Up: !b.Down(), Inflight: b.Inflight(),
			})
		}
		inst.Traffic = traffic(rates.Instances[spec.ID])
		st.Instances = append(st.Instances, inst)
		for _, t := range spec.Tenants {
			placement[t] = append(placement[t], spec.ID)
		}
	}
	slices.SortFunc(st.Instances, func(a, b InstanceStatus) int { return strings.Compare(a.ID, b.ID) })

	for tenant, instances := range placement {
		slices.Sort(instances)
		st.Tenants = append(st.Tenants, TenantStatus{Tenant: tenant, Instances: instances, Traffic: traffic(rates.Tenants[tenant])})
	}
	slices.SortFunc(st.Tenants, func(a, b TenantStatus) int { return strings.Compare(a.Tenant, b.Tenant) })
	return st
}

func traffic(r balancer.Rate) Traffic {
	return Traffic{RequestsPerSecond: r.Requests, ErrorsPerSecond: r.Errors, P99: Duration(r.P99), Inflight: r.Inflight}
}
