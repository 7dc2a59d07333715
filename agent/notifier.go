package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/dflb/dflb/dfmapi"
)

// notifier queues notifications and posts them to the receiver in sequence
// order, one at a time. While the receiver is unreachable the head of the
// queue is retried with backoff and the rest wait behind it.
type notifier struct {
	url      string
	token    string
	instance string
	max      int
	client   *retryablehttp.Client
	logger   *slog.Logger
	now      func() time.Time
	waitMin  time.Duration // backoff between failed rounds of retryablehttp
	waitMax  time.Duration
	metrics  *notifierMetrics

	mu    sync.Mutex
	seq   uint64
	queue []dfmapi.Notification
	wake  chan struct{} // buffered 1: new work for run
	empty *sync.Cond    // signalled when the queue drains, for flush
}

type notifierMetrics struct {
	sent      *metrics.Counter
	rejected  *metrics.Counter
	coalesced *metrics.Counter
}

// enqueue assigns the next sequence number and time to n and queues it. When
// the queue is full, the oldest queued notification of the same kind and
// component is dropped, because the new one supersedes it. Without one, the
// oldest notification of all is dropped.
func (q *notifier) enqueue(n dfmapi.Notification) dfmapi.Notification {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	n.Seq = q.seq
	n.Instance = q.instance
	n.Time = q.now().UTC()
	if q.url == "" {
		return n
	}

	if len(q.queue) >= q.max {
		drop := 0
		for i, old := range q.queue {
			if old.Kind == n.Kind && old.Component == n.Component {
				drop = i
				break
			}
		}
		old := q.queue[drop]
		q.queue = append(q.queue[:drop], q.queue[drop+1:]...)
		q.metrics.coalesced.Inc()
		q.logger.Warn("notification queue full; dropped an older notification",
			"seq", old.Seq, "kind", old.Kind, "component", old.Component, "queue", q.max)
	}
	q.queue = append(q.queue, n)
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return n
}

// pending returns the number of queued notifications.
func (q *notifier) pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.queue)
}

// run delivers queued notifications until ctx ends.
func (q *notifier) run(ctx context.Context) {
	wait := q.waitMin
	for {
		head, ok := q.head()
		if !ok {
			select {
			case <-q.wake:
				continue
			case <-ctx.Done():
				return
			}
		}

		delivered := q.deliver(ctx, head)
		if ctx.Err() != nil {
			return
		}
		if delivered {
			q.remove(head.Seq)
			wait = q.waitMin
			continue
		}
		if !sleepCtx(ctx, wait) {
			return
		}
		wait = min(wait*2, q.waitMax)
	}
}

// deliver posts n and reports whether it is done with: delivered, or
// rejected with 400 or 401, which a retry cannot fix.
func (q *notifier) deliver(ctx context.Context, n dfmapi.Notification) bool {
	body, err := json.Marshal(n)
	if err != nil {
		q.logger.Error("notification not encodable; dropped", "seq", n.Seq, "kind", n.Kind, "error", err)
		return true
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, q.url, body)
	if err != nil {
		q.logger.Error("notification dropped: invalid notify.url", "seq", n.Seq, "error", err)
		return true
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+q.token)

	resp, err := q.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			q.logger.Warn("notification not delivered; retrying", "seq", n.Seq, "kind", n.Kind, "error", err)
		}
		return false
	}
	defer resp.Body.Close()
	detail, _ := io.ReadAll(io.LimitReader(resp.Body, 512))

	switch {
	case resp.StatusCode >= 200 && resp.StatusCode <= 299:
		q.metrics.sent.Inc()
		return true
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized:
		q.metrics.rejected.Inc()
		fix := "check that notify.url points at DFLB's notification receiver"
		if resp.StatusCode == http.StatusUnauthorized {
			fix = "give DFM and DFLB the same secret"
		}
		q.logger.Error("notification rejected by the receiver; dropped", "seq", n.Seq, "kind", n.Kind,
			"status", resp.StatusCode, "response", string(bytes.TrimSpace(detail)), "fix", fix)
		return true
	default:
		q.logger.Warn("notification not delivered; retrying", "seq", n.Seq, "kind", n.Kind,
			"status", resp.StatusCode, "response", string(bytes.TrimSpace(detail)))
		return false
	}
}

func (q *notifier) head() (dfmapi.Notification, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.queue) == 0 {
		return dfmapi.Notification{}, false
	}
	return q.queue[0], true
}

// remove drops the notification seq, which enqueue may have dropped already
// while it was being sent.
func (q *notifier) remove(seq uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, n := range q.queue {
		if n.Seq == seq {
			q.queue = append(q.queue[:i], q.queue[i+1:]...)
			break
		}
	}
	if len(q.queue) == 0 {
		q.empty.Broadcast()
	}
}

// flush waits until the queue is empty or ctx ends, and returns the number of
// notifications left undelivered.
func (q *notifier) flush(ctx context.Context) int {
	stop := context.AfterFunc(ctx, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		q.empty.Broadcast()
	})
	defer stop()

	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.queue) > 0 && ctx.Err() == nil {
		q.empty.Wait()
	}
	return len(q.queue)
}

// newNotifyClient returns the HTTP client for notifications: a few quick
// retries per round, and the response of the last try returned as is, so
// that deliver gets the status code.
func newNotifyClient() *retryablehttp.Client {
	c := retryablehttp.NewClient()
	c.RetryMax = 2
	c.RetryWaitMin = 100 * time.Millisecond
	c.RetryWaitMax = time.Second
	c.HTTPClient.Timeout = 10 * time.Second
	c.ErrorHandler = retryablehttp.PassthroughErrorHandler
	c.Logger = nil
	return c
}
