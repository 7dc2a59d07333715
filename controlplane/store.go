package controlplane

import (
	"log/slog"
	"sync"
	"time"

	"github.com/dflb/dflb/dfmapi"
)

// store keeps the most recent notifications in a ring, the last sequence
// number per instance, and the subscriptions.
type store struct {
	mu    sync.Mutex
	log   *slog.Logger
	ring  []dfmapi.Notification // len(ring) is the capacity
	start int                   // index of the oldest notification
	count int
	last  map[string]lastSeen
	subs  map[*subscription]struct{}
}

// lastSeen is the sequence number and time of the last notification
// recorded from one instance.
type lastSeen struct {
	seq  uint64
	time time.Time
}

func (s *store) init(capacity int, logger *slog.Logger) {
	s.log = logger
	s.ring = make([]dfmapi.Notification, capacity)
	s.last = make(map[string]lastSeen)
	s.subs = make(map[*subscription]struct{})
}

func (s *store) setCapacity(capacity int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ring = make([]dfmapi.Notification, capacity)
	s.start, s.count = 0, 0
}

// add records n and sends it to the subscribers, unless it is a duplicate.
// It reports whether n was new.
//
// DFM numbers notifications from 1 each time it starts and retries a
// notification with the same seq and time. So a seq at or below the last
// one is a duplicate only if its time is not later than the last one's.
// A later time means that DFM restarted.
//
// NOTE: a retry from before a DFM restart that arrives after the first
// notification of the new run has a higher seq and is recorded again.
func (s *store) add(n dfmapi.Notification) bool {
	s.mu.Lock()
	defer s.mu.Unlock()

	prev, seen := s.last[n.Instance]
	if seen && n.Seq <= prev.seq {
		if !n.Time.After(prev.time) {
			return false
		}
		s.log.Info("notification sequence restarted, DFM probably restarted",
			"instance", n.Instance, "seq", n.Seq, "last_seq", prev.seq)
	}
	s.last[n.Instance] = lastSeen{seq: n.Seq, time: n.Time}

	end := (s.start + s.count) % len(s.ring)
	s.ring[end] = n
	if s.count < len(s.ring) {
		s.count++
	} else {
		s.start = (s.start + 1) % len(s.ring)
	}

	now := time.Now()
	for sub := range s.subs {
		sub.send(n, now, s.log)
	}
	return true
}

// Recent returns up to n of the most recent notifications, oldest first.
// It returns nil for n < 1.
func (h *NotificationHandler) Recent(n int) []dfmapi.Notification {
	s := &h.recorded
	s.mu.Lock()
	defer s.mu.Unlock()
	n = min(n, s.count)
	if n < 1 {
		return nil
	}
	out := make([]dfmapi.Notification, n)
	first := s.start + s.count - n
	for i := range out {
		out[i] = s.ring[(first+i)%len(s.ring)]
	}
	return out
}

// LastSeq returns the sequence number of the last notification recorded
// from instance, and false if none was.
func (h *NotificationHandler) LastSeq(instance string) (uint64, bool) {
	h.recorded.mu.Lock()
	defer h.recorded.mu.Unlock()
	last, ok := h.recorded.last[instance]
	return last.seq, ok
}
