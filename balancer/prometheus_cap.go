package balancer

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// DefaultTenantLabelCap is the number of tenants that Stats.WritePrometheus
// labels with their own ID until SetTenantLabelCap changes it. Each labeled
// tenant costs 29 series plus 9 per instance that serves it.
const DefaultTenantLabelCap = 100

// OtherTenant is the tenant label value of the series that sum the tenants
// beyond the label cap.
const OtherTenant = "other"

// labelHysteresis keeps a labeled tenant's label until another tenant has
// started more than 1/labelHysteresis more requests than it, so two tenants
// with similar counts at the edge of the cap do not swap labels every scrape.
const labelHysteresis = 10

// SetTenantLabelCap sets the number of tenants that WritePrometheus labels
// with their own ID: the n tenants that started the most requests since
// their cells were created. A labeled tenant keeps its label until another
// tenant has started a tenth more requests than it. The series of all other
// tenants are summed under tenant="other". n = 0 labels every tenant, and a
// negative n counts as 0. The default is DefaultTenantLabelCap. The next
// scrape applies the change.
//
// While the cap applies, a tenant whose ID is "other" is always summed
// under tenant="other", so that no series appears twice.
func (s *Stats) SetTenantLabelCap(n int) {
	s.exposition().labelCap.Store(int64(max(n, 0)))
}

// TenantLabelCap returns the cap set by SetTenantLabelCap, 0 for no cap.
func (s *Stats) TenantLabelCap() int {
	return int(s.exposition().labelCap.Load())
}

// exposition is the state that WritePrometheus keeps for one Stats between
// scrapes.
type exposition struct {
	labelCap atomic.Int64

	mu   sync.Mutex // serializes reading and folding of concurrent scrapes
	fold *foldState // nil while every tenant has its own label
}

// exposition returns the exposition state of s.
func (s *Stats) exposition() *exposition {
	return &s.expo
}

// tenantReading is one tenant's cells as read at a scrape. The cell
// pointers tell a cell from the one that Forget and a later Tenant call
// create under the same ID.
type tenantReading struct {
	tenant string
	cell   *Counters // nil for the sum under OtherTenant
	counts CounterSnapshot
	pairs  []pairReading // sorted by instance
}

// pairReading is one tenant x instance cell as read at a scrape.
type pairReading struct {
	instance string
	cell     *Counters
	classes  [NumClasses]uint64
}

// readTenants reads every cell of s, sorted by tenant. Like Snapshot, it
// takes no lock of the registry.
func (s *Stats) readTenants() []tenantReading {
	var readings []tenantReading
	for key, value := range s.tenants.Range {
		cells := value.(*tenantCells)
		reading := tenantReading{tenant: key.(string), cell: cells.total, counts: cells.total.Read()}
		pairs := *cells.pairs.Load()
		reading.pairs = make([]pairReading, 0, len(pairs))
		for instance, c := range pairs {
			reading.pairs = append(reading.pairs, pairReading{instance: instance, cell: c, classes: c.Read().Classes})
		}
		slices.SortFunc(reading.pairs, func(a, b pairReading) int { return strings.Compare(a.instance, b.instance) })
		readings = append(readings, reading)
	}
	slices.SortFunc(readings, func(a, b tenantReading) int { return strings.Compare(a.tenant, b.tenant) })
	return readings
}

// tenantsToWrite reads every cell and returns the readings to write. Within
// the cap, they are the readings themselves. Beyond it, they are the labeled
// tenants in tenant order, followed by one reading under OtherTenant that
// sums the rest.
func (s *Stats) tenantsToWrite() []tenantReading {
	e := s.exposition()
	labelCap := int(e.labelCap.Load())

	// Reading under the lock keeps the readings of concurrent scrapes in the
	// order of their folding, so no scrape adds a count twice.
	e.mu.Lock()
	defer e.mu.Unlock()
	readings := s.readTenants()
	if labelCap == 0 || len(readings) <= labelCap {
		// The "other" series end here. If folding starts again, they start
		// from the folded tenants' full counts, as new series.
		e.fold = nil
		return readings
	}
	if e.fold == nil {
		e.fold = &foldState{
			labeled:     make(map[string]bool),
			previous:    make(map[string]tenantReading),
			otherByPair: make(map[string]*[NumClasses]uint64),
		}
	}
	return e.fold.apply(readings, labelCap)
}

// foldState carries the sums under OtherTenant from one scrape to the next.
// A folded tenant adds to the sums only what it counted since the previous
// scrape, so the sums are counters that never decrease. A tenant that moves
// into or out of the labeled set, or that Forget drops, does not make them
// jump or reset, which would distort rate() over them. The exception is the
// sums of an instance, which start again from 0 after a scrape at which no
// tenant had a pair on it.
type foldState struct {
	labeled  map[string]bool          // tenants labeled at the previous scrape
	previous map[string]tenantReading // every tenant at the previous scrape

	// other holds the folded tenants' counts, except Requests and Inflight,
	// which are not written as counters.
	other CounterSnapshot
	// otherByPair holds the folded pairs' counts per class, by instance.
	otherByPair map[string]*[NumClasses]uint64
}

