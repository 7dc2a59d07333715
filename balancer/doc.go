// Package balancer routes a tenant's request to a backend and keeps the
// runtime state that routing needs: in-flight counts, passive health and
// per-tenant request statistics.
//
// A Pool builds an immutable Table from instance specs off the hot path.
// The proxy publishes it through a Router, and request goroutines call
// Table.Lookup and Route.Pick without locks or allocations. Backends and
// statistics cells are owned by the Pool and the Stats registry, so they
// survive table swaps: a reload keeps in-flight counts, health and counters.
//
// Reload sequence, run by one goroutine at a time:
//
//	t, err := pool.Build(specs, stats) // on error keep the old table
//	router.Store(t)
//	pool.Prune(t)                      // close transports t no longer uses
//	stats.Retain(t)                    // drop counters of removed tenants
package balancer
