package balancer

import (
	"sync"
	"sync/atomic"
	"time"
)

// Pair names the tenant x instance cell of a Stats registry.
type Pair struct {
	Tenant   string
	Instance string
}

// Stats is the registry of Counters: one cell per tenant and one per
// tenant x instance pair. Cells persist across tables, so a reload keeps the
// counts, until Forget or Retain drops them. Lookups of existing cells take
// no lock. Creating or dropping a cell locks the registry.
type Stats struct {
	shards int

	mu      sync.Mutex // serializes creating and dropping cells
	tenants sync.Map   // tenant ID -> *tenantCells

	// expo is the state of the Prometheus exposition: the tenant label cap
	// and the sums folded under OtherTenant.
	expo exposition
}

type tenantCells struct {
	total *Counters
	// pairs maps an instance ID to its cell. The map is never changed in
	// place: writers copy it under Stats.mu and store the copy.
	pairs atomic.Pointer[map[string]*Counters]
}

// NewStats returns an empty registry whose Counters have one shard per
// GOMAXPROCS at the time of the call, rounded up to a power of two and
// capped at 16.
func NewStats() *Stats {
	s := &Stats{shards: shardCount()}
	s.expo.labelCap.Store(DefaultTenantLabelCap)
	return s
}

// Tenant returns the cell of tenant, creating it on first use.
func (s *Stats) Tenant(tenant string) *Counters {
	return s.cells(tenant).total
}

// Pair returns the cell of tenant on instance, creating it and the tenant
// cell on first use.
func (s *Stats) Pair(tenant, instance string) *Counters {
	cells := s.cells(tenant)
	if c, ok := (*cells.pairs.Load())[instance]; ok {
		return c
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	// Forget may have dropped the tenant since cells returned it.
	cells = s.cellsLocked(tenant)
	old := *cells.pairs.Load()
	if c, ok := old[instance]; ok {
		return c
	}
	next := make(map[string]*Counters, len(old)+1)
	for id, c := range old {
		next[id] = c
	}
	c := newCounters(s.shards)
	next[instance] = c
	cells.pairs.Store(&next)
	return c
}

func (s *Stats) cells(tenant string) *tenantCells {
	if v, ok := s.tenants.Load(tenant); ok {
		return v.(*tenantCells)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cellsLocked(tenant)
}

func (s *Stats) cellsLocked(tenant string) *tenantCells {
	if v, ok := s.tenants.Load(tenant); ok {
		return v.(*tenantCells)
	}
	cells := &tenantCells{total: newCounters(s.shards)}
	empty := map[string]*Counters{}
	cells.pairs.Store(&empty)
	s.tenants.Store(tenant, cells)
	return cells
}

// Forget drops the cells of tenant and of all its pairs. Routes of tables
// built before the call keep counting into the dropped cells, which no
// snapshot reads any more.
func (s *Stats) Forget(tenant string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tenants.Delete(tenant)
}

// Retain drops the cells of every tenant and every pair that t does not
// route. Call it after Router.Store(t).
func (s *Stats) Retain(t *Table) {
	s.mu.Lock()
	defer s.mu.Unlock()

	for key, value := range s.tenants.Range {
		tenant := key.(string)
		if !t.HasTenant(tenant) {
			s.tenants.Delete(tenant)
			continue
		}
		cells := value.(*tenantCells)
		old := *cells.pairs.Load()
		next := make(map[string]*Counters, len(old))
		for instance, c := range old {
			if t.hasPair(tenant, instance) {
				next[instance] = c
			}
		}
		if len(next) != len(old) {
			cells.pairs.Store(&next)
		}
	}
}

// Snapshot is the state of every cell at one time.
type Snapshot struct {
	Time    time.Time
	Tenants map[string]CounterSnapshot
	Pairs   map[Pair]CounterSnapshot
	// Instances sums the pairs of each instance over all tenants.
	Instances map[string]CounterSnapshot
}

// Snapshot reads every cell and labels the result with now. It takes no
// lock, so cells created or dropped meanwhile may or may not appear.
func (s *Stats) Snapshot(now time.Time) Snapshot {
	out := Snapshot{
		Time:      now,
		Tenants:   make(map[string]CounterSnapshot),
		Pairs:     make(map[Pair]CounterSnapshot),
		Instances: make(map[string]CounterSnapshot),
	}
	for key, value := range s.tenants.Range {
		tenant := key.(string)
		cells := value.(*tenantCells)
		out.Tenants[tenant] = cells.total.Read()
		for instance, c := range *cells.pairs.Load() {
			snap := c.Read()
			out.Pairs[Pair{Tenant: tenant, Instance: instance}] = snap
			sum := out.Instances[instance]
			sum.add(snap)
			out.Instances[instance] = sum
		}
	}
	return out
}
