package alert

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// FieldError is one invalid value. Path is the YAML key path relative to the
// alert configuration, such as sinks[0].url or rules.instance_down.for, so
// that the configuration loader can prefix it and find the line.
type FieldError struct {
	Path string
	Err  error
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Err.Error() }

func (e *FieldError) Unwrap() error { return e.Err }

// envNamePattern is the POSIX shape of an environment variable name.
var envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks every value and returns all problems joined into one error.
// Each problem is a *FieldError.
func (c *Config) Validate() error {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, &FieldError{Path: path, Err: fmt.Errorf(format, args...)})
	}

	if c.CheckInterval <= 0 {
		add("check_interval", "duration %s must be greater than 0; the default is %s", c.CheckInterval, DefaultCheckInterval)
	}
	if c.GeneratorURL != "" {
		if err := checkHTTPURL(c.GeneratorURL); err != nil {
			add("generator_url", "%w", err)
		}
	}

	errs = append(errs, c.Rules.validate()...)

	names := map[string]int{}
	for i := range c.Sinks {
		path := fmt.Sprintf("sinks[%d]", i)
		errs = append(errs, c.Sinks[i].validate(path)...)

		name := c.Sinks[i].Name
		if first, seen := names[name]; seen && name != "" {
			add(path+".name", "sink name %q is already used by sinks[%d]; give every sink its own name", name, first)
			continue
		}
		names[name] = i
	}
	return errors.Join(errs...)
}

func (r *RulesConfig) validate() []error {
	var errs []error
	for _, rule := range AllRules() {
		cfg, _ := r.Rule(rule)
		errs = append(errs, cfg.validate("rules."+string(rule))...)
	}

	path := "rules." + string(TenantErrorRate)
	threshold := r.TenantErrorRate.Threshold
	if !(threshold > 0 && threshold <= 1) {
		errs = append(errs, &FieldError{
			Path: path + ".threshold",
			Err:  fmt.Errorf("ratio %v is outside the range (0, 1]; write 0.05 for 5%% failed requests", threshold),
		})
	}
	return errs
}

func (r RuleConfig) validate(path string) []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, &FieldError{Path: path + "." + key, Err: fmt.Errorf(format, args...)})
	}

	switch r.Severity {
	case SeverityCritical, SeverityWarning, SeverityInfo:
	default:
		add("severity", "invalid value %q; use %s, %s or %s", r.Severity, SeverityCritical, SeverityWarning, SeverityInfo)
	}
	if r.For < 0 {
		add("for", "duration %s must not be negative; use 0 to fire at the first report", r.For)
	}
	if r.RepeatInterval <= 0 {
		add("repeat_interval", "duration %s must be greater than 0; the default is %s", r.RepeatInterval, DefaultRepeatInterval)
	}
	return errs
}

func (s *SinkConfig) validate(path string) []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, &FieldError{Path: path + "." + key, Err: fmt.Errorf(format, args...)})
	}

	if s.Name == "" {
		add("name", "missing sink name; name each sink, for example ops-webhook")
	}
	switch s.Kind {
	case SinkWebhook, SinkSlack, SinkAlertmanager:
	default:
		add("kind", "invalid value %q; use %s, %s or %s", s.Kind, SinkWebhook, SinkSlack, SinkAlertmanager)
	}

	switch {
	case s.URL == "" && s.URLEnv == "":
		add("url", "missing URL; set url, or url_env to the name of a variable that contains the URL")
	case s.URL != "" && s.URLEnv != "":
		add("url_env", "both url and url_env are set; keep one of them")
	case s.URL != "":
		if err := checkHTTPURL(s.URL); err != nil {
			add("url", "%w", err)
		} else if s.Kind == SinkAlertmanager && strings.HasSuffix(strings.TrimRight(s.URL, "/"), alertmanagerPath) {
			add("url", "URL %q ends in %s; give the Alertmanager base URL, to which %s is appended", s.URL, alertmanagerPath, alertmanagerPath)
		}
	default:
		if !envNamePattern.MatchString(s.URLEnv) {
			add("url_env", "invalid environment variable name %q; use letters, digits and underscores", s.URLEnv)
		}
	}

	errs = append(errs, s.Auth.validate(path+".auth")...)

	if s.Timeout <= 0 {
		add("timeout", "duration %s must be greater than 0; the default is %s", s.Timeout, DefaultTimeout)
	}
	if s.QueueSize < 1 {
		add("queue_size", "%d must be at least 1; the default is %d", s.QueueSize, DefaultQueueSize)
	}
	if s.MaxAttempts < 1 {
		add("max_attempts", "%d must be at least 1; the default is %d", s.MaxAttempts, DefaultMaxAttempts)
	}
	if s.RetryWaitMin <= 0 {
		add("retry_wait_min", "duration %s must be greater than 0; the default is %s", s.RetryWaitMin, DefaultRetryWaitMin)
	}
	if s.RetryWaitMax < s.RetryWaitMin {
		add("retry_wait_max", "duration %s is shorter than retry_wait_min %s; raise it", s.RetryWaitMax, s.RetryWaitMin)
	}
	if s.Kind == SinkAlertmanager && s.ResendInterval <= 0 {
		add("resend_interval", "duration %s must be greater than 0; the default is %s", s.ResendInterval, DefaultResendInterval)
	}
	return errs
}

func (a AuthConfig) validate(path string) []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, &FieldError{Path: path + "." + key, Err: fmt.Errorf(format, args...)})
	}

	switch a.Type {
	case AuthNone:
		if a.Username != "" || a.SecretEnv != "" {
			add("type", "missing auth type while username or secret_env is set; use %s or %s", AuthBearer, AuthBasic)
		}
		return errs
	case AuthBearer:
		if a.Username != "" {
			add("username", "a bearer token has no user name; remove username or use type %s", AuthBasic)
		}
	case AuthBasic:
		if a.Username == "" {
			add("username", "missing user name for basic auth")
		}
	default:
		add("type", "invalid value %q; use %s, %s or leave it empty", a.Type, AuthBearer, AuthBasic)
		return errs
	}

	if !envNamePattern.MatchString(a.SecretEnv) {
		add("secret_env", "invalid environment variable name %q; name the variable that contains the secret", a.SecretEnv)
	}
	return errs
}

// checkHTTPURL accepts an absolute http or https URL with a host.
func checkHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("invalid URL %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("invalid URL %q: use an http:// or https:// URL", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("invalid URL %q: missing host", raw)
	}
	return nil
}