// apply chooses the labeled tenants, adds what the others counted since
// the previous scrape to the sums, and returns the readings to write.
func (f *foldState) apply(readings []tenantReading, labelCap int) []tenantReading {
	labeled := f.chooseLabeled(readings, labelCap)

	out := make([]tenantReading, 0, labelCap+1)
	other := tenantReading{tenant: OtherTenant}
	instances := make(map[string]bool)
	for i, reading := range readings {
		for _, pair := range reading.pairs {
			instances[pair.instance] = true
		}
		if labeled[i] {
			out = append(out, reading)
			continue
		}
		f.addFolded(reading)
		// In-flight is a gauge, so the sum is over the currently folded
		// tenants only.
		other.counts.Inflight += reading.counts.Inflight
	}

	// An instance that no tenant has a pair on any more drops its sums, so
	// that removed instances do not keep series forever.
	for instance := range f.otherByPair {
		if !instances[instance] {
			delete(f.otherByPair, instance)
		}
	}
	f.remember(readings, labeled)

	counts := f.other
	counts.Inflight = other.counts.Inflight
	other.counts = counts
	other.pairs = make([]pairReading, 0, len(f.otherByPair))
	for instance, classes := range f.otherByPair {
		other.pairs = append(other.pairs, pairReading{instance: instance, classes: *classes})
	}
	slices.SortFunc(other.pairs, func(a, b pairReading) int { return strings.Compare(a.instance, b.instance) })
	return append(out, other)
}

// chooseLabeled returns, for each reading, whether its tenant keeps its own
// label: the labelCap tenants that started the most requests, ties going to
// the lower ID. A tenant labeled at the previous scrape counts
// 1/labelHysteresis more requests. A tenant whose ID is OtherTenant is never
// labeled, because its series would collide with the sums.
func (f *foldState) chooseLabeled(readings []tenantReading, labelCap int) []bool {
	scores := make([]uint64, len(readings))
	candidates := make([]int, 0, len(readings))
	for i, reading := range readings {
		if reading.tenant == OtherTenant {
			continue
		}
		score := reading.counts.Requests
		if f.labeled[reading.tenant] {
			bonus := score / labelHysteresis
			score = min(score, math.MaxUint64-bonus) + bonus
		}
		scores[i] = score
		candidates = append(candidates, i)
	}
	slices.SortFunc(candidates, func(a, b int) int {
		// Readings are sorted by tenant, so the lower index is the lower ID.
		return cmp.Or(cmp.Compare(scores[b], scores[a]), cmp.Compare(a, b))
	})

	labeled := make([]bool, len(readings))
	for _, i := range candidates[:min(labelCap, len(candidates))] {
		labeled[i] = true
	}
	return labeled
}

// addFolded adds to the sums what reading's cells counted since the
// previous scrape: everything for a cell that the previous scrape did not
// read, such as a new tenant's or one created again after Forget.
func (f *foldState) addFolded(reading tenantReading) {
	previous, ok := f.previous[reading.tenant]
	if !ok || previous.cell != reading.cell {
		previous = tenantReading{}
	}
	f.other.add(countsSince(reading.counts, previous.counts))

	for _, pair := range reading.pairs {
		var before [NumClasses]uint64
		if i, found := slices.BinarySearchFunc(previous.pairs, pair.instance, comparePairInstance); found && previous.pairs[i].cell == pair.cell {
			before = previous.pairs[i].classes
		}
		sums := f.otherByPair[pair.instance]
		if sums == nil {
			sums = new([NumClasses]uint64)
			f.otherByPair[pair.instance] = sums
		}
		for cls, n := range pair.classes {
			sums[cls] += n - min(before[cls], n)
		}
	}
}

// remember stores the readings and the labeled set for the next scrape,
// and drops the tenants that are gone.
func (f *foldState) remember(readings []tenantReading, labeled []bool) {
	clear(f.labeled)
	for i, reading := range readings {
		f.previous[reading.tenant] = reading
		if labeled[i] {
			f.labeled[reading.tenant] = true
		}
	}
	for tenant := range f.previous {
		if _, found := slices.BinarySearchFunc(readings, tenant, compareReadingTenant); !found {
			delete(f.previous, tenant)
		}
	}
}

// countsSince returns the counts in now that were not yet in before, both
// read from one cell. Requests and Inflight are left 0.
func countsSince(now, before CounterSnapshot) CounterSnapshot {
	var delta CounterSnapshot
	delta.BytesIn = now.BytesIn - min(before.BytesIn, now.BytesIn)
	delta.BytesOut = now.BytesOut - min(before.BytesOut, now.BytesOut)
	delta.LatencySum = now.LatencySum - min(before.LatencySum, now.LatencySum)
	for k := range now.Classes {
		delta.Classes[k] = now.Classes[k] - min(before.Classes[k], now.Classes[k])
	}
	for k := range now.Buckets {
		delta.Buckets[k] = now.Buckets[k] - min(before.Buckets[k], now.Buckets[k])
	}
	return delta
}

func comparePairInstance(p pairReading, instance string) int {
	return strings.Compare(p.instance, instance)
}

func compareReadingTenant(r tenantReading, tenant string) int {
	return strings.Compare(r.tenant, tenant)
}
