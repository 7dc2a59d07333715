package proxy

import (
	"errors"
	"net"
	"os"

	"github.com/valyala/fasthttp"

	"github.com/dflb/dflb/balancer"
	"github.com/dflb/dflb/tenant"
)

// errBodyTooLarge is returned by the body limiter once a streamed request
// body passes MaxBodyBytes.
var errBodyTooLarge = errors.New("proxy: request body exceeds the configured maximum")

// failure is the proxy's response to an error: the status, a short body for the
// client and the statistics class.
type failure struct {
	status int
	body   string
	class  balancer.Class
}

// classify maps every error that can end a request to its response. It is the
// only place where errors become status codes.
func classify(err error) failure {
	var netErr net.Error

	switch {
	case errors.Is(err, tenant.ErrNoTenant):
		return failure{fasthttp.StatusBadRequest, "no tenant in request", balancer.ClassRejected}
	case errors.Is(err, tenant.ErrInvalidTenant):
		return failure{fasthttp.StatusBadRequest, "invalid tenant", balancer.ClassRejected}
	case errors.Is(err, tenant.ErrUnknownComponent), errors.Is(err, balancer.ErrUnknownComponent):
		return failure{fasthttp.StatusNotFound, "unknown component", balancer.ClassRejected}
	case errors.Is(err, balancer.ErrUnknownTenant):
		return failure{fasthttp.StatusNotFound, "unknown tenant", balancer.ClassRejected}
	case errors.Is(err, errAmbiguousFraming):
		return failure{fasthttp.StatusBadRequest, "request has both Content-Length and Transfer-Encoding", balancer.ClassRejected}
	case errors.Is(err, errBodyTooLarge), errors.Is(err, fasthttp.ErrBodyTooLarge):
		return failure{fasthttp.StatusRequestEntityTooLarge, "request body too large", balancer.ClassRejected}
	case errors.Is(err, errRateLimited):
		return failure{fasthttp.StatusTooManyRequests, "too many requests", balancer.ClassLimited}
	case errors.Is(err, errConcurrencyLimited):
		return failure{fasthttp.StatusServiceUnavailable, "too many concurrent requests", balancer.ClassLimited}
	case errors.Is(err, errNoBackend), errors.Is(err, fasthttp.ErrNoFreeConns):
		return failure{fasthttp.StatusServiceUnavailable, "no backend available", balancer.ClassUnavailable}
	case isDialError(err) && isTimeout(err):
		return failure{fasthttp.StatusGatewayTimeout, "backend connect timed out", balancer.ClassTimeout}
	case isDialError(err):
		return failure{fasthttp.StatusBadGateway, "backend connection failed", balancer.ClassConnect}
	case isTimeout(err):
		return failure{fasthttp.StatusGatewayTimeout, "backend timed out", balancer.ClassTimeout}
	case isConnectionLost(err):
		return failure{fasthttp.StatusBadGateway, "backend closed the connection", balancer.ClassConnect}
	case isSmallBuffer(err), errors.Is(err, errHeadTooLarge):
		return failure{fasthttp.StatusBadGateway, "backend response head too large", balancer.ClassOther}
	case errors.As(err, &netErr):
		return failure{fasthttp.StatusBadGateway, "backend connection failed", balancer.ClassConnect}
	default:
		return failure{fasthttp.StatusBadGateway, "bad gateway", balancer.ClassOther}
	}
}

func isTimeout(err error) bool {
	if errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrDialTimeout) ||
		errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

// errNoBackend means every target of a route is down or already tried.
var errNoBackend = errors.New("proxy: no backend available")

// isSmallBuffer reports fasthttp's error for a message head larger than the
// read buffer.
func isSmallBuffer(err error) bool {
	var small *fasthttp.ErrSmallBuffer
	return errors.As(err, &small)
}

// errHeadTooLarge is returned when a backend's handshake head exceeds MaxHeaderBytes.
var errHeadTooLarge = errors.New("proxy: backend response head too large")
