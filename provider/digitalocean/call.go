package digitalocean

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/digitalocean/godo"

	"github.com/dflb/dflb/provider"
)

// Backoff between repeats of a request that failed with a 5xx status or a
// timeout: backoffMin, doubled per attempt up to backoffMax, each wait
// shortened by up to a fifth at random so that concurrent callers spread.
const (
	backoffMin = time.Second
	backoffMax = 30 * time.Second
)

// sendFunc sends one request through godo with the given context.
type sendFunc func(ctx context.Context) (*godo.Response, error)

// call sends a request and repeats it up to MaxRetries times when that is
// safe:
//
//   - after a 429, which the API rejected before acting on it, once the
//     rate limit resets, if that is within RateLimitMaxWait;
//   - after a 5xx status or a timeout, with backoff, but only when
//     idempotent is true, because the API may have acted on the request.
//
// Other statuses are returned at once. Every error is an *apiError, or
// ctx's error when ctx ends during a wait.
func (p *Provider) call(ctx context.Context, endpoint string, idempotent bool, send sendFunc) error {
	for attempt := 0; ; attempt++ {
		if err := p.pace(ctx, endpoint); err != nil {
			return err
		}

		attemptCtx, cancel := context.WithTimeout(ctx, p.cfg.RequestTimeout)
		resp, err := send(attemptCtx)
		cancel()
		p.rate.update(resp)
		if err == nil {
			return nil
		}

		e := p.classify(ctx, endpoint, resp, err)
		if ctx.Err() != nil {
			return e
		}
		wait, retry := p.retryWait(e, idempotent, attempt)
		if !retry {
			return e
		}
		p.log.Warn("DigitalOcean API request failed, retrying", "request", endpoint,
			"attempt", attempt+1, "max_retries", p.cfg.MaxRetries, "wait", wait.Round(time.Millisecond).String(), "error", e.Error())
		if err := p.sleep(ctx, wait); err != nil {
			return fmt.Errorf("waiting to repeat %s: %w (last error: %v)", endpoint, err, e)
		}
	}
}

// retryWait decides whether the request that failed with e is sent again,
// and after which wait.
func (p *Provider) retryWait(e *apiError, idempotent bool, attempt int) (time.Duration, bool) {
	if attempt >= p.cfg.MaxRetries {
		return 0, false
	}
	switch e.kind {
	case provider.KindRateLimited:
		return e.retryAfter, e.retryAfter <= p.cfg.RateLimitMaxWait
	case provider.KindTransient:
		return backoff(attempt), idempotent
	default:
		return 0, false
	}
}

// pace waits until the rate limit allows the next request. It sends
// nothing and returns a rate-limited error when that wait would exceed
// RateLimitMaxWait.
func (p *Provider) pace(ctx context.Context, endpoint string) error {
	wait := p.rate.reserve(p.now())
	if wait <= 0 {
		return nil
	}
	if wait > p.cfg.RateLimitMaxWait {
		return &apiError{
			kind:       provider.KindRateLimited,
			retryAfter: wait,
			endpoint:   endpoint,
			err:        fmt.Errorf("not sent: no API requests remain for %s, longer than rate_limit_max_wait %s", wait.Round(time.Second), p.cfg.RateLimitMaxWait),
		}
	}
	p.log.Debug("spacing out DigitalOcean API requests", "request", endpoint, "wait", wait.Round(time.Millisecond).String())
	if err := p.sleep(ctx, wait); err != nil {
		return fmt.Errorf("waiting for the API rate limit before %s: %w", endpoint, err)
	}
	return nil
}

// backoff returns the wait before repeat number attempt+1.
func backoff(attempt int) time.Duration {
	wait := backoffMin << min(attempt, 10)
	wait = min(wait, backoffMax)
	return wait - rand.N(wait/5+1)
}

// sleepContext waits for d or until ctx ends.
func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
