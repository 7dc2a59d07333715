package controlplane

import (
	"log/slog"
	"sync"
	"time"

	"github.com/dflb/dflb/dfmapi"
)

// Subscribe returns a channel that receives every new notification
// recorded after the call, in the order recorded, and a function that ends
// the subscription and closes the channel.
//
// The handler never waits for a subscriber, because DFM would time out and
// retry. When the channel's buffer of the given size is full, the
// notification is dropped for this subscriber and the drop is logged. A
// subscriber that must not miss one compares Seq with the previous
// notification of the instance, or rereads state from DFM.
func (h *NotificationHandler) Subscribe(buffer int) (<-chan dfmapi.Notification, func()) {
	sub := &subscription{ch: make(chan dfmapi.Notification, max(buffer, 0))}
	s := &h.recorded
	s.mu.Lock()
	s.subs[sub] = struct{}{}
	s.mu.Unlock()

	cancel := func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.subs[sub]; ok {
			delete(s.subs, sub)
			close(sub.ch)
		}
	}
	return sub.ch, cancel
}

// subscription is one Subscribe call. The store sends to ch and closes it
// only under store.mu, so a send never meets a closed channel.
type subscription struct {
	ch      chan dfmapi.Notification
	dropped throttle
}

func (sub *subscription) send(n dfmapi.Notification, now time.Time, logger *slog.Logger) {
	select {
	case sub.ch <- n:
	default:
		if count := sub.dropped.allow(now); count > 0 {
			logger.Warn("subscriber is too slow, dropped notifications",
				"instance", n.Instance, "seq", n.Seq, "count", count)
		}
	}
}

// throttle counts repeated events and allows one log line per second for
// them.
type throttle struct {
	mu      sync.Mutex
	last    time.Time
	pending int
}

// allow counts one event and returns the number of events to report now,
// or 0 while the last report is less than a second old.
func (t *throttle) allow(now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pending++
	if now.Sub(t.last) < time.Second {
		return 0
	}
	count := t.pending
	t.last, t.pending = now, 0
	return count
}
