package alert

// Rule is the name of an alert rule. Each rule has its own RuleConfig in
// Config.Rules.
type Rule string

// The rules that DFLB raises.
const (
	// InstanceDown is an instance that fails its health checks. Key: instance ID.
	InstanceDown Rule = "instance_down"
	// ComponentCrashLoop is a component that DFM no longer restarts because it
	// crashed too often. Key: instance ID and component, such as "i1/app".
	ComponentCrashLoop Rule = "component_crash_loop"
	// ScaleOutFailed is a failed attempt to create an instance. Key: instance ID.
	ScaleOutFailed Rule = "scale_out_failed"
	// AtMaxInstancesOverloaded is an overload that DFLB cannot relieve because
	// it already runs the maximum number of instances. Key: empty.
	AtMaxInstancesOverloaded Rule = "at_max_instances_overloaded"
	// TenantErrorRate is a tenant whose ratio of failed requests exceeds the
	// threshold. Key: tenant ID.
	TenantErrorRate Rule = "tenant_error_rate"
	// NotificationUndeliverable is a sink that dropped a notification after
	// its retry budget. The Manager raises it itself. Key: sink name.
	NotificationUndeliverable Rule = "notification_undeliverable"
)

// AllRules returns every rule in a fixed order.
func AllRules() []Rule {
	return []Rule{
		InstanceDown,
		ComponentCrashLoop,
		ScaleOutFailed,
		AtMaxInstancesOverloaded,
		TenantErrorRate,
		NotificationUndeliverable,
	}
}

// ErrorRateExceeded reports whether errors out of requests, counted over the
// caller's window, exceed cfg.Threshold. It returns false below
// cfg.MinRequests requests, so that a handful of failures on an idle tenant
// does not fire the alert.
func ErrorRateExceeded(errors, requests uint64, cfg ErrorRateRuleConfig) bool {
	if requests == 0 || requests < cfg.MinRequests {
		return false
	}

	return float64(errors) > cfg.Threshold*float64(requests)
}
