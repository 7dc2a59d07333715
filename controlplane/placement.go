package controlplane

import "github.com/dflb/dflb/balancer"

// placementLoad estimates the request rate of instances, for placing new
// tenants on the least loaded one.
//
// A tenant that an instance serves now counts with the rate measured for
// it there. A tenant that the plan adds counts with its weight times
// perUnit, because it has no rate of its own yet. Until the rates cover
// Policy.OverloadFor, as after a start, every tenant counts with its
// weight, so placement then balances the tenants' weights.
type placementLoad struct {
	rates   balancer.Rates
	perUnit float64 // req/s of a new tenant of weight 1
	// served marks the tenants that each instance serves now. It is nil
	// until the rates cover Policy.OverloadFor.
	served map[balancer.Pair]bool
}

// newPlacementLoad reads the current rates. perUnit is the mean rate of
// the tenants placed now, or 1 while there is none to average.
func (c *Controller) newPlacementLoad() placementLoad {
	rates, complete := c.load.rates(c.Policy.OverloadFor)
	pl := placementLoad{rates: rates, perUnit: 1}
	if !complete {
		return pl
	}

	pl.served = map[balancer.Pair]bool{}
	total := 0.0
	for _, name := range c.state.names() {
		total += rates.Instances[name].Requests
		for _, t := range c.state.Instances[name].Tenants {
			pl.served[pairOf(t, name)] = true
		}
	}
	tenants := len(pl.served)
	if tenants > 0 && total > 0 {
		pl.perUnit = total / float64(tenants)
	}
	return pl
}

// of returns the estimated rate of instance name once it serves tenants.
func (pl placementLoad) of(st *State, name string, tenants []string) float64 {
	load := 0.0
	for _, t := range tenants {
		if pair := pairOf(t, name); pl.served[pair] {
			load += pl.rates.Pairs[pair].Requests
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
