package dashboard

import (
	"math"
	"slices"
	"strconv"
	"time"
)

// historyData is the body of GET /api/history. Every series has one value
// per entry of Times, null where the series has no point.
type historyData struct {
	IntervalMS int64 `json:"interval_ms"`
	Points     int   `json:"points"`
	TopTenants int   `json:"top_tenants"`
	// Times are the sample times in Unix milliseconds, oldest first.
	Times     []int64                `json:"times"`
	Overall   *seriesData            `json:"overall,omitempty"`
	Instances map[string]*seriesData `json:"instances"`
	Tenants   map[string]*seriesData `json:"tenants"`
}

// seriesData is one series in JSON.
type seriesData struct {
	Requests points `json:"requests"` // requests per second
	Errors   points `json:"errors"`   // errored requests per second
	P99      points `json:"p99_ms"`   // milliseconds
}

// points is written in JSON with NaN as null and values rounded to three
// decimals. An hour of 26 series is then about 1 MB (an estimate: 140,400
// values of about 6 bytes each).
type points []float64

func (p points) MarshalJSON() ([]byte, error) {
	out := make([]byte, 0, 2+len(p)*6)
	out = append(out, '[')
	for i, v := range p {
		if i > 0 {
			out = append(out, ',')
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			out = append(out, "null"...)
			continue
		}
		out = strconv.AppendFloat(out, math.Round(v*1000)/1000, 'f', -1, 64)
	}
	return append(out, ']'), nil
}

// historyQuery selects series. With neither Tenant nor Instance set, every
// series is returned, overall included. Otherwise only the named ones are.
type historyQuery struct {
	Tenant   string
	Instance string
	// Since keeps only the points after it, for clients that already hold
	// the earlier ones. Zero keeps every point.
	Since time.Time
}

// query copies the selected series. ok is false when a named tenant or
// instance has no series.
func (h *History) query(q historyQuery) (data historyData, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()

	data = historyData{
		IntervalMS: h.interval.Milliseconds(),
		Points:     h.points,
		TopTenants: h.topTenants,
		Times:      []int64{},
		Instances:  map[string]*seriesData{},
		Tenants:    map[string]*seriesData{},
	}
	slots := h.slotsSince(q.Since)
	for _, slot := range slots {
		data.Times = append(data.Times, h.times[slot])
	}

	if q.Tenant == "" && q.Instance == "" {
		data.Overall = h.overall.copySlots(slots)
		for name, s := range h.instances {
			data.Instances[name] = s.copySlots(slots)
		}
		for name, s := range h.tenants {
			data.Tenants[name] = s.copySlots(slots)
		}
		return data, true
	}

	ok = true
	if q.Instance != "" {
		s, found := h.instances[q.Instance]
		if found {
			data.Instances[q.Instance] = s.copySlots(slots)
		}
		ok = ok && found
	}
	if q.Tenant != "" {
		s, found := h.tenants[q.Tenant]
		if found {
			data.Tenants[q.Tenant] = s.copySlots(slots)
		}
		ok = ok && found
	}
	return data, ok
}

// slotsSince returns the ring indexes of the points after since, oldest
// first. The caller holds h.mu.
func (h *History) slotsSince(since time.Time) []int {
	after := int64(math.MinInt64)
	if !since.IsZero() {
		after = since.UnixMilli()
	}
	slots := make([]int, 0, h.count)
	for i := range h.count {
		slot := (h.next - h.count + i + h.points) % h.points
		if h.times[slot] > after {
			slots = append(slots, slot)
		}
	}
	return slots
}

// trackedTenants returns the tenants that have a series, sorted.
func (h *History) trackedTenants() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.tenants))
	for name := range h.tenants {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func (s *series) copySlots(slots []int) *seriesData {
	out := &seriesData{
		Requests: make(points, len(slots)),
		Errors:   make(points, len(slots)),
		P99:      make(points, len(slots)),
	}
	for i, slot := range slots {
		out.Requests[i] = s.requests[slot]
		out.Errors[i] = s.errors[slot]
		out.P99[i] = s.p99[slot]
	}
	return out
}
