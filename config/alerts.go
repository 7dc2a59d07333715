package config

import (
	"errors"

	"go.yaml.in/yaml/v3"

	"github.com/dflb/dflb/alert"
)

// The alerts section is decoded into alert.Config, whose fields document
// the keys and defaults; config/example.yaml lists them too.

func (d *decoder) alerts(path string, n *yaml.Node, a *alert.Config) {
	d.mapping(path, n,
		field{"check_interval", d.Duration(&a.CheckInterval)},
		field{"generator_url", d.String(&a.GeneratorURL)},
		field{"rules", func(path string, n *yaml.Node) { d.alertRules(path, n, &a.Rules) }},
		field{"sinks", func(path string, n *yaml.Node) {
			var list []alert.SinkConfig
			d.Sequence(path, n, func(itemPath string, item *yaml.Node) {
				s := alert.DefaultSinkConfig()
				d.alertSink(itemPath, item, &s)
				list = append(list, s)
			})
			a.Sinks = list
		}},
	)
}

func (d *decoder) alertRules(path string, n *yaml.Node, r *alert.RulesConfig) {
	rule := func(dst *alert.RuleConfig) func(string, *yaml.Node) {
		return func(path string, n *yaml.Node) { d.mapping(path, n, ruleFields(d, dst)...) }
	}
	d.mapping(path, n,
		field{string(alert.InstanceDown), rule(&r.InstanceDown)},
		field{string(alert.ComponentCrashLoop), rule(&r.ComponentCrashLoop)},
		field{string(alert.ScaleOutFailed), rule(&r.ScaleOutFailed)},
		field{string(alert.AtMaxInstancesOverloaded), rule(&r.AtMaxInstancesOverloaded)},
		field{string(alert.NotificationUndeliverable), rule(&r.NotificationUndeliverable)},
		field{string(alert.TenantErrorRate), func(path string, n *yaml.Node) {
			minRequests := int(r.TenantErrorRate.MinRequests)
			fields := append(ruleFields(d, &r.TenantErrorRate.RuleConfig),
				field{"threshold", d.Float(&r.TenantErrorRate.Threshold)},
				field{"min_requests", d.Int(&minRequests)},
			)
			d.mapping(path, n, fields...)
			if minRequests < 0 {
				d.Errorf(n, path+".min_requests", "min_requests %d must not be negative", minRequests)
				return
			}
			r.TenantErrorRate.MinRequests = uint64(minRequests)
		}},
	)
}

func ruleFields(d *decoder, r *alert.RuleConfig) []field {
	return []field{
		{"enabled", d.Bool(&r.Enabled)},
		{"severity", d.String(&r.Severity)},
		{"for", d.Duration(&r.For)},
		{"repeat_interval", d.Duration(&r.RepeatInterval)},
	}
}

func (d *decoder) alertSink(path string, n *yaml.Node, s *alert.SinkConfig) {
	d.mapping(path, n,
		field{"name", d.String(&s.Name)},
		field{"kind", d.String(&s.Kind)},
		field{"url", d.String(&s.URL)},
		field{"url_env", d.String(&s.URLEnv)},
		field{"auth", func(path string, n *yaml.Node) {
			d.mapping(path, n,
				field{"type", d.String(&s.Auth.Type)},
				field{"username", d.String(&s.Auth.Username)},
				field{"secret_env", d.String(&s.Auth.SecretEnv)},
			)
		}},
		field{"timeout", d.Duration(&s.Timeout)},
		field{"queue_size", d.Int(&s.QueueSize)},
		field{"max_attempts", d.Int(&s.MaxAttempts)},
		field{"retry_wait_min", d.Duration(&s.RetryWaitMin)},
		field{"retry_wait_max", d.Duration(&s.RetryWaitMax)},
		field{"resend_interval", d.Duration(&s.ResendInterval)},
	)
}

// validateAlerts checks the alerts section and names each bad key.
func (c *Config) validateAlerts() []error {
	err := c.Alerts.Validate()
	if err == nil {
		return nil
	}
	var errs []error
	for _, e := range unjoin(err) {
		var fe *alert.FieldError
		if errors.As(e, &fe) {
			errs = append(errs, c.errorf("alerts."+fe.Path, "%w", fe.Err))
			continue
		}
		errs = append(errs, c.errorf("alerts", "%w", e))
	}
	return errs
}

// unjoin returns the errors that errors.Join combined into err, at any
// depth, or err itself.
func unjoin(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, unjoin(e)...)
	}
	return out
}
