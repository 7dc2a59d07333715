package digitalocean

import (
	"strconv"
	"sync"
	"time"

	"github.com/digitalocean/godo"
)

// paceBelow is the number of remaining requests below which calls are
// spaced out until the rate limit resets. The API allows 5,000 requests
// per hour and 250 per minute per token, and each request counts for one
// hour after it was made.
const paceBelow = 100

// minRateWait is the wait after a 429 whose headers give no usable reset
// time, for example because the clocks of DFLB and the API differ.
const minRateWait = time.Second

// rateState is the rate limit as the latest API response reported it in
// its RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset headers.
// It is shared by every call of a Provider.
type rateState struct {
	mu        sync.Mutex
	known     bool
	remaining int
	// reset is when the oldest counted request expires, which frees one
	// request of the limit.
	reset time.Time
}

// update records the rate limit headers of resp, if it has them.
func (r *rateState) update(resp *godo.Response) {
	if resp == nil || resp.Response == nil || resp.Header.Get("RateLimit-Limit") == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.known = true
	r.remaining = resp.Rate.Remaining
	r.reset = resp.Rate.Reset.Time
}

// reserve counts one request against the remaining ones and returns how
// long to wait before sending it. It spreads the remaining requests evenly
// over the time until the reset, and waits for the reset when none remain.
func (r *rateState) reserve(now time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.known || r.remaining >= paceBelow {
		if r.known {
			r.remaining--
		}
		return 0
	}
	untilReset := r.reset.Sub(now)
	if untilReset <= 0 {
		return 0
	}
	if r.remaining <= 0 {
		return untilReset
	}
	wait := untilReset / time.Duration(r.remaining+1)
	r.remaining--
	return wait
}

// waitAfter429 returns the wait that a 429 response requests: its
// Retry-After header in seconds, or else the time until RateLimit-Reset.
func (r *rateState) waitAfter429(resp *godo.Response, now time.Time) time.Duration {
	if resp == nil || resp.Response == nil {
		return minRateWait
	}
	if seconds, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && seconds > 0 {
		return time.Duration(seconds) * time.Second
	}
	if resp.Rate.Reset.IsZero() {
		return minRateWait
	}
	wait := resp.Rate.Reset.Sub(now)
	if wait < minRateWait {
		return minRateWait
	}
	return wait
}
