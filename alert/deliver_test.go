package alert

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDeliveryRetriesServerErrorsInOrder(t *testing.T) {
	r := newReceiver(t)
	r.failNext(3, http.StatusInternalServerError)
	m, rec, logs := newTestManager(t, testConfig(testSink("hook", SinkWebhook, r.url())))
	run(t, m)

	for _, key := range []string{"i1", "i2", "i3"} {
		m.Fire(InstanceDown, key, Info{})
	}
	m.Resolve(InstanceDown, "i1")
	flush(t, m)

	assert.Equal(t, []string{
		"firing instance_down/i1",
		"firing instance_down/i2",
		"firing instance_down/i3",
		"resolved instance_down/i1",
	}, statuses(r.webhookBodies(t)), "each notification arrives once, in order")

	deliveries := rec.delivered()
	require.Len(t, deliveries, 4)
	assert.True(t, deliveries[0].Delivered)
	assert.Equal(t, 4, deliveries[0].Attempts, "3 failed attempts and 1 accepted")
	assert.NoError(t, deliveries[0].Err)
	assert.Equal(t, 1, deliveries[1].Attempts)
	assert.Equal(t, 1, strings.Count(logs.String(), `level=WARN msg="alert delivery failed; retrying"`), "only the first retry is a warning")
	assert.Equal(t, 2, strings.Count(logs.String(), `level=DEBUG msg="alert delivery failed; retrying"`))
	assert.Contains(t, logs.String(), "reason=\"status 500 Internal Server Error\"")
}

func TestDeliveryAfterConnectionRefused(t *testing.T) {
	addr := reserveAddr(t)
	m, rec, logs := newTestManager(t, testConfig(testSink("hook", SinkWebhook, "http://"+addr+"/alerts")))
	run(t, m)

	m.Fire(InstanceDown, "i1", Info{})
	m.Fire(TenantErrorRate, "acme", Info{})
	require.Eventually(t, func() bool {
		return strings.Contains(logs.String(), "alert delivery failed; retrying")
	}, 5*time.Second, 5*time.Millisecond, "no failed attempt while nothing listens")
	assert.Contains(t, logs.String(), "connection refused")

	r := newReceiverAt(t, addr)
	flush(t, m)

	assert.Equal(t, []string{"firing instance_down/i1", "firing tenant_error_rate/acme"}, statuses(r.webhookBodies(t)))
	for _, req := range r.requests() {
		assert.Equal(t, "/alerts", req.Path)
	}
	for _, d := range rec.delivered() {
		assert.True(t, d.Delivered, "%s/%s", d.Notification.Rule, d.Notification.Key)
	}
	assert.Len(t, m.Active(), 2, "notification_undeliverable did not fire")
}

func TestDeliveryDropRaisesUndeliverable(t *testing.T) {
	broken := newReceiver(t)
	broken.failNext(1000, http.StatusBadRequest)
	healthy := newReceiver(t)
	cfg := testConfig(
		testSink("broken", SinkWebhook, broken.url()),
		testSink("healthy", SinkWebhook, healthy.url()),
	)
	m, rec, logs := newTestManager(t, cfg)
	run(t, m)

	m.Fire(InstanceDown, "i1", Info{})
	flush(t, m)

	assert.Equal(t, []string{"firing instance_down/i1", "firing notification_undeliverable/broken"}, statuses(healthy.webhookBodies(t)))
	assert.Empty(t, broken.requests())
	undeliverable := healthy.webhookBodies(t)[1]
	assert.Equal(t, "alert sink broken drops notifications", undeliverable.Summary)
	assert.Contains(t, undeliverable.Description, "400 Bad Request")
	assert.Equal(t, map[string]string{"sink": "broken", "sink_kind": "webhook"}, undeliverable.Labels)
	assert.Contains(t, logs.String(), `msg="alert notification not delivered; dropped"`)
	assert.Contains(t, logs.String(), "attempts=1", "a 400 is not retried")

	var dropped []Delivery
	for _, d := range rec.delivered() {
		if !d.Delivered {
			dropped = append(dropped, d)
		}
	}
	require.Len(t, dropped, 2, "the alert and the notification_undeliverable alert")
	assert.Equal(t, "broken", dropped[0].Sink)
	assert.ErrorContains(t, dropped[0].Err, "receiver responded 400 Bad Request")

	broken.failNext(0, 0)
	m.Fire(InstanceDown, "i2", Info{})
	flush(t, m)

	assert.Equal(t, []string{
		"firing instance_down/i1",
		"firing notification_undeliverable/broken",
		"firing instance_down/i2",
		"resolved notification_undeliverable/broken",
	}, statuses(healthy.webhookBodies(t)), "the next delivery resolves the alert")
	assert.Equal(t, []string{"firing instance_down/i2", "resolved notification_undeliverable/broken"}, statuses(broken.webhookBodies(t)))
}

