package balancer

import "fmt"

// Policy selects a backend among a route's targets.
type Policy uint8

const (
	// LeastInflight picks the available target with the fewest requests in
	// flight. Ties go to the first such target after a start index that
	// rotates on every call, so equal backends share the load.
	LeastInflight Policy = iota
	// RoundRobin picks the next available target after a cursor that
	// advances on every call.
	RoundRobin
)

// String returns the configuration name of p.
func (p Policy) String() string {
	switch p {
	case LeastInflight:
		return "least_inflight"
	case RoundRobin:
		return "round_robin"
	default:
		return fmt.Sprintf("Policy(%d)", uint8(p))
	}
}

// ParsePolicy returns the Policy named by s, as written in the configuration:
// "least_inflight" or "round_robin".
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case "least_inflight":
		return LeastInflight, nil
	case "round_robin":
		return RoundRobin, nil
	default:
		return 0, fmt.Errorf("balancer: unknown balance policy %q: use least_inflight or round_robin", s)
	}
}

// Pick returns the index in r.Targets of the target to try next. It skips
// targets whose bit is set in tried (bit i is Targets[i]) and targets whose
// backend is in cool-off at now (unix nanoseconds). A backend in its slow
// start (HealthConfig.SlowStart) takes part in a pick with probability
// elapsed/SlowStart. When every untried available target sits a pick out
// that way, Pick still returns one of them by the policy. ok is
// false when no target is left, which includes the case where every untried
// backend is down. Pick does not acquire the backend; the caller calls
// Acquire.
func (r *Route) Pick(p Policy, tried uint64, now int64) (idx int, ok bool) {
	n := len(r.Targets)
	if n == 0 {
		return 0, false
	}
	if n == 1 {
		// A single target takes every request, in its slow start too,
		// because there is no other backend to share with.
		if tried&1 == 0 && r.Targets[0].Backend.Available(now) {
			return 0, true
		}
		return 0, false
	}

	// NOTE: the cursor is one atomic shared by every request to this route,
	// so a single very busy tenant contends on it across cores.
	seq := r.cursor.Add(1) - 1
	start := int(seq % uint64(n))
	if p == RoundRobin {
		return r.pickRoundRobin(start, seq, tried, now)
	}
	return r.pickLeastInflight(start, seq, tried, now)
}

func (r *Route) pickRoundRobin(start int, seq, tried uint64, now int64) (int, bool) {
	n := len(r.Targets)
	fallback := -1
	for i := range n {
		j := start + i
		if j >= n {
			j -= n
		}
		if tried&(1<<uint(j)) != 0 {
			continue
		}
		b := r.Targets[j].Backend
		if !b.Available(now) {
			continue
		}
		if b.slowStart != 0 && !b.rampAdmits(now, rampPhase(seq, j)) {
			if fallback < 0 {
				fallback = j
			}
			continue
		}
		return j, true
	}
	if fallback < 0 {
		return 0, false
	}
	return fallback, true
}

func (r *Route) pickLeastInflight(start int, seq, tried uint64, now int64) (int, bool) {
	n := len(r.Targets)
	best, fallback := -1, -1
	var bestInflight, fallbackInflight int64
	for i := range n {
		j := start + i
		if j >= n {
			j -= n
		}
		if tried&(1<<uint(j)) != 0 {
			continue
		}
		b := r.Targets[j].Backend
		if !b.Available(now) {
			continue
		}
		inflight := b.Inflight()
		if b.slowStart != 0 && !b.rampAdmits(now, rampPhase(seq, j)) {
			if fallback < 0 || inflight < fallbackInflight {
				fallback, fallbackInflight = j, inflight
			}
			continue
		}
		if best < 0 || inflight < bestInflight {
			best, bestInflight = j, inflight
		}
	}
	if best >= 0 {
		return best, true
	}
	if fallback >= 0 {
		return fallback, true
	}
	return 0, false
}
