package config

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// Autoscale configures how the control plane grows, shrinks and repairs
// the set of instances. It applies to providers that create instances.
type Autoscale struct {
	// Enabled turns scale-out and scale-in on. Failover, restarts and
	// replacement of broken instances work either way. Default false.
	Enabled bool
	// MinInstances and MaxInstances bound the instance count that scaling
	// can reach. Defaults 1 and 4.
	MinInstances int
	MaxInstances int
	// OverloadRPS is the request rate per second of one instance, measured
	// by DFLB, that is overload once it lasts OverloadFor. 0 leaves
	// overload to DFM's CPU reports. Default 0.
	OverloadRPS float64
	// LowRPS is the rate under which an instance is low-used once it lasts
	// LowFor. 0 leaves low usage to DFM's CPU reports. Default 0.
	LowRPS float64
	// OverloadCPU is DFM's overload threshold, a busy fraction of the
	// instance's cores, used to project load when the rates are 0.
	// Default 0.8.
	OverloadCPU float64
	// Target is the fraction of the overload threshold that a move aims to
	// leave on an instance. Default 0.7.
	Target float64
	// OverloadFor and LowFor are how long a rate must stay past its
	// threshold. Defaults 10s and 60s.
	OverloadFor time.Duration
	LowFor      time.Duration
	// ScaleOutCooldown is the time after a scale-out before the next one.
	// Default 60s.
	ScaleOutCooldown time.Duration
	// ScaleInCooldown is the time after any scale action before a
	// scale-in. Default 120s.
	ScaleInCooldown time.Duration
	// Warmup is the time after an instance is created or its tenants
	// change during which its load does not trigger a scale-out.
	// Default 60s.
	Warmup time.Duration
	// MaxTenantsPerStep bounds the tenants one operation moves. Default 10.
	MaxTenantsPerStep int
	// MaxTenantsPerInstance bounds the tenants that the tenant API places
	// on one instance before it creates another. Default 50.
	MaxTenantsPerInstance int
	// DrainTimeout bounds the wait for a removed instance's requests in
	// flight. Default 30s.
	DrainTimeout time.Duration
	// ShutdownTimeout bounds the wait for DFM's graceful shutdown.
	// Default 60s.
	ShutdownTimeout time.Duration
	// FailbackAfter is how long a recovered instance must stay healthy
	// before its tenants stop being served elsewhere too. Default 10s.
	FailbackAfter time.Duration
	// MaxRestarts is the number of restarts of an unresponsive instance
	// after which it is replaced. Default 3.
	MaxRestarts int
	// Orphans selects the action at start for an instance that the provider
	// lists and DFLB's state does not contain: report, adopt or delete.
	// Default report.
	Orphans string
}

func defaultAutoscale() Autoscale {
	return Autoscale{
		MinInstances:          1,
		MaxInstances:          4,
		OverloadCPU:           0.8,
		Target:                0.7,
		OverloadFor:           10 * time.Second,
		LowFor:                60 * time.Second,
		ScaleOutCooldown:      60 * time.Second,
		ScaleInCooldown:       120 * time.Second,
		Warmup:                60 * time.Second,
		MaxTenantsPerStep:     10,
		MaxTenantsPerInstance: 50,
		DrainTimeout:          30 * time.Second,
		ShutdownTimeout:       60 * time.Second,
		FailbackAfter:         10 * time.Second,
		MaxRestarts:           3,
		Orphans:               "report",
	}
}

