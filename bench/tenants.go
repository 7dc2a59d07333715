package bench

import "fmt"

// BenchTenant is the tenant of the single-tenant scenario. Both instances serve it.
const BenchTenant = "bench"

// HostSuffix makes a tenant's host name, as DFLB's default host rule
// "{tenant}.apps.localhost" expects it.
const HostSuffix = ".apps.localhost"

// TenantIDs returns n tenant IDs t0001, t0002, ... in Zipf rank order, so
// t0001 is the most requested one.
func TenantIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("t%04d", i+1)
	}
	return ids
}

// SplitTenants assigns tenants alternately to two instances, so both get
// half of the tenants and a similar share of the Zipf load.
func SplitTenants(ids []string) (first, second []string) {
	for i, id := range ids {
		if i%2 == 0 {
			first = append(first, id)
		} else {
			second = append(second, id)
		}
	}
	return first, second
}
