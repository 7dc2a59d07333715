package controlplane

import "time"

// Orphan policies: what the control plane does at start with an instance
// that the provider lists and the state does not know.
const (
	OrphansReport = "report"
	OrphansAdopt  = "adopt"
	OrphansDelete = "delete"
)

// Policy holds the autoscaling rules. The zero value is completed by
// withDefaults; the configuration documents the same defaults.
type Policy struct {
	// Enabled turns scale-out and scale-in on. Repair (failover,
	// restarts, replacement) works either way.
	Enabled bool
	// MinInstances and MaxInstances bound the instance count that scaling
	// decisions can reach. Defaults 1 and 4.
	MinInstances int
	MaxInstances int
	// OverloadRPS is the request rate per second of one instance, measured
	// by DFLB, that counts as overload once it lasts OverloadFor. 0 leaves
	// overload to DFM's CPU reports.
	OverloadRPS float64
	// LowRPS is the rate under which an instance counts as low-used once
	// it lasts LowFor. 0 leaves low usage to DFM's CPU reports.
	LowRPS float64
	// OverloadCPU is DFM's overload threshold as a busy fraction of the
	// instance's cores, used to project load when rates are not set.
	// Default 0.8.
	OverloadCPU float64
	// Target is the fraction of the overload threshold that a move aims to
	// leave on an instance, so that a move ends clearly under the
	// threshold. Default 0.7.
	Target float64
	// OverloadFor and LowFor are how long a rate must stay over or under
	// its threshold. Defaults 10 s and 60 s.
	OverloadFor time.Duration
	LowFor      time.Duration
	// ScaleOutCooldown is the time after a scale-out before another.
	// Default 60 s.
	ScaleOutCooldown time.Duration
	// ScaleInCooldown is the time after any scale action before a
	// scale-in. Default 120 s.
	ScaleInCooldown time.Duration
	// Warmup is the time after an instance was created, or after its
	// tenants changed, during which its load does not trigger a
	// scale-out: its statistics still describe the old placement.
	// Default 60 s.
	Warmup time.Duration
	// MaxTenantsPerStep bounds the tenants one operation moves. Default 10.
	MaxTenantsPerStep int
	// MaxTenantsPerInstance bounds the tenants that the tenant API places
	// on one instance before it creates another. Default 50.
	MaxTenantsPerInstance int
	// DrainTimeout bounds the wait for a retired instance's requests in
	// flight. Default 30 s.
	DrainTimeout time.Duration
	// ShutdownTimeout bounds the wait for DFM's graceful shutdown.
	// Default 60 s.
	ShutdownTimeout time.Duration
	// FailbackAfter is how long a recovered instance must stay healthy
	// before the tenants served elsewhere meanwhile leave the other
	// instance. Default 10 s.
	FailbackAfter time.Duration
	// Orphans is OrphansReport, OrphansAdopt or OrphansDelete. Default
	// report.
	Orphans string
}

// withDefaults returns p with every unset field at its default.
func (p Policy) withDefaults() Policy {
	setDefault(&p.MinInstances, 1)
	setDefault(&p.MaxInstances, 4)
	setDefault(&p.OverloadCPU, 0.8)
	setDefault(&p.Target, 0.7)
	setDefault(&p.OverloadFor, 10*time.Second)
	setDefault(&p.LowFor, 60*time.Second)
	setDefault(&p.ScaleOutCooldown, 60*time.Second)
	setDefault(&p.ScaleInCooldown, 120*time.Second)
	setDefault(&p.Warmup, 60*time.Second)
	setDefault(&p.MaxTenantsPerStep, 10)
	setDefault(&p.MaxTenantsPerInstance, 50)
	setDefault(&p.DrainTimeout, 30*time.Second)
	setDefault(&p.ShutdownTimeout, 60*time.Second)
	setDefault(&p.FailbackAfter, 10*time.Second)
	if p.Orphans == "" {
		p.Orphans = OrphansReport
	}
	return p
}

func setDefault[T int | float64 | time.Duration](v *T, fallback T) {
	if *v <= 0 {
		*v = fallback
	}
}
