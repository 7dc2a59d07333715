package controlplane

import (
	"slices"

	"github.com/dflb/dflb/balancer"
)

// placementLoad estimates the request rate of instances, for placing new
// tenants on the least loaded one.
//
// A tenant that an instance serves now counts with the rate measured for
// it there. A tenant that the plan adds counts with its weight times
// perUnit, because it has no rate of its own yet. Until the rates cover
// Policy.OverloadFor, as after a start, every tenant counts with its
// weight, so placement then balances the tenants' weights.
type placementLoad struct {
	rates    balancer.Rates
	measured bool    // rates cover Policy.OverloadFor
	perUnit  float64 // req/s of a new tenant of weight 1
}

// newPlacementLoad reads the current rates. perUnit is the mean rate of
// the tenants placed now, or 1 while there is none to average.
func (c *Controller) newPlacementLoad() placementLoad {
	rates, complete := c.load.rates(c.Policy.OverloadFor)
	pl := placementLoad{rates: rates, measured: complete, perUnit: 1}
	if !complete {
		return pl
	}

	total, tenants := 0.0, 0
	for _, name := range c.state.names() {
		total += rates.Instances[name].Requests
		tenants += len(c.state.Instances[name].Tenants)
	}
	if tenants > 0 && total > 0 {
		pl.perUnit = total / float64(tenants)
	}
	return pl
}

// of returns the estimated rate of instance name once it serves tenants.
func (pl placementLoad) of(st *State, name string, tenants []string) float64 {
	var current []string
	if r, ok := st.Instances[name]; ok {
		current = r.Tenants
	}

	load := 0.0
	for _, t := range tenants {
		if pl.measured && slices.Contains(current, t) {
			load += pl.rates.Pairs[pairOf(t, name)].Requests
			continue
		}
		load += tenantWeight(st, t) * pl.perUnit
	}
	return load
}

// tenantWeight is the weight of a tenant created through the tenant API,
// and 1 for a weight of 0 and for a tenant of the configuration file.
func tenantWeight(st *State, id string) float64 {
	if r, ok := st.Tenants[id]; ok && r.Weight > 0 {
		return float64(r.Weight)
	}
	return 1
}
