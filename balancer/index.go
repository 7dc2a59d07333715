package balancer

import (
	"hash/maphash"
	"math/bits"
)

// tenantIndex finds a tenant's first route by its ID. It is an
// open-addressing hash table with linear probing, built once per Table and
// read-only after that.
//
// With 1,000 tenants, whose counters push the table out of the core's
// cache, a Go map lookup waited on two cache misses in profiles: the group's
// control word and the slot. Here a slot holds the hash next to the route,
// so a lookup reads one line of the index, then the route, which the
// request needs anyway, and the route's tenant ID.
type tenantIndex struct {
	seed  maphash.Seed
	slots []indexSlot // a power of two in length, at most half full
	mask  uint64
}

type indexSlot struct {
	hash  uint64
	route *Route // nil marks an empty slot
}

// newTenantIndex indexes the first route of every tenant in firsts.
func newTenantIndex(firsts map[string]*Route) tenantIndex {
	size := 1 << bits.Len(uint(2*len(firsts)))
	x := tenantIndex{
		seed:  maphash.MakeSeed(),
		slots: make([]indexSlot, size),
		mask:  uint64(size - 1),
	}
	for tenant, route := range firsts {
		h := maphash.String(x.seed, tenant)
		i := h & x.mask
		for x.slots[i].route != nil {
			i = (i + 1) & x.mask
		}
		x.slots[i] = indexSlot{hash: h, route: route}
	}
	return x
}

// find returns the first route of tenant, or nil if the index has none.
// At least half the slots are empty, so the probe always ends.
func (x *tenantIndex) find(tenant []byte) *Route {
	if len(x.slots) == 0 {
		return nil
	}
	h := maphash.Bytes(x.seed, tenant)
	for i := h & x.mask; ; i = (i + 1) & x.mask {
		s := &x.slots[i]
		if s.route == nil {
			return nil
		}
		if s.hash == h && s.route.Tenant == string(tenant) {
			return s.route
		}
	}
}
