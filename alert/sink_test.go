package alert

import (
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWebhookPayload(t *testing.T) {
	r := newReceiver(t)
	clock := newFakeClock()
	m, _, _ := newTestManager(t, testConfig(testSink("hook", SinkWebhook, r.url()+"/dflb")), WithClock(clock))
	run(t, m)
	start := clock.Now()

	m.Fire(InstanceDown, "i2", Info{Summary: "instance i2 is down", Description: "3 polls failed", Labels: map[string]string{"instance": "i2"}})
	clock.Advance(90 * time.Second)
	m.Resolve(InstanceDown, "i2")
	flush(t, m)

	requests := r.requests()
	require.Len(t, requests, 2)
	for _, req := range requests {
		assert.Equal(t, "POST", req.Method)
		assert.Equal(t, "/dflb", req.Path)
		assert.Equal(t, "application/json", req.Header.Get("Content-Type"))
		assert.Empty(t, req.Header.Get("Authorization"))
	}

	var firing map[string]any
	require.NoError(t, json.Unmarshal(requests[0].Body, &firing))
	assert.Equal(t, map[string]any{
		"status":      "firing",
		"rule":        "instance_down",
		"key":         "i2",
		"severity":    "critical",
		"summary":     "instance i2 is down",
		"description": "3 polls failed",
		"labels":      map[string]any{"instance": "i2"},
		"starts_at":   "2026-05-04T21:00:00Z",
		"fingerprint": fingerprint(InstanceDown, "i2"),
	}, firing, "a firing notification has no ends_at")

	var resolved map[string]any
	require.NoError(t, json.Unmarshal(requests[1].Body, &resolved))
	assert.Equal(t, "resolved", resolved["status"])
	assert.Equal(t, start.Format(time.RFC3339), resolved["starts_at"])
	assert.Equal(t, "2026-05-04T21:01:30Z", resolved["ends_at"])
	assert.Equal(t, firing["fingerprint"], resolved["fingerprint"])
}

func TestWebhookPayloadEmptyLabels(t *testing.T) {
	body, err := encodeWebhook([]Notification{{Status: StatusFiring, Labels: Info{}.clone().Labels}}, time.Time{})
	require.NoError(t, err)

	var decoded map[string]any
	require.NoError(t, json.Unmarshal(body, &decoded))
	assert.Equal(t, map[string]any{}, decoded["labels"], "labels is an object, never null")
}

func TestSlackPayload(t *testing.T) {
	r := newReceiver(t)
	clock := newFakeClock()
	cfg := testConfig(testSink("chat", SinkSlack, r.url()))
	cfg.Rules.TenantErrorRate.RepeatInterval = time.Minute
	m, _, _ := newTestManager(t, cfg, WithClock(clock))
	run(t, m)

	m.Fire(TenantErrorRate, "acme", Info{
		Summary:     "tenant acme: 12% of requests fail",
		Description: "errors > threshold <0.05> & rising",
		Labels:      map[string]string{"tenant": "acme", "component": "app"},
	})
	clock.Advance(time.Minute)
	m.tick()
	clock.Advance(time.Minute)
	m.Resolve(TenantErrorRate, "acme")
	flush(t, m)

	var messages []slackMessage
	for _, req := range r.requests() {
		var msg slackMessage
		require.NoError(t, json.Unmarshal(req.Body, &msg), "body %s", req.Body)
		messages = append(messages, msg)
	}
	require.Len(t, messages, 3)

	assert.Equal(t, "[FIRING:warning] tenant_error_rate acme: tenant acme: 12% of requests fail", messages[0].Text)
	assert.Equal(t, "[STILL FIRING:warning] tenant_error_rate acme: tenant acme: 12% of requests fail", messages[1].Text)
	assert.Equal(t, "[RESOLVED] tenant_error_rate acme: tenant acme: 12% of requests fail", messages[2].Text)

	require.Len(t, messages[0].Attachments, 1)
	firing := messages[0].Attachments[0]
	assert.Equal(t, "warning", firing.Color)
	assert.Equal(t, messages[0].Text, firing.Fallback)
	assert.Equal(t, "errors &gt; threshold &lt;0.05&gt; &amp; rising", firing.Text, "Slack's control characters are escaped")
	assert.Equal(t, newFakeClock().Now().Unix(), firing.Ts)
	assert.Equal(t, []slackField{
		{Title: "Severity", Value: "warning", Short: true},
		{Title: "Started", Value: "2026-05-04T21:00:00Z", Short: true},
		{Title: "component", Value: "app", Short: true},
		{Title: "tenant", Value: "acme", Short: true},
	}, firing.Fields)
	assert.Equal(t, "DFLB alert "+fingerprint(TenantErrorRate, "acme"), firing.Footer)

	resolved := messages[2].Attachments[0]
	assert.Equal(t, "good", resolved.Color)
	assert.Contains(t, resolved.Fields, slackField{Title: "Resolved", Value: "2026-05-04T21:02:00Z", Short: true})
}

// postableAlertFields are the properties of postableAlert in Alertmanager's
// api/v2/openapi.yaml: its own startsAt, endsAt and annotations, and labels
// and generatorURL from alert.
var postableAlertFields = []string{"labels", "annotations", "startsAt", "endsAt", "generatorURL"}

var labelNamePattern = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// decodePostableAlerts checks body against the postableAlerts schema of the
// Alertmanager v2 API and returns the alerts.
func decodePostableAlerts(t *testing.T, body []byte) []postableAlert {
	t.Helper()

	var raw []map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &raw), "the body is not a JSON array of objects: %s", body)
	for i, item := range raw {
		for field := range item {
			assert.Contains(t, postableAlertFields, field, "alert %d has a field that postableAlert does not define", i)
		}
		require.Contains(t, item, "labels", "labels is required")

		var labels, annotations map[string]string
		require.NoError(t, json.Unmarshal(item["labels"], &labels), "labels is a labelSet of strings")
		for name := range labels {
			assert.Regexp(t, labelNamePattern, name)
		}
		assert.NotEmpty(t, labels["alertname"])
		if a, ok := item["annotations"]; ok {
			require.NoError(t, json.Unmarshal(a, &annotations), "annotations is a labelSet of strings")
		}
		for _, field := range []string{"startsAt", "endsAt"} {
			if v, ok := item[field]; ok {
				var s string
				require.NoError(t, json.Unmarshal(v, &s))
				_, err := time.Parse(time.RFC3339, s)
				assert.NoError(t, err, "%s is a date-time", field)
			}
		}
		if v, ok := item["generatorURL"]; ok {
			var s string
			require.NoError(t, json.Unmarshal(v, &s))
			u, err := url.Parse(s)
			require.NoError(t, err)
			assert.True(t, u.IsAbs(), "generatorURL is a uri")
		}
	}

	var alerts []postableAlert
	require.NoError(t, json.Unmarshal(body, &alerts))
	return alerts
}

