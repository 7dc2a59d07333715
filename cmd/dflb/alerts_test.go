package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/alert"
	"github.com/dflb/dflb/provider/local"
)

// webhookReceiver records the alert notifications that a webhook sink
// posts.
type webhookReceiver struct {
	mu       sync.Mutex
	received []webhookAlert
}

type webhookAlert struct {
	Status      string    `json:"status"`
	Rule        string    `json:"rule"`
	Key         string    `json:"key"`
	Fingerprint string    `json:"fingerprint"`
	StartsAt    time.Time `json:"starts_at"`
	at          time.Time
}

func (w *webhookReceiver) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var a webhookAlert
	if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	a.at = time.Now()
	w.mu.Lock()
	w.received = append(w.received, a)
	w.mu.Unlock()
}

// of returns the notifications of rule and key with the given status.
func (w *webhookReceiver) of(rule, key, status string) []webhookAlert {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []webhookAlert
	for _, a := range w.received {
		if a.Rule == rule && a.Key == key && a.Status == status {
			out = append(out, a)
		}
	}
	return out
}

// An instance killed under load fires instance_down to a webhook once,
// repeats it at the interval while the instance is down, and resolves it
// once the supervisor has restarted the instance.
func TestInstanceDownAlertFiresRepeatsResolves(t *testing.T) {
	receiver := &webhookReceiver{}
	hook := httptest.NewServer(receiver)
	defer hook.Close()

	text := strings.Replace(scaleConfig(t.TempDir(), "127.0.79", `  enabled: false`, "i1=acme", "i2=globex"),
		"autoscale:", `alerts:
  check_interval: 100ms
  rules:
    instance_down: {repeat_interval: 1s}
  sinks:
    - {name: test, kind: webhook, url: "`+hook.URL+`", retry_wait_min: 100ms, retry_wait_max: 500ms}
autoscale:`, 1)
	a := startScaleApp(t, text)
	addr := a.proxyLn.Addr().String()
	p := a.instances.launcher.Provider.(*local.Provider)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l := startPacedLoad(ctx, addr, map[string]tenantRate{
		"acme":   {clients: 2, pace: 10 * time.Millisecond},
		"globex": {clients: 1, pace: 10 * time.Millisecond},
	})

	killed := time.Now()
	require.NoError(t, p.Kill(ctx, "i1"))
	require.Eventually(t, func() bool { return len(receiver.of("instance_down", "i1", "resolved")) == 1 },
		45*time.Second, 100*time.Millisecond, "instance_down was not resolved")
	t.Logf("instance_down resolved %s after the kill", time.Since(killed).Round(time.Millisecond))
	stopLoad(t, l, cancel)

	firing := receiver.of("instance_down", "i1", "firing")
	resolved := receiver.of("instance_down", "i1", "resolved")
	require.GreaterOrEqual(t, len(firing), 2, "the alert fires and repeats while i1 is down")
	for _, f := range firing[1:] {
		assert.Equal(t, firing[0].Fingerprint, f.Fingerprint, "a repeat is the same alert")
		assert.Equal(t, firing[0].StartsAt, f.StartsAt, "a repeat keeps its start")
	}
	gap := firing[1].at.Sub(firing[0].at)
	assert.InDelta(t, time.Second.Seconds(), gap.Seconds(), 0.6, "repeat interval")
	assert.True(t, resolved[0].at.After(firing[len(firing)-1].at), "resolved after the last repeat")
	assert.Empty(t, receiver.of("instance_down", "i2", "firing"), "i2 stayed up")
	t.Logf("instance_down: %d firing (first, then repeats), 1 resolved", len(firing))
}

// slowReceiver records each alert notification, then responds after delay,
// so that notifications queue up behind one another.
type slowReceiver struct {
	webhookReceiver
	delay time.Duration
}

func (s *slowReceiver) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	s.webhookReceiver.ServeHTTP(rw, r)
	time.Sleep(s.delay)
}

// Alerts that fire just before dflb stops still reach their sink: dflb
// waits for its queued alert notifications before it exits.
func TestShutdownDeliversQueuedAlerts(t *testing.T) {
	receiver := &slowReceiver{delay: 200 * time.Millisecond}
	hook := httptest.NewServer(receiver)
	defer hook.Close()

	text := strings.Replace(scaleConfig(t.TempDir(), "127.0.83", `  enabled: false`, "i1=acme"),
		"autoscale:", `alerts:
  sinks:
    - {name: test, kind: webhook, url: "`+hook.URL+`"}
autoscale:`, 1)
	// -down-on-exit deletes the instances with dflb, so that no DFM waits
	// for it after exit.
	a, stop := startApp(t, text, t.TempDir(), true)

	keys := []string{"x1", "x2", "x3"}
	for _, key := range keys {
		a.alerts.Fire(alert.InstanceDown, key, alert.Info{Summary: "instance " + key + " is down"})
	}
	require.NoError(t, stop())

	for _, key := range keys {
		assert.Len(t, receiver.of("instance_down", key, "firing"), 1, "notifications of %s at the sink after exit", key)
	}
}
