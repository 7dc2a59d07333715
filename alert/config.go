package alert

import "time"

// Severities of a rule. Every sink passes the severity on, and Alertmanager
// gets it as the severity label.
const (
	SeverityCritical = "critical"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

// Kinds of sink.
const (
	SinkWebhook      = "webhook"
	SinkSlack        = "slack"
	SinkAlertmanager = "alertmanager"
)

// Types of sink authentication.
const (
	AuthNone   = ""
	AuthBearer = "bearer"
	AuthBasic  = "basic"
)

// Config configures the Manager. Start from DefaultConfig, which sets every
// default. The field comments give the suggested YAML key of each field.
type Config struct {
	// CheckInterval (check_interval) is how often Run checks pending alerts
	// against their `for` duration, due repeats and Alertmanager resends, so
	// these notifications are late by up to this interval. Default: 1s.
	CheckInterval time.Duration
	// GeneratorURL (generator_url) is an absolute URL that leads from an
	// alert back to DFLB, such as its admin status page. The Alertmanager sink
	// sends it as generatorURL. Default: empty, which omits the field.
	GeneratorURL string
	// Rules (rules) configures each rule.
	Rules RulesConfig
	// Sinks (sinks) are the receivers of notifications. Default: none, so
	// alerts are only logged and passed to the hooks.
	Sinks []SinkConfig
}

// RulesConfig contains one RuleConfig per rule. The YAML key of each field is
// the rule name, such as instance_down.
type RulesConfig struct {
	InstanceDown              RuleConfig
	ComponentCrashLoop        RuleConfig
	ScaleOutFailed            RuleConfig
	AtMaxInstancesOverloaded  RuleConfig
	TenantErrorRate           ErrorRateRuleConfig
	NotificationUndeliverable RuleConfig
}

// RuleConfig configures when the alerts of one rule notify.
type RuleConfig struct {
	// Enabled (enabled) turns the rule on. The Manager ignores reports for a
	// disabled rule. Default: true.
	Enabled bool
	// Severity (severity) is critical, warning or info. Default: critical for
	// instance_down, component_crash_loop and at_max_instances_overloaded,
	// warning for the others.
	Severity string
	// For (for) is how long a condition must hold before its alert fires. 0
	// fires at the first report. Default: 0.
	For time.Duration
	// RepeatInterval (repeat_interval) is the time between notifications while
	// an alert keeps firing. Default: 1h.
	RepeatInterval time.Duration
}

// ErrorRateRuleConfig configures tenant_error_rate. ErrorRateExceeded applies
// Threshold and MinRequests to a tenant's counters.
type ErrorRateRuleConfig struct {
	RuleConfig
	// Threshold (threshold) is the ratio of failed to all requests above which
	// the alert fires, greater than 0 and at most 1. Default: 0.05.
	Threshold float64
	// MinRequests (min_requests) is the number of requests in the window
	// below which the ratio is not checked. Default: 100.
	MinRequests uint64
}

// SinkConfig configures one receiver of notifications.
type SinkConfig struct {
	// Name (name) identifies the sink in logs, in Delivery and as the key of
	// notification_undeliverable. Names are unique. Required.
	Name string
	// Kind (kind) is webhook, slack or alertmanager. Required.
	Kind string
	// URL (url) is where notifications go: the webhook URL, or for
	// alertmanager the base URL such as http://alertmanager:9093, to which
	// /api/v2/alerts is appended. Either URL or URLEnv is required.
	URL string
	// URLEnv (url_env) names an environment variable that contains the URL,
	// for URLs that are secrets themselves, such as Slack webhook URLs.
	URLEnv string
	// Auth (auth) adds an Authorization header. Default: none.
	Auth AuthConfig
	// Timeout (timeout) is the maximum time of one HTTP attempt. Default: 10s.
	Timeout time.Duration
	// QueueSize (queue_size) is the maximum number of notifications that wait
	// for delivery. When the queue is full the oldest waiting notification is
	// dropped. Default: 1000.
	QueueSize int
	// MaxAttempts (max_attempts) is the maximum number of HTTP attempts for one
	// notification, after which it is dropped. Default: 20, which with the
	// default waits keeps retrying one notification for at least 14 minutes
	// (19 waits that sum to 843s, plus the attempts themselves).
	MaxAttempts int
	// RetryWaitMin (retry_wait_min) is the wait after the first failed attempt.
	// Each later wait doubles, up to RetryWaitMax. A Retry-After header in a
	// 429 or 503 response replaces the computed wait. Default: 1s.
	RetryWaitMin time.Duration
	// RetryWaitMax (retry_wait_max) is the maximum wait between attempts.
	// Default: 1m.
	RetryWaitMax time.Duration
	// ResendInterval (resend_interval) is how often an alertmanager sink
	// resends every firing alert. Each firing alert goes out with an endsAt 4
	// resend intervals ahead, so Alertmanager resolves it by itself once the
	// resends stop, for example because DFLB stopped. Other kinds ignore it.
	// Default: 1m.
	ResendInterval time.Duration
}

// AuthConfig configures the Authorization header of a sink. The secret is read
// from the environment when the Manager is created and is never logged.
type AuthConfig struct {
	// Type (type) is bearer, basic, or empty for no header. Default: empty.
	Type string
	// Username (username) is the basic auth user name. Only for basic.
	Username string
	// SecretEnv (secret_env) names the environment variable that contains the
	// bearer token or the basic auth password. Required for bearer and basic.
	SecretEnv string
}

// Defaults of the fields that DefaultConfig and DefaultSinkConfig set.
const (
	DefaultCheckInterval  = time.Second
	DefaultRepeatInterval = time.Hour
	DefaultErrorThreshold = 0.05
	DefaultMinRequests    = 100
	DefaultTimeout        = 10 * time.Second
	DefaultQueueSize      = 1000
	DefaultMaxAttempts    = 20
	DefaultRetryWaitMin   = time.Second
	DefaultRetryWaitMax   = time.Minute
	DefaultResendInterval = time.Minute
)

// DefaultConfig returns the configuration with every default set and no sinks.
func DefaultConfig() Config {
	rule := func(severity string) RuleConfig {
		return RuleConfig{Enabled: true, Severity: severity, RepeatInterval: DefaultRepeatInterval}
	}

	return Config{
		CheckInterval: DefaultCheckInterval,
		Rules: RulesConfig{
			InstanceDown:             rule(SeverityCritical),
			ComponentCrashLoop:       rule(SeverityCritical),
			ScaleOutFailed:           rule(SeverityWarning),
			AtMaxInstancesOverloaded: rule(SeverityCritical),
			TenantErrorRate: ErrorRateRuleConfig{
				RuleConfig:  rule(SeverityWarning),
				Threshold:   DefaultErrorThreshold,
				MinRequests: DefaultMinRequests,
			},
			NotificationUndeliverable: rule(SeverityWarning),
		},
	}
}

// DefaultSinkConfig returns a sink configuration with every default set. The
// caller sets Name, Kind and URL or URLEnv.
func DefaultSinkConfig() SinkConfig {
	return SinkConfig{
		Timeout:        DefaultTimeout,
		QueueSize:      DefaultQueueSize,
		MaxAttempts:    DefaultMaxAttempts,
		RetryWaitMin:   DefaultRetryWaitMin,
		RetryWaitMax:   DefaultRetryWaitMax,
		ResendInterval: DefaultResendInterval,
	}
}

// Rule returns the configuration of rule, or false for an unknown rule.
func (r *RulesConfig) Rule(rule Rule) (RuleConfig, bool) {
	switch rule {
	case InstanceDown:
		return r.InstanceDown, true
	case ComponentCrashLoop:
		return r.ComponentCrashLoop, true
	case ScaleOutFailed:
		return r.ScaleOutFailed, true
	case AtMaxInstancesOverloaded:
		return r.AtMaxInstancesOverloaded, true
	case TenantErrorRate:
		return r.TenantErrorRate.RuleConfig, true
	case NotificationUndeliverable:
		return r.NotificationUndeliverable, true
	default:
		return RuleConfig{}, false
	}
}
