package alert

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// env returns a lookup function over vars, for WithLookupEnv.
func env(vars map[string]string) Option {
	return WithLookupEnv(func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	})
}

func TestBearerSecretNotLogged(t *testing.T) {
	const token = "tok-7f3c9e1d-bearer-secret"
	r := newReceiver(t)
	r.failNext(2, http.StatusBadGateway)
	sink := testSink("hook", SinkWebhook, r.url())
	sink.Auth = AuthConfig{Type: AuthBearer, SecretEnv: "HOOK_TOKEN"}
	m, _, logs := newTestManager(t, testConfig(sink), env(map[string]string{"HOOK_TOKEN": token}))
	run(t, m)

	m.Fire(InstanceDown, "i1", Info{})
	flush(t, m)
	r.failNext(1, http.StatusUnauthorized)
	m.Fire(InstanceDown, "i2", Info{})
	flush(t, m)

	requests := r.requests()
	require.NotEmpty(t, requests)
	assert.Equal(t, "Bearer "+token, requests[0].Header.Get("Authorization"))
	assert.Contains(t, logs.String(), "alert delivery failed; retrying", "the retries were logged")
	assert.Contains(t, logs.String(), "check the secret in the variable named by auth.secret_env", "the rejection was logged")
	assert.NotContains(t, logs.String(), token)
	assert.NotContains(t, logs.String(), "tok-")
}

func TestBasicAuthHeader(t *testing.T) {
	const password = "pw-2b8e-basic-secret"
	r := newReceiver(t)
	sink := testSink("am", SinkAlertmanager, r.url())
	sink.Auth = AuthConfig{Type: AuthBasic, Username: "dflb", SecretEnv: "AM_PASSWORD"}
	m, _, logs := newTestManager(t, testConfig(sink), env(map[string]string{"AM_PASSWORD": password}))
	run(t, m)

	m.Fire(InstanceDown, "i1", Info{})
	flush(t, m)

	requests := r.requests()
	require.Len(t, requests, 1)
	req := &http.Request{Header: requests[0].Header}
	user, pass, ok := req.BasicAuth()
	require.True(t, ok, "no basic auth header")
	assert.Equal(t, "dflb", user)
	assert.Equal(t, password, pass)
	assert.NotContains(t, logs.String(), password)
}

func TestSecretURLNotLogged(t *testing.T) {
	addr := reserveAddr(t)
	sink := testSink("chat", SinkSlack, "")
	sink.URLEnv = "SLACK_URL"
	sink.MaxAttempts = 2
	cfg := testConfig(sink)
	cfg.Rules.NotificationUndeliverable.Enabled = false
	m, rec, logs := newTestManager(t, cfg, env(map[string]string{"SLACK_URL": "http://" + addr + "/services/T0/B0/XSECRETPATH"}))
	run(t, m)

	m.Fire(InstanceDown, "i1", Info{})
	flush(t, m)

	require.Len(t, rec.delivered(), 1)
	err := rec.delivered()[0].Err
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "XSECRETPATH")
	assert.Contains(t, err.Error(), "http://"+addr)
	assert.Contains(t, logs.String(), "alert notification not delivered; dropped")
	assert.NotContains(t, logs.String(), "XSECRETPATH")
	assert.NotContains(t, logs.String(), "/services/")
}

func TestMissingSecretEnv(t *testing.T) {
	sink := testSink("hook", SinkWebhook, "http://127.0.0.1:9/")
	sink.Auth = AuthConfig{Type: AuthBearer, SecretEnv: "HOOK_TOKEN"}

	_, err := New(testConfig(sink), env(map[string]string{}))

	require.Error(t, err)
	assert.Contains(t, err.Error(), "sinks[0].auth.secret_env: environment variable HOOK_TOKEN is not set")
}

func TestInvalidURLEnvNotEchoed(t *testing.T) {
	sink := testSink("chat", SinkSlack, "")
	sink.URLEnv = "SLACK_URL"

	_, err := New(testConfig(sink), env(map[string]string{"SLACK_URL": "hooks.example/XSECRETPATH"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "sinks[0].url_env: environment variable SLACK_URL does not contain an absolute http or https URL")
	assert.False(t, strings.Contains(err.Error(), "XSECRETPATH"), "error %q shows the secret URL", err)

	_, err = New(testConfig(sink), env(map[string]string{}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "environment variable SLACK_URL is not set")
}
