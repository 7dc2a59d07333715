package dashboard

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/dflb/dflb/controlplane"
	"github.com/dflb/dflb/dfmapi"
)

// snapshot is the body of GET /api/snapshot and of each event on
// GET /api/events: controlplane.Status reshaped for the page, with the
// routing table and the control plane's state merged per instance.
type snapshot struct {
	Time time.Time `json:"time"`
	// Window is the span over which the rates were measured.
	Window    controlplane.Duration `json:"window"`
	Instances []instanceView        `json:"instances"`
	Tenants   []tenantRow           `json:"tenants"`
	// ChartedTenants are the tenants that History keeps a series for.
	ChartedTenants []string `json:"charted_tenants"`
	// Decisions are the control plane's recent decisions, oldest first.
	Decisions []controlplane.Decision `json:"decisions"`
	// Operation is the control plane's operation in progress, if any.
	Operation     *controlplane.Operation `json:"operation,omitempty"`
	Alerts        any                     `json:"alerts"`
	Notifications []dfmapi.Notification   `json:"notifications"`
}

// Instance health values.
const (
	healthHealthy   = "healthy"    // routed, every backend up
	healthDegraded  = "degraded"   // routed, some backends down
	healthDown      = "down"       // routed, every backend down
	healthUnknown   = "unknown"    // routed without backends
	healthNotRouted = "not_routed" // known to the control plane only
)

// stateStatic is the state of an instance that the configuration lists
// with fixed addresses, which no control plane manages.
const stateStatic = "static"

type instanceView struct {
	ID string `json:"id"`
	// State is the control plane's phase (creating, ready, retiring) or
	// "static".
	State      string          `json:"state"`
	Origin     string          `json:"origin,omitempty"`
	Address    string          `json:"address,omitempty"`
	Health     string          `json:"health"`
	Routed     bool            `json:"routed"`
	Components []componentView `json:"components"`
	Tenants    []string        `json:"tenants"`
	Guests     []string        `json:"guests"`
	Traffic    trafficView     `json:"traffic"`
}

type componentView struct {
	Name string `json:"name"`
	Addr string `json:"addr"`
	// Up is nil for a component that is not in the routing table.
	Up       *bool `json:"up"`
	Inflight int64 `json:"inflight"`
}

type trafficView struct {
	RequestsPerSecond float64 `json:"requests_per_second"`
	ErrorsPerSecond   float64 `json:"errors_per_second"`
	// ErrorRatio is errors over requests, from 0 to 1.
	ErrorRatio float64 `json:"error_ratio"`
	P99MS      float64 `json:"p99_ms"`
	Inflight   int64   `json:"inflight"`
}

type tenantRow struct {
	Tenant string `json:"tenant"`
	// Instances serve the tenant in the routing table, guests included.
	Instances []string `json:"instances"`
	// PlacedOn is the instance the control plane placed the tenant on,
	// empty without a control plane.
	PlacedOn string `json:"placed_on,omitempty"`
	Charted  bool   `json:"charted"`
	trafficView
}

// buildSnapshot reshapes st. charted lists the tenants with a series,
// sorted.
func buildSnapshot(st controlplane.Status, alerts any, charted []string) snapshot {
	out := snapshot{
		Time:           st.Time,
		Window:         st.Window,
		Instances:      buildInstances(st),
		Tenants:        buildTenants(st, charted),
		ChartedTenants: charted,
		Decisions:      st.Decisions,
		Alerts:         alerts,
		Notifications:  st.Notifications,
	}
	if out.Decisions == nil {
		out.Decisions = []controlplane.Decision{}
	}
	if out.Notifications == nil {
		out.Notifications = []dfmapi.Notification{}
	}
	if out.Alerts == nil {
		out.Alerts = []any{}
	}
	if st.Managed != nil {
		out.Operation = st.Managed.Op
	}
	return out
}

