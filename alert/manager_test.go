package alert

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAlertFiresRepeatsAndResolvesOnce(t *testing.T) {
	r := newReceiver(t)
	cfg := testConfig(testSink("hook", SinkWebhook, r.url()))
	cfg.Rules.InstanceDown.RepeatInterval = time.Minute
	clock := newFakeClock()
	m, rec, _ := newTestManager(t, cfg, WithClock(clock))
	run(t, m)
	start := clock.Now()
	info := Info{Summary: "instance i2 is down", Labels: map[string]string{"instance": "i2"}}

	m.Fire(InstanceDown, "i2", info)
	clock.Advance(10 * time.Second)
	m.Fire(InstanceDown, "i2", info)
	clock.Advance(20 * time.Second)
	m.tick()
	require.Len(t, rec.sent(), 1, "no repeat before repeat_interval")

	clock.Advance(30 * time.Second)
	m.tick()
	m.tick()
	require.Len(t, rec.sent(), 2, "one repeat after 1m")

	clock.Advance(59 * time.Second)
	m.tick()
	require.Len(t, rec.sent(), 2)
	clock.Advance(time.Second)
	m.Set(InstanceDown, "i2", true, info)
	require.Len(t, rec.sent(), 3, "a report that finds a repeat due sends it too")

	clock.Advance(5 * time.Second)
	m.Resolve(InstanceDown, "i2")
	m.Resolve(InstanceDown, "i2")
	clock.Advance(time.Hour)
	m.tick()

	sent := rec.sent()
	require.Len(t, sent, 4)
	assert.Equal(t, []string{"firing instance_down/i2", "firing instance_down/i2", "firing instance_down/i2", "resolved instance_down/i2"}, statuses(sent))
	assert.False(t, sent[0].Repeat)
	assert.True(t, sent[1].Repeat)
	assert.True(t, sent[2].Repeat)
	for _, n := range sent {
		assert.Equal(t, start, n.StartsAt, "every notification carries the time it fired")
		assert.Equal(t, fingerprint(InstanceDown, "i2"), n.Fingerprint)
	}
	assert.Equal(t, start.Add(2*time.Minute+5*time.Second), sent[3].EndsAt)
	assert.Equal(t, "instance i2 is down", sent[3].Summary, "a resolve without info keeps the last summary")
	assert.Empty(t, m.Active())

	flush(t, m)
	assert.Equal(t, statuses(sent), statuses(r.webhookBodies(t)), "the sink gets the same notifications in order")
}

func TestForDelaysFiring(t *testing.T) {
	cfg := testConfig()
	cfg.Rules.ScaleOutFailed.For = 5 * time.Minute
	clock := newFakeClock()
	m, rec, _ := newTestManager(t, cfg, WithClock(clock))
	start := clock.Now()

	m.Fire(ScaleOutFailed, "i3", Info{Summary: "creating i3 failed"})
	active := m.Active()
	require.Len(t, active, 1)
	assert.Equal(t, StatePending, active[0].State)
	assert.True(t, active[0].StartsAt.IsZero())

	clock.Advance(5*time.Minute - time.Second)
	m.tick()
	assert.Empty(t, rec.sent(), "fired before `for` passed")

	clock.Advance(time.Second)
	m.tick()
	sent := rec.sent()
	require.Len(t, sent, 1)
	assert.Equal(t, StatusFiring, sent[0].Status)
	assert.Equal(t, start.Add(5*time.Minute), sent[0].StartsAt, "starts_at is when the alert fired")
	active = m.Active()
	require.Len(t, active, 1)
	assert.Equal(t, StateFiring, active[0].State)
	assert.Equal(t, start, active[0].ActiveSince)
}

func TestConditionClearedBeforeForNeverFires(t *testing.T) {
	cfg := testConfig()
	cfg.Rules.ScaleOutFailed.For = 5 * time.Minute
	clock := newFakeClock()
	m, rec, _ := newTestManager(t, cfg, WithClock(clock))

	m.Set(ScaleOutFailed, "i3", true, Info{})
	clock.Advance(4 * time.Minute)
	m.Set(ScaleOutFailed, "i3", false, Info{})
	clock.Advance(time.Hour)
	m.tick()

	assert.Empty(t, rec.sent())
	assert.Empty(t, m.Active())

	m.Set(ScaleOutFailed, "i3", true, Info{})
	clock.Advance(4 * time.Minute)
	m.tick()
	assert.Empty(t, rec.sent(), "`for` restarts when the condition returns")
}

func TestSyncResolvesMissingKeys(t *testing.T) {
	clock := newFakeClock()
	m, rec, _ := newTestManager(t, testConfig(), WithClock(clock))

	m.Sync(TenantErrorRate, map[string]Info{"acme": {}, "globex": {}})
	clock.Advance(time.Second)
	m.Sync(TenantErrorRate, map[string]Info{"globex": {}, "initech": {}})
	m.Fire(InstanceDown, "i1", Info{})
	m.Sync(TenantErrorRate, map[string]Info{"globex": {}, "initech": {}})

	assert.Equal(t, []string{
		"firing tenant_error_rate/acme",
		"firing tenant_error_rate/globex",
		"resolved tenant_error_rate/acme",
		"firing tenant_error_rate/initech",
		"firing instance_down/i1",
	}, statuses(rec.sent()))

	var keys []string
	for _, a := range m.Active() {
		keys = append(keys, string(a.Rule)+"/"+a.Key)
	}
	assert.Equal(t, []string{"instance_down/i1", "tenant_error_rate/globex", "tenant_error_rate/initech"}, keys, "other rules are untouched")
}