func TestAlertmanagerPayload(t *testing.T) {
	r := newReceiver(t)
	clock := newFakeClock()
	sink := testSink("am", SinkAlertmanager, r.url()+"/am/")
	sink.ResendInterval = 30 * time.Second
	cfg := testConfig(sink)
	cfg.GeneratorURL = "http://127.0.0.1:9090/v1/status"
	m, _, _ := newTestManager(t, cfg, WithClock(clock))
	run(t, m)
	start := clock.Now()

	m.Fire(InstanceDown, "i2", Info{
		Summary:     "instance i2 is down",
		Description: "3 polls failed",
		Labels:      map[string]string{"instance": "i2", "alertname": "ignored", "zone.name": "eu-1", "empty": ""},
	})
	flush(t, m)
	clock.Advance(time.Minute)
	m.Resolve(InstanceDown, "i2")
	flush(t, m)

	requests := r.requests()
	require.Len(t, requests, 2)
	for _, req := range requests {
		assert.Equal(t, "POST", req.Method)
		assert.Equal(t, "/am/api/v2/alerts", req.Path)
		assert.Equal(t, "application/json", req.Header.Get("Content-Type"))
	}

	firing := decodePostableAlerts(t, requests[0].Body)
	require.Len(t, firing, 1)
	assert.Equal(t, map[string]string{
		"alertname": "instance_down",
		"severity":  "critical",
		"key":       "i2",
		"instance":  "i2",
		"zone_name": "eu-1",
	}, firing[0].Labels)
	assert.Equal(t, map[string]string{"summary": "instance i2 is down", "description": "3 polls failed"}, firing[0].Annotations)
	assert.Equal(t, start, firing[0].StartsAt)
	assert.Equal(t, start.Add(4*30*time.Second), firing[0].EndsAt, "a firing alert expires 4 resends after it was sent")
	assert.Equal(t, "http://127.0.0.1:9090/v1/status", firing[0].GeneratorURL)

	resolved := decodePostableAlerts(t, requests[1].Body)
	require.Len(t, resolved, 1)
	assert.Equal(t, firing[0].Labels, resolved[0].Labels, "labels identify the alert in Alertmanager")
	assert.Equal(t, start, resolved[0].StartsAt)
	assert.Equal(t, start.Add(time.Minute), resolved[0].EndsAt)
}