func (d *decoder) autoscale(path string, n *yaml.Node, a *Autoscale) {
	d.mapping(path, n,
		field{"enabled", d.Bool(&a.Enabled)},
		field{"min_instances", d.Int(&a.MinInstances)},
		field{"max_instances", d.Int(&a.MaxInstances)},
		field{"overload_rps", d.Float(&a.OverloadRPS)},
		field{"low_rps", d.Float(&a.LowRPS)},
		field{"overload_cpu", d.Float(&a.OverloadCPU)},
		field{"target", d.Float(&a.Target)},
		field{"overload_for", d.Duration(&a.OverloadFor)},
		field{"low_for", d.Duration(&a.LowFor)},
		field{"scale_out_cooldown", d.Duration(&a.ScaleOutCooldown)},
		field{"scale_in_cooldown", d.Duration(&a.ScaleInCooldown)},
		field{"warmup", d.Duration(&a.Warmup)},
		field{"max_tenants_per_step", d.Int(&a.MaxTenantsPerStep)},
		field{"max_tenants_per_instance", d.Int(&a.MaxTenantsPerInstance)},
		field{"drain_timeout", d.Duration(&a.DrainTimeout)},
		field{"shutdown_timeout", d.Duration(&a.ShutdownTimeout)},
		field{"failback_after", d.Duration(&a.FailbackAfter)},
		field{"max_restarts", d.Int(&a.MaxRestarts)},
		field{"orphans", d.String(&a.Orphans)},
	)
}

// validateAutoscale checks the bounds and that the thresholds leave room
// between low usage and overload, so that moves cannot flap.
func (c *Config) validateAutoscale() []error {
	a := &c.Autoscale
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, c.errorf("autoscale."+key, format, args...))
	}

	if a.MinInstances < 1 {
		add("min_instances", "min_instances %d is below 1; keep at least one instance", a.MinInstances)
	}
	if a.MaxInstances < a.MinInstances {
		add("max_instances", "max_instances %d is below min_instances %d; raise it", a.MaxInstances, a.MinInstances)
	}
	if a.OverloadRPS < 0 || a.LowRPS < 0 {
		add("overload_rps", "rates must not be negative (overload_rps %g, low_rps %g)", a.OverloadRPS, a.LowRPS)
	}
	if a.OverloadRPS > 0 && a.LowRPS*2 > a.OverloadRPS*a.Target {
		add("low_rps", "low_rps %g is too close to overload_rps %g: two instances just under low_rps merged must stay under target %g of overload_rps; lower low_rps", a.LowRPS, a.OverloadRPS, a.Target)
	}
	if a.OverloadCPU <= 0 || a.OverloadCPU > 1 {
		add("overload_cpu", "overload_cpu %g is not a fraction; use a value above 0 and at most 1", a.OverloadCPU)
	}
	if a.Target <= 0 || a.Target >= 1 {
		add("target", "target %g is not a fraction; use a value above 0 and below 1, such as 0.7", a.Target)
	}
	durations := []struct {
		key string
		v   time.Duration
	}{
		{"overload_for", a.OverloadFor}, {"low_for", a.LowFor}, {"scale_out_cooldown", a.ScaleOutCooldown},
		{"scale_in_cooldown", a.ScaleInCooldown}, {"warmup", a.Warmup}, {"drain_timeout", a.DrainTimeout},
		{"shutdown_timeout", a.ShutdownTimeout}, {"failback_after", a.FailbackAfter},
	}
	for _, d := range durations {
		if d.v <= 0 {
			add(d.key, "%s %s must be positive", d.key, d.v)
		}
	}
	if a.MaxTenantsPerStep < 1 {
		add("max_tenants_per_step", "max_tenants_per_step %d is below 1; moves need at least one tenant", a.MaxTenantsPerStep)
	}
	if a.MaxTenantsPerInstance < 1 {
		add("max_tenants_per_instance", "max_tenants_per_instance %d is below 1; an instance needs room for a tenant", a.MaxTenantsPerInstance)
	}
	if a.MaxRestarts < 1 {
		add("max_restarts", "max_restarts %d is below 1; allow at least one restart before a replacement", a.MaxRestarts)
	}
	switch a.Orphans {
	case "report", "adopt", "delete":
	default:
		add("orphans", "unknown value %q; use report, adopt or delete", a.Orphans)
	}
	return errs
}