func TestDisabledRuleIgnored(t *testing.T) {
	cfg := testConfig()
	cfg.Rules.InstanceDown.Enabled = false
	m, rec, _ := newTestManager(t, cfg)

	m.Fire(InstanceDown, "i1", Info{})

	assert.Empty(t, rec.sent())
	assert.Empty(t, m.Active())
}

func TestUnknownRuleLoggedOnce(t *testing.T) {
	m, rec, logs := newTestManager(t, testConfig())

	m.Fire("disk_full", "i1", Info{})
	m.Fire("disk_full", "i2", Info{})

	assert.Empty(t, rec.sent())
	assert.Equal(t, 1, strings.Count(logs.String(), "report for an unknown alert rule ignored"))
	assert.Contains(t, logs.String(), "rule=disk_full")
}

func TestActiveCopiesLabels(t *testing.T) {
	m, _, _ := newTestManager(t, testConfig())
	labels := map[string]string{"tenant": "acme"}

	m.Fire(TenantErrorRate, "acme", Info{Summary: "errors", Labels: labels})
	labels["tenant"] = "changed by the caller"
	active := m.Active()
	active[0].Labels["tenant"] = "changed by the reader"

	active = m.Active()
	require.Len(t, active, 1)
	assert.Equal(t, "acme", active[0].Labels["tenant"])
	assert.Equal(t, SeverityWarning, active[0].Severity)
	assert.Equal(t, 1, active[0].Notifications)
}

func TestNotificationsLogged(t *testing.T) {
	m, _, logs := newTestManager(t, testConfig())

	m.Fire(InstanceDown, "i2", Info{Summary: "instance i2 is down", Labels: map[string]string{"instance": "i2"}})
	m.Resolve(InstanceDown, "i2")

	out := logs.String()
	assert.Contains(t, out, `level=ERROR msg="alert firing" logger=alert rule=instance_down key=i2 severity=critical summary="instance i2 is down"`)
	assert.Contains(t, out, "labels=map[instance:i2]")
	assert.Contains(t, out, `level=INFO msg="alert resolved" logger=alert rule=instance_down key=i2`)
	assert.Contains(t, out, "ends_at=")
}

func TestHookMayCallManager(t *testing.T) {
	var m *Manager
	var seen [][]Alert
	hook := func(n Notification) {
		seen = append(seen, m.Active())
		if n.Rule == InstanceDown && n.Status == StatusFiring {
			m.Fire(AtMaxInstancesOverloaded, "", Info{Summary: "raised from the hook"})
		}
	}
	m, err := New(testConfig(), WithNotifyHook(hook), WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)

	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Fire(InstanceDown, "i1", Info{})
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Fire did not return: the hook deadlocked")
	}

	require.Len(t, seen, 2, "the notification raised by the hook is emitted too")
	assert.Len(t, m.Active(), 2)
}

func TestRunRepeatsOnRealClock(t *testing.T) {
	r := newReceiver(t)
	cfg := testConfig(testSink("hook", SinkWebhook, r.url()))
	cfg.Rules.ComponentCrashLoop.RepeatInterval = 50 * time.Millisecond
	m, rec, _ := newTestManager(t, cfg)
	run(t, m)

	m.Fire(ComponentCrashLoop, "i1/app", Info{Summary: "app crashes"})
	require.Eventually(t, func() bool { return len(rec.sent()) >= 3 }, 5*time.Second, 5*time.Millisecond,
		"Run did not repeat the alert")
	m.Resolve(ComponentCrashLoop, "i1/app")
	flush(t, m)

	bodies := r.webhookBodies(t)
	require.GreaterOrEqual(t, len(bodies), 4)
	last := bodies[len(bodies)-1]
	assert.Equal(t, StatusResolved, last.Status)
	for _, n := range bodies[:len(bodies)-1] {
		assert.Equal(t, StatusFiring, n.Status)
	}
}

func TestRunTwicePanics(t *testing.T) {
	m, _, _ := newTestManager(t, testConfig())
	run(t, m)
	require.Eventually(t, func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.running
	}, 5*time.Second, time.Millisecond)

	assert.Panics(t, func() { m.Run(context.Background()) })
}

func TestPanickingHookDoesNotStopNotifications(t *testing.T) {
	var calls int
	hook := func(Notification) {
		calls++
		if calls == 1 {
			panic("hook failed")
		}
	}
	m, err := New(testConfig(), WithNotifyHook(hook), WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)

	assert.Panics(t, func() { m.Fire(InstanceDown, "i1", Info{}) })
	m.Fire(InstanceDown, "i2", Info{})

	assert.Equal(t, 2, calls, "the hook got the notification after the panic")
}

// TestFlushWaitsForEmittingGoroutine resolves an alert while another
// goroutine is still emitting its firing notification, held in the notify
// hook. Resolve then returns before either notification is queued, and
// Flush must still wait until both have reached the receiver.
func TestFlushWaitsForEmittingGoroutine(t *testing.T) {
	r := newReceiver(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hold := func(Notification) {
		once.Do(func() {
			close(entered)
			<-release
		})
	}
	m, err := New(testConfig(testSink("hook", SinkWebhook, r.url())), WithNotifyHook(hold), WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	run(t, m)

	go m.Fire(ComponentCrashLoop, "i1/app", Info{Summary: "app crashes"})
	<-entered
	m.Resolve(ComponentCrashLoop, "i1/app")
	time.AfterFunc(50*time.Millisecond, func() { close(release) })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.Zero(t, m.Flush(ctx), "notifications still queued after 5s")

	bodies := r.webhookBodies(t)
	require.Len(t, bodies, 2, "notifications at the receiver when Flush returned")
	assert.Equal(t, StatusFiring, bodies[0].Status)
	assert.Equal(t, StatusResolved, bodies[1].Status)
}
