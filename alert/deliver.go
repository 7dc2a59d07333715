package alert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/hashicorp/go-retryablehttp"
)

// maxResponseExcerpt is the number of bytes of a rejecting response that go
// into the error.
const maxResponseExcerpt = 512

// errQueueFull is the reason for a notification dropped from a full queue.
var errQueueFull = errors.New("the sink's queue is full, so the oldest queued notification was dropped; raise queue_size or check the receiver")

// Delivery is the outcome of one notification at one sink, as the hook set by
// WithDeliveryHook receives it.
type Delivery struct {
	Sink         string
	Kind         string
	Notification Notification
	// Delivered is true when the receiver accepted the notification with a
	// 2xx status.
	Delivered bool
	// Attempts is the number of HTTP attempts, 0 for a notification dropped
	// from a full queue.
	Attempts int
	// Err is the reason the notification was dropped, nil when it was
	// delivered.
	Err error
}

// message is one entry of a sink's queue: a notification, or a resend of the
// firing alerts to Alertmanager.
type message struct {
	seq          uint64
	notification Notification
	resend       []Notification // non-nil for a resend
}

func (msg message) isResend() bool { return msg.resend != nil }

func (msg message) batch() []Notification {
	if msg.isResend() {
		return msg.resend
	}
	return []Notification{msg.notification}
}

// result is the outcome of one delivery.
type result struct {
	delivered bool
	attempts  int
	status    int // HTTP status of the last response, 0 without one
	err       error
}

// enqueue appends msg to the queue. A resend replaces a resend that still
// waits, because the newer one lists the current firing alerts. When the
// queue is full the oldest waiting message is dropped, a resend first.
func (s *sink) enqueue(msg message) {
	s.mu.Lock()
	if msg.isResend() {
		if i := s.indexWaiting(message.isResend); i >= 0 {
			s.queue = append(s.queue[:i], s.queue[i+1:]...)
		}
	}

	var dropped []message
	for s.waiting() >= s.maxQueue {
		i := s.indexWaiting(message.isResend)
		if i < 0 {
			i = s.indexWaiting(func(message) bool { return true })
		}
		dropped = append(dropped, s.queue[i])
		s.queue = append(s.queue[:i], s.queue[i+1:]...)
	}

	s.seq++
	msg.seq = s.seq
	s.queue = append(s.queue, msg)
	s.mu.Unlock()

	select {
	case s.wake <- struct{}{}:
	default:
	}

	for _, d := range dropped {
		s.report(d, result{err: errQueueFull})
	}
}

// waiting returns the number of queued messages that are not in flight. The
// caller holds s.mu.
func (s *sink) waiting() int {
	if s.sending != 0 {
		return len(s.queue) - 1
	}
	return len(s.queue)
}

// indexWaiting returns the index of the first queued message that is not in
// flight and matches, or -1. The caller holds s.mu.
func (s *sink) indexWaiting(match func(message) bool) int {
	for i, msg := range s.queue {
		if msg.seq != s.sending && match(msg) {
			return i
		}
	}
	return -1
}

// run delivers the queue in order until ctx ends. A message that ctx
// interrupts stays queued.
func (s *sink) run(ctx context.Context) {
	for {
		msg, ok := s.next()
		if !ok {
			select {
			case <-s.wake:
				continue
			case <-ctx.Done():
				return
			}
		}

		res := s.deliver(ctx, msg)
		if !res.delivered && ctx.Err() != nil {
			s.finish(msg.seq, false)
			return
		}

		s.report(msg, res)
		s.finish(msg.seq, true)
	}
}

// next marks the head of the queue as in flight and returns it.
func (s *sink) next() (message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()

	if len(s.queue) == 0 {
		return message{}, false
	}
	s.sending = s.queue[0].seq
	return s.queue[0], true
}

// finish clears the in-flight mark and, when remove is true, removes message
// seq from the queue.
func (s *sink) finish(seq uint64, remove bool) {
	s.mu.Lock()
	defer s.mu.Unlock()

	s.sending = 0
	if remove {
		for i, msg := range s.queue {
			if msg.seq == seq {
				s.queue = append(s.queue[:i], s.queue[i+1:]...)
				break
			}
		}
	}
	if len(s.queue) == 0 {
		s.idle.Broadcast()
	}
}

// flush waits until the queue is empty or ctx ends, and returns the number of
// messages left.
func (s *sink) flush(ctx context.Context) int {
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.idle.Broadcast()
	})
	defer stop()

	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.queue) > 0 && ctx.Err() == nil {
		s.idle.Wait()
	}
	return len(s.queue)
}

// deliver posts msg with retries and returns the outcome. Only a 2xx status
// counts as delivered.
func (s *sink) deliver(ctx context.Context, msg message) result {
	body, err := s.encode(msg.batch(), s.clock.Now())
	if err != nil {
		return result{err: fmt.Errorf("encoding the request body: %w", err)}
	}

	attempts := &attemptCount{}
	ctx = context.WithValue(ctx, attemptCountKey{}, attempts)
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, body)
	if err != nil {
		return result{err: s.redact(err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "dflb-alert")
	if s.authorization != "" {
		req.Header.Set("Authorization", s.authorization)
	}

	resp, err := s.client.Do(req)
	if err != nil {
		return result{attempts: attempts.n, err: s.redact(err)}
	}
	defer resp.Body.Close()

	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseExcerpt))
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return result{delivered: true, attempts: attempts.n, status: resp.StatusCode}
	}
	return result{
		attempts: attempts.n,
		status:   resp.StatusCode,
		err:      fmt.Errorf("receiver responded %s: %q", resp.Status, bytes.TrimSpace(excerpt)),
	}
}

// attemptCount counts the HTTP attempts of one delivery. Only the sink's
// delivery goroutine touches it, because retryablehttp calls CheckRetry on
// the goroutine of Do.
type attemptCount struct{ n int }

type attemptCountKey struct{}

// checkRetry is retryablehttp.DefaultRetryPolicy, which retries connection
// errors, 429 and 5xx except 501, plus counting and logging. The first retry
// of a message is a warning and later ones are debug messages, so a receiver
// that is down does not flood the log.
func (s *sink) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	retry, checkErr := retryablehttp.DefaultRetryPolicy(ctx, resp, err)

	attempts, _ := ctx.Value(attemptCountKey{}).(*attemptCount)
	if attempts == nil {
		return retry, checkErr
	}
	attempts.n++
	if !retry || attempts.n >= s.maxAttempts {
		return retry, checkErr
	}

	level := slog.LevelDebug
	if attempts.n == 1 {
		level = slog.LevelWarn
	}
	reason := "no response"
	switch {
	case err != nil:
		reason = s.redact(err).Error()
	case resp != nil:
		reason = "status " + resp.Status
	}
	s.log.Log(ctx, level, "alert delivery failed; retrying", "attempt", attempts.n,
		"max_attempts", s.maxAttempts, "reason", reason)
	return retry, checkErr
}