func TestDeliveryGivesUpAfterMaxAttempts(t *testing.T) {
	r := newReceiver(t)
	r.failNext(1000, http.StatusServiceUnavailable)
	sink := testSink("hook", SinkWebhook, r.url())
	sink.MaxAttempts = 3
	cfg := testConfig(sink)
	cfg.Rules.NotificationUndeliverable.Enabled = false
	m, rec, _ := newTestManager(t, cfg)
	run(t, m)

	m.Fire(InstanceDown, "i1", Info{})
	flush(t, m)

	deliveries := rec.delivered()
	require.Len(t, deliveries, 1)
	assert.False(t, deliveries[0].Delivered)
	assert.Equal(t, 3, deliveries[0].Attempts)
	assert.ErrorContains(t, deliveries[0].Err, "503 Service Unavailable")
	r.mu.Lock()
	assert.Equal(t, 3, r.attempts)
	r.mu.Unlock()
}

func TestQueueFullDropsOldestWaiting(t *testing.T) {
	r := newReceiver(t)
	hold := make(chan struct{})
	r.hold = hold
	sink := testSink("hook", SinkWebhook, r.url())
	sink.QueueSize = 2
	cfg := testConfig(sink)
	cfg.Rules.NotificationUndeliverable.Enabled = false
	m, rec, logs := newTestManager(t, cfg)
	run(t, m)

	m.Fire(InstanceDown, "i1", Info{})
	require.Eventually(t, func() bool {
		s := m.sinks[0]
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.sending != 0
	}, 5*time.Second, time.Millisecond, "the first notification is not in flight")
	for i := 2; i <= 4; i++ {
		m.Fire(InstanceDown, fmt.Sprintf("i%d", i), Info{})
	}
	for range 3 {
		hold <- struct{}{}
	}
	flush(t, m)

	assert.Equal(t, []string{"firing instance_down/i1", "firing instance_down/i3", "firing instance_down/i4"}, statuses(r.webhookBodies(t)),
		"i2, the oldest waiting, gave way")
	var dropped []string
	for _, d := range rec.delivered() {
		if !d.Delivered {
			dropped = append(dropped, d.Notification.Key)
			assert.ErrorIs(t, d.Err, errQueueFull)
			assert.Zero(t, d.Attempts)
		}
	}
	assert.Equal(t, []string{"i2"}, dropped)
	assert.Contains(t, logs.String(), "raise queue_size")
}

func TestRedirectNotFollowed(t *testing.T) {
	target := newReceiver(t)
	redirect := http.NewServeMux()
	redirect.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.url(), http.StatusFound)
	})
	r := newReceiver(t)
	r.srv.Config.Handler = redirect
	cfg := testConfig(testSink("hook", SinkWebhook, r.url()))
	cfg.Rules.NotificationUndeliverable.Enabled = false
	m, rec, _ := newTestManager(t, cfg)
	run(t, m)

	m.Fire(InstanceDown, "i1", Info{})
	flush(t, m)

	require.Len(t, rec.delivered(), 1)
	assert.ErrorContains(t, rec.delivered()[0].Err, "302 Found")
	assert.Empty(t, target.requests())
}
