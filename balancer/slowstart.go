package balancer

import "math/bits"

// weylStep is 2^64 divided by the golden ratio. Multiplying consecutive
// counter values by it spreads them evenly over [0, 2^64) (a Weyl sequence),
// so the draws of successive picks accept a ramping backend in close to
// exactly its share, without a random number generator or a lock.
const weylStep = 0x9E3779B97F4A7C15

// rampAdmits reports whether b, available at now (unix nanoseconds), takes
// part in a pick. During a slow start it does so with probability
// elapsed/SlowStart, and always once the ramp is over or when b never had
// one. A backend still marked down after its cool-off ramps from the end of
// the cool-off, so that probes reach it as a trickle and not at the full
// request rate. phase selects the draw. Call it only when slowStart is set.
func (b *Backend) rampAdmits(now int64, phase uint64) bool {
	start := b.rampStart.Load()
	if down := b.downUntil.Load(); down != 0 {
		start = down
	}
	if start == 0 {
		return true
	}
	elapsed := now - start
	if elapsed >= b.slowStart {
		return true
	}
	if elapsed <= 0 {
		return false
	}

	// The high word of draw x slowStart is uniform in [0, slowStart).
	threshold, _ := bits.Mul64(phase*weylStep, uint64(b.slowStart))
	return threshold < uint64(elapsed)
}

// rampPhase returns the draw phase of the target at slot for the pick with
// counter seq. Each target gets its own phase of the sequence, so that two
// ramping targets of one route are not admitted by the same picks.
func rampPhase(seq uint64, slot int) uint64 {
	return seq + uint64(slot)<<32
}

// recover clears the down mark at now (unix nanoseconds) and starts the slow
// start. It returns false when another goroutine cleared the mark first.
func (b *Backend) recover(now int64) bool {
	down := b.downUntil.Load()
	if down == 0 {
		return false
	}
	if b.slowStart > 0 {
		// The ramp starts before the mark is cleared, so that no pick finds
		// b up at full share in between. A cool-off that ended earlier has been
		// ramping probes since its end, and the ramp continues from there.
		b.rampStart.Store(min(down, now))
	}
	return b.downUntil.Swap(0) != 0
}

// startRamp starts b's slow start at now (unix nanoseconds).
func (b *Backend) startRamp(now int64) {
	if b.slowStart > 0 {
		b.rampStart.Store(now)
	}
}
