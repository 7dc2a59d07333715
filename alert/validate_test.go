package alert

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultConfigValid(t *testing.T) {
	cfg := DefaultConfig()
	sink := DefaultSinkConfig()
	sink.Name = "am"
	sink.Kind = SinkAlertmanager
	sink.URL = "http://127.0.0.1:9093"
	cfg.Sinks = []SinkConfig{sink}

	assert.NoError(t, cfg.Validate())
}

func TestValidateRejectsBadValues(t *testing.T) {
	sink := func(change func(*SinkConfig)) func(*Config) {
		return func(c *Config) {
			s := testSink("hook", SinkWebhook, "http://127.0.0.1:9/hook")
			change(&s)
			c.Sinks = []SinkConfig{s}
		}
	}
	cases := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"check interval", func(c *Config) { c.CheckInterval = 0 },
			"check_interval: duration 0s must be greater than 0; the default is 1s"},
		{"generator url", func(c *Config) { c.GeneratorURL = "/status" },
			`generator_url: invalid URL "/status": use an http:// or https:// URL`},
		{"severity", func(c *Config) { c.Rules.InstanceDown.Severity = "page" },
			`rules.instance_down.severity: invalid value "page"; use critical, warning or info`},
		{"negative for", func(c *Config) { c.Rules.ScaleOutFailed.For = -time.Second },
			"rules.scale_out_failed.for: duration -1s must not be negative"},
		{"repeat interval", func(c *Config) { c.Rules.TenantErrorRate.RepeatInterval = 0 },
			"rules.tenant_error_rate.repeat_interval: duration 0s must be greater than 0; the default is 1h0m0s"},
		{"threshold", func(c *Config) { c.Rules.TenantErrorRate.Threshold = 5 },
			"rules.tenant_error_rate.threshold: ratio 5 is outside the range (0, 1]; write 0.05 for 5% failed requests"},
		{"sink name", sink(func(s *SinkConfig) { s.Name = "" }),
			"sinks[0].name: missing sink name"},
		{"sink kind", sink(func(s *SinkConfig) { s.Kind = "email" }),
			`sinks[0].kind: invalid value "email"; use webhook, slack or alertmanager`},
		{"missing url", sink(func(s *SinkConfig) { s.URL = "" }),
			"sinks[0].url: missing URL; set url, or url_env"},
		{"url and url env", sink(func(s *SinkConfig) { s.URLEnv = "HOOK_URL" }),
			"sinks[0].url_env: both url and url_env are set; keep one of them"},
		{"url scheme", sink(func(s *SinkConfig) { s.URL = "ftp://127.0.0.1/x" }),
			`sinks[0].url: invalid URL "ftp://127.0.0.1/x": use an http:// or https:// URL`},
		{"alertmanager path", sink(func(s *SinkConfig) { s.Kind = SinkAlertmanager; s.URL = "http://am:9093/api/v2/alerts" }),
			"sinks[0].url: URL \"http://am:9093/api/v2/alerts\" ends in /api/v2/alerts; give the Alertmanager base URL"},
		{"url env name", sink(func(s *SinkConfig) { s.URL = ""; s.URLEnv = "HOOK-URL" }),
			`sinks[0].url_env: invalid environment variable name "HOOK-URL"`},
		{"auth type", sink(func(s *SinkConfig) { s.Auth.Type = "token" }),
			`sinks[0].auth.type: invalid value "token"; use bearer, basic or leave it empty`},
		{"auth secret env", sink(func(s *SinkConfig) { s.Auth.Type = AuthBearer }),
			`sinks[0].auth.secret_env: invalid environment variable name ""`},
		{"basic without user", sink(func(s *SinkConfig) { s.Auth = AuthConfig{Type: AuthBasic, SecretEnv: "PW"} }),
			"sinks[0].auth.username: missing user name for basic auth"},
		{"bearer with user", sink(func(s *SinkConfig) { s.Auth = AuthConfig{Type: AuthBearer, Username: "u", SecretEnv: "T"} }),
			"sinks[0].auth.username: a bearer token has no user name"},
		{"auth without type", sink(func(s *SinkConfig) { s.Auth.SecretEnv = "T" }),
			"sinks[0].auth.type: missing auth type while username or secret_env is set"},
		{"timeout", sink(func(s *SinkConfig) { s.Timeout = 0 }),
			"sinks[0].timeout: duration 0s must be greater than 0"},
		{"queue size", sink(func(s *SinkConfig) { s.QueueSize = 0 }),
			"sinks[0].queue_size: 0 must be at least 1; the default is 1000"},
		{"max attempts", sink(func(s *SinkConfig) { s.MaxAttempts = 0 }),
			"sinks[0].max_attempts: 0 must be at least 1; the default is 20"},
		{"retry wait min", sink(func(s *SinkConfig) { s.RetryWaitMin = 0 }),
			"sinks[0].retry_wait_min: duration 0s must be greater than 0"},
		{"retry wait max", sink(func(s *SinkConfig) { s.RetryWaitMax = time.Millisecond }),
			"sinks[0].retry_wait_max: duration 1ms is shorter than retry_wait_min 5ms; raise it"},
		{"resend interval", sink(func(s *SinkConfig) { s.Kind = SinkAlertmanager; s.URL = "http://am:9093"; s.ResendInterval = 0 }),
			"sinks[0].resend_interval: duration 0s must be greater than 0; the default is 1m0s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig()
			c.change(&cfg)

			err := cfg.Validate()

			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			var field *FieldError
			assert.True(t, errors.As(err, &field), "the problem is a *FieldError")
		})
	}
}

func TestValidateRejectsDuplicateSinkNames(t *testing.T) {
	cfg := testConfig(
		testSink("ops", SinkWebhook, "http://127.0.0.1:9/a"),
		testSink("ops", SinkSlack, "http://127.0.0.1:9/b"),
	)

	err := cfg.Validate()

	require.Error(t, err)
	assert.Contains(t, err.Error(), `sinks[1].name: sink name "ops" is already used by sinks[0]; give every sink its own name`)
}

func TestValidateReportsEveryProblem(t *testing.T) {
	cfg := testConfig()
	cfg.CheckInterval = 0
	cfg.Rules.InstanceDown.Severity = ""

	err := cfg.Validate()

	var joined interface{ Unwrap() []error }
	require.True(t, errors.As(err, &joined))
	assert.Len(t, joined.Unwrap(), 2)
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	cfg := testConfig()
	cfg.Rules.InstanceDown.RepeatInterval = 0

	_, err := New(cfg)

	require.Error(t, err)
	assert.Contains(t, err.Error(), "alert: invalid configuration: rules.instance_down.repeat_interval")
}