func TestAlertmanagerResendsFiringAlerts(t *testing.T) {
	r := newReceiver(t)
	clock := newFakeClock()
	sink := testSink("am", SinkAlertmanager, r.url())
	sink.ResendInterval = 30 * time.Second
	m, rec, _ := newTestManager(t, testConfig(sink), WithClock(clock))
	run(t, m)

	m.Fire(InstanceDown, "i1", Info{})
	m.Fire(TenantErrorRate, "acme", Info{})
	m.Fire(InstanceDown, "i2", Info{})
	m.Resolve(InstanceDown, "i2")
	clock.Advance(29 * time.Second)
	m.tick()
	flush(t, m)
	require.Len(t, r.requests(), 4, "no resend before resend_interval")

	clock.Advance(time.Second)
	m.tick()
	m.tick()
	flush(t, m)

	requests := r.requests()
	require.Len(t, requests, 5, "one resend")
	resent := decodePostableAlerts(t, requests[4].Body)
	var names []string
	for _, a := range resent {
		names = append(names, a.Labels["alertname"]+"/"+a.Labels["key"])
		assert.Equal(t, clock.Now().Add(2*time.Minute), a.EndsAt)
	}
	assert.Equal(t, []string{"instance_down/i1", "tenant_error_rate/acme"}, names, "only firing alerts, in rule and key order")
	assert.Len(t, rec.sent(), 4, "a resend is no notification")
	assert.Len(t, rec.delivered(), 4, "a resend is not passed to the delivery hook")
}

func TestLabelName(t *testing.T) {
	cases := map[string]string{
		"instance":  "instance",
		"zone.name": "zone_name",
		"9lives":    "_lives",
		"a9":        "a9",
		"":          "_",
		"tenant-id": "tenant_id",
		"größe":     "gr__e",
	}
	for in, want := range cases {
		assert.Equal(t, want, labelName(in), "labelName(%q)", in)
	}
}

func TestSinkKindsTakeOneNotification(t *testing.T) {
	two := []Notification{{}, {}}
	for name, encode := range map[string]encoder{"webhook": encodeWebhook, "slack": encodeSlack} {
		_, err := encode(two, time.Time{})
		assert.ErrorContains(t, err, "exactly 1 notification", name)
	}
	assert.True(t, slices.Contains(postableAlertFields, "generatorURL"))
}
