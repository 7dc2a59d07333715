package agent

import "time"

// sustained tracks a condition that must hold for a window before it counts,
// and that clears only past a hysteresis margin, so that a value hovering
// around the threshold neither flaps nor fires at once.
type sustained struct {
	window time.Duration
	since  time.Time // when the condition started to hold, zero when it does not
	active bool
}

// observe records a sample at now. meets is true when the sample meets the
// threshold, and clears when it is past the margin that ends an active
// state. entered is true for the one sample that makes the state active.
func (s *sustained) observe(now time.Time, meets, clears bool) (entered bool) {
	if s.active {
		if clears {
			s.active = false
			s.since = time.Time{}
		}
		return false
	}
	if !meets {
		s.since = time.Time{}
		return false
	}
	if s.since.IsZero() {
		s.since = now
	}
	if now.Sub(s.since) >= s.window {
		s.active = true
		return true
	}
	return false
}

// loadState turns host CPU samples into the overloaded and low states.
type loadState struct {
	cfg      LoadConfig
	overload sustained
	low      sustained
}

func newLoadState(cfg LoadConfig) *loadState {
	return &loadState{
		cfg:      cfg,
		overload: sustained{window: cfg.OverloadWindow},
		low:      sustained{window: cfg.LowWindow},
	}
}

// observe records the busy fraction cpu at now and reports which states
// became active with this sample.
func (l *loadState) observe(now time.Time, cpu float64) (overloaded, low bool) {
	overloaded = l.overload.observe(now, cpu >= l.cfg.OverloadCPU, cpu < l.cfg.OverloadCPU-l.cfg.Hysteresis)
	low = l.low.observe(now, cpu <= l.cfg.LowCPU, cpu > l.cfg.LowCPU+l.cfg.Hysteresis)
	return overloaded, low
}