// buildInstances merges the routing table's instances with the control
// plane's records, sorted by ID.
func buildInstances(st controlplane.Status) []instanceView {
	views := map[string]*instanceView{}
	for _, inst := range st.Instances {
		v := &instanceView{
			ID:         inst.ID,
			State:      stateStatic,
			Health:     routedHealth(inst.Backends),
			Routed:     true,
			Components: []componentView{},
			Tenants:    nonNil(inst.Tenants),
			Guests:     []string{},
			Traffic:    trafficOf(inst.Traffic),
		}
		for _, b := range inst.Backends {
			up := b.Up
			v.Components = append(v.Components, componentView{Name: b.Component, Addr: b.Addr, Up: &up, Inflight: b.Inflight})
		}
		views[inst.ID] = v
	}

	if st.Managed != nil {
		for name, rec := range st.Managed.Instances {
			v, ok := views[name]
			if !ok {
				v = &instanceView{ID: name, Health: healthNotRouted, Components: []componentView{}}
				views[name] = v
			}
			v.State = string(rec.Phase)
			v.Origin = string(rec.Origin)
			v.Address = rec.Address
			// The record's tenants exclude guests, unlike the routing
			// table's.
			v.Tenants = nonNil(slices.Clone(rec.Tenants))
			v.Guests = nonNil(slices.Clone(rec.Guests))
			for _, comp := range slices.Sorted(maps.Keys(rec.Components)) {
				if !slices.ContainsFunc(v.Components, func(c componentView) bool { return c.Name == comp }) {
					v.Components = append(v.Components, componentView{Name: comp, Addr: rec.Components[comp]})
				}
			}
		}
	}

	out := make([]instanceView, 0, len(views))
	for _, v := range views {
		slices.SortFunc(v.Components, func(a, b componentView) int { return strings.Compare(a.Name, b.Name) })
		out = append(out, *v)
	}
	slices.SortFunc(out, func(a, b instanceView) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func routedHealth(backends []controlplane.BackendStatus) string {
	up := 0
	for _, b := range backends {
		if b.Up {
			up++
		}
	}
	switch {
	case len(backends) == 0:
		return healthUnknown
	case up == len(backends):
		return healthHealthy
	case up == 0:
		return healthDown
	default:
		return healthDegraded
	}
}

// buildTenants returns a row for every tenant of the routing table and
// every tenant the control plane placed, sorted by tenant.
func buildTenants(st controlplane.Status, charted []string) []tenantRow {
	placed := map[string]string{}
	if st.Managed != nil {
		for name, rec := range st.Managed.Instances {
			for _, t := range rec.Tenants {
				placed[t] = name
			}
		}
	}

	rows := make([]tenantRow, 0, len(st.Tenants))
	seen := make(map[string]bool, len(st.Tenants))
	for _, t := range st.Tenants {
		seen[t.Tenant] = true
		rows = append(rows, tenantRow{
			Tenant:      t.Tenant,
			Instances:   nonNil(t.Instances),
			PlacedOn:    placed[t.Tenant],
			trafficView: trafficOf(t.Traffic),
		})
	}
	for tenant, name := range placed {
		if !seen[tenant] {
			rows = append(rows, tenantRow{Tenant: tenant, Instances: []string{}, PlacedOn: name})
		}
	}

	slices.SortFunc(rows, func(a, b tenantRow) int { return strings.Compare(a.Tenant, b.Tenant) })
	for i := range rows {
		_, rows[i].Charted = slices.BinarySearch(charted, rows[i].Tenant)
	}
	return rows
}

func trafficOf(t controlplane.Traffic) trafficView {
	v := trafficView{
		RequestsPerSecond: t.RequestsPerSecond,
		ErrorsPerSecond:   t.ErrorsPerSecond,
		P99MS:             float64(t.P99) / float64(time.Millisecond),
		Inflight:          t.Inflight,
	}
	// Requests count when they start and errors when they end, so over a
	// short window errors can outnumber requests.
	if t.RequestsPerSecond > 0 {
		v.ErrorRatio = min(t.ErrorsPerSecond/t.RequestsPerSecond, 1)
	}
	return v
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
