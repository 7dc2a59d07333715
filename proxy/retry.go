package proxy

import (
	"errors"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dflb/dflb/balancer"
)

// tryTargets sends req to up to RetryAttempts targets of route, one at a
// time, until one responds or the error rules out another attempt. A
// non-idempotent request gets one attempt. now (unix nanoseconds) is the
// time at which targets must be available. It returns the time since start
// and the last error, errNoBackend when no target was available.
func (p *Proxy) tryTargets(req *fasthttp.Request, resp *fasthttp.Response, route *balancer.Route, shard uint64, bytesIn int64, start time.Time, now int64) (time.Duration, error) {
	attempts := p.opts.RetryAttempts
	if !isIdempotent(&req.Header) {
		attempts = 1
	}

	err := errNoBackend
	var tried uint64
	var elapsed time.Duration
	for range attempts {
		idx, ok := route.Pick(p.opts.Balance, tried, now)
		if !ok {
			break
		}
		tried |= 1 << idx

		elapsed, err = p.roundTrip(req, resp, &route.Targets[idx], shard, bytesIn, start)
		if err == nil || !retryElsewhere(err, req) {
			break
		}
	}
	return elapsed, err
}

// keepTrying repeats tryTargets every TryInterval until a backend responds,
// the error rules out another round (see mayTryAgain), TryDuration has
// passed since the request arrived, or the server shuts down. Each round
// looks the route up again, so a table published meanwhile is used. A round
// that starts before the deadline runs to its end, which may take up to
// RetryAttempts connect timeouts more. err is the error of the first round.
// keepTrying returns the route of the last round and its outcome.
func (p *Proxy) keepTrying(ctx *fasthttp.RequestCtx, req *fasthttp.Request, route *balancer.Route, shard uint64, err error) (*balancer.Route, time.Duration, error) {
	start := ctx.Time()
	deadline := start.Add(p.opts.TryDuration)
	var elapsed time.Duration
	// A request that waited on a backend which then died, as a hung
	// instance that is restarted does, can be past the deadline already.
	// It still gets one round on the current table, whose routes may have
	// moved away from that backend meanwhile.
	lastRound := time.Now().After(deadline)
	for mayTryAgain(err, req) && (p.waitToRetry(ctx, deadline) || lastRound) {
		lastRound = false
		next, lookupErr := p.router.Load().Lookup([]byte(route.Tenant), route.Component)
		if lookupErr != nil {
			// The tenant or its component left the routing table while
			// the request waited.
			return route, time.Since(start), lookupErr
		}
		route = next

		elapsed, err = p.tryTargets(req, &ctx.Response, route, shard, requestBytes(ctx), start, time.Now().UnixNano())
	}
	return route, elapsed, err
}

// mayTryAgain reports whether a request whose attempts ended with err may
// have another round. That holds for any method when no backend was
// available or the connect failed, because then no backend received the
// request. After a lost connection it holds only when retryElsewhere's rule
// does, for an idempotent request whose body was not streamed. Timeouts and
// fasthttp.ErrNoFreeConns are not retried: the first means the backend may
// be working on the request, and the second means the backend is
// overloaded, and the request has already waited ConnectTimeout for a
// connection.
func mayTryAgain(err error, req *fasthttp.Request) bool {
	switch {
	case errors.Is(err, errNoBackend):
		return true
	case isDialError(err):
		return true
	case isConnectionLost(err):
		return isIdempotent(&req.Header) && retryElsewhere(err, req)
	default:
		return false
	}
}

// waitToRetry pauses for TryInterval, or until deadline if that comes
// first. It returns false without waiting when deadline has passed, and
// returns false as soon as the server starts shutting down, so that a drain
// does not wait out the pauses.
func (p *Proxy) waitToRetry(ctx *fasthttp.RequestCtx, deadline time.Time) bool {
	remaining := time.Until(deadline)
	if remaining <= 0 {
		return false
	}

	timer := time.NewTimer(min(p.opts.TryInterval, remaining))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// retryElsewhere reports whether an idempotent request that failed with err
// may go to another backend: when the connect failed, or when the backend
// closed or reset the connection before it responded, as a dying instance
// does. RFC 9110 section 9.2.2 allows repeating idempotent requests. A
// timeout is not retried, because the backend may still be working on it,
// and neither is a streamed body that the lost connection already consumed.
func retryElsewhere(err error, req *fasthttp.Request) bool {
	if isDialError(err) {
		return true
	}
	return isConnectionLost(err) && !req.IsBodyStream()
}
