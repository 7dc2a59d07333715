package broker

import (
	"hash/maphash"
	"sync"
)

// tenantLocks serializes the read-modify-write cycles (GetTenant, change,
// UpdateTenant) of the tenant API and the service broker on one tenant, so
// that a binding added by one is not lost to a metadata change by the
// other. The lock is per process and shared by every handler in it, because
// Manager.UpdateTenant replaces the whole Metadata map.
//
// NOTE: a second DFLB process, or another writer of Metadata outside this
// package, is not covered.
var tenantLocks struct {
	seed    maphash.Seed
	stripes [64]sync.Mutex
}

func init() {
	tenantLocks.seed = maphash.MakeSeed()
}

// lockTenant locks the tenant id and returns the unlock function.
func lockTenant(id string) (unlock func()) {
	mu := &tenantLocks.stripes[maphash.String(tenantLocks.seed, id)%uint64(len(tenantLocks.stripes))]
	mu.Lock()
	return mu.Unlock
}
