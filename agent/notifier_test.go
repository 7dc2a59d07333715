package agent

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/dfmapi"
)

func newTestNotifier(t *testing.T, url string, queueSize int, logs *syncBuffer) *notifier {
	t.Helper()
	set := metrics.NewSet()
	n := &notifier{
		url:      url,
		token:    "notify-secret",
		instance: "i-test",
		max:      queueSize,
		client:   newNotifyClient(),
		logger:   newTestLogger(logs),
		now:      time.Now,
		waitMin:  20 * time.Millisecond,
		waitMax:  100 * time.Millisecond,
		wake:     make(chan struct{}, 1),
		metrics: &notifierMetrics{
			sent: set.NewCounter("sent"), rejected: set.NewCounter("rejected"), coalesced: set.NewCounter("coalesced"),
		},
	}
	n.client.RetryWaitMin = 10 * time.Millisecond
	n.client.RetryWaitMax = 20 * time.Millisecond
	n.empty = sync.NewCond(&n.mu)
	return n
}

// runNotifier runs n until the test ends.
func runNotifier(t *testing.T, n *notifier) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

func TestNotifierCoalescesWhenFull(t *testing.T) {
	n := newTestNotifier(t, "http://127.0.0.1:1/v1/notifications", 3, &syncBuffer{})
	n.enqueue(dfmapi.Notification{Kind: dfmapi.KindComponentDown, Component: "app"})
	n.enqueue(dfmapi.Notification{Kind: dfmapi.KindComponentUp, Component: "app"})
	n.enqueue(dfmapi.Notification{Kind: dfmapi.KindComponentDown, Component: "web"})
	n.enqueue(dfmapi.Notification{Kind: dfmapi.KindComponentUp, Component: "app"})

	var got []string
	for _, q := range n.queue {
		got = append(got, string(q.Kind)+"/"+q.Component)
	}
	assert.Equal(t, []string{"component_down/app", "component_down/web", "component_up/app"}, got,
		"the older component_up/app gave way to the newer one")
	assert.Equal(t, uint64(4), n.queue[2].Seq)

	n.enqueue(dfmapi.Notification{Kind: dfmapi.KindOverload})
	assert.Equal(t, uint64(3), n.queue[0].Seq, "without a match the oldest is dropped")
	assert.Len(t, n.queue, 3)
}

func TestNotifierDeliversInOrderAfterOutage(t *testing.T) {
	logs := &syncBuffer{}
	addr := reserveAddr(t)
	n := newTestNotifier(t, "http://"+addr+"/v1/notifications", 100, logs)
	runNotifier(t, n)

	for i := range 5 {
		n.enqueue(dfmapi.Notification{Kind: dfmapi.KindComponentDown, Component: "c" + string(rune('a'+i))})
	}
	require.Eventually(t, func() bool {
		return strings.Contains(logs.String(), "notification not delivered; retrying")
	}, 5*time.Second, 10*time.Millisecond, "no delivery attempt while the receiver is down")
	assert.Equal(t, 5, n.pending())

	r := newReceiverAt(t, "notify-secret", addr)
	require.Eventually(t, func() bool { return len(r.notifications()) == 5 }, 5*time.Second, 10*time.Millisecond)
	for i, got := range r.notifications() {
		assert.Equal(t, uint64(i+1), got.Seq)
		assert.Equal(t, "i-test", got.Instance)
		assert.False(t, got.Time.IsZero())
	}
	assert.NotContains(t, logs.String(), "notify-secret")
}

func TestNotifierDropsRejected(t *testing.T) {
	logs := &syncBuffer{}
	r := newReceiver(t, "other-secret")
	n := newTestNotifier(t, r.url(), 100, logs)
	runNotifier(t, n)

	n.enqueue(dfmapi.Notification{Kind: dfmapi.KindComponentUp, Component: "app"})
	require.Eventually(t, func() bool { return n.pending() == 0 }, 5*time.Second, 10*time.Millisecond)
	assert.Contains(t, logs.String(), "notification rejected by the receiver; dropped")
	assert.Contains(t, logs.String(), "status=401")
	assert.NotContains(t, logs.String(), "notify-secret")
	assert.Empty(t, r.notifications())
}

func TestNotifierRetriesServerErrors(t *testing.T) {
	r := newReceiver(t, "notify-secret")
	r.status = http.StatusServiceUnavailable
	n := newTestNotifier(t, r.url(), 100, &syncBuffer{})
	runNotifier(t, n)

	n.enqueue(dfmapi.Notification{Kind: dfmapi.KindComponentUp, Component: "app"})
	n.enqueue(dfmapi.Notification{Kind: dfmapi.KindComponentDown, Component: "app"})
	time.Sleep(200 * time.Millisecond)
	assert.Equal(t, 2, n.pending())

	r.mu.Lock()
	r.status = 0
	r.mu.Unlock()
	require.Eventually(t, func() bool { return len(r.notifications()) == 2 }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, dfmapi.KindComponentUp, r.notifications()[0].Kind)
}

func TestNotifierFlushWaitsForDelivery(t *testing.T) {
	r := newReceiver(t, "notify-secret")
	n := newTestNotifier(t, r.url(), 100, &syncBuffer{})
	runNotifier(t, n)
	n.enqueue(dfmapi.Notification{Kind: dfmapi.KindShutdownComplete})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	assert.Equal(t, 0, n.flush(ctx))
	assert.Len(t, r.notifications(), 1)
}

func TestNotifierFlushGivesUpAtDeadline(t *testing.T) {
	n := newTestNotifier(t, "http://"+reserveAddr(t)+"/v1/notifications", 100, &syncBuffer{})
	runNotifier(t, n)
	n.enqueue(dfmapi.Notification{Kind: dfmapi.KindShutdownComplete})

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	assert.Equal(t, 1, n.flush(ctx))
}
