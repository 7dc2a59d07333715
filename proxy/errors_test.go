package proxy

import (
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/valyala/fasthttp"

	"github.com/dflb/dflb/balancer"
	"github.com/dflb/dflb/tenant"
)

func TestClassifyStatuses(t *testing.T) {
	f := func(err error, status int, class balancer.Class) {
		t.Helper()
		got := classify(err)
		assert.Equal(t, status, got.status, "%v", err)
		assert.Equal(t, class, got.class, "%v", err)
		assert.NotEmpty(t, got.body, "%v", err)
	}
	wrap := func(err error) error { return fmt.Errorf("context: %w", err) }

	f(wrap(tenant.ErrNoTenant), 400, balancer.ClassRejected)
	f(wrap(tenant.ErrInvalidTenant), 400, balancer.ClassRejected)
	f(errAmbiguousFraming, 400, balancer.ClassRejected)
	f(balancer.ErrUnknownTenant, 404, balancer.ClassRejected)
	f(balancer.ErrUnknownComponent, 404, balancer.ClassRejected)
	f(wrap(tenant.ErrUnknownComponent), 404, balancer.ClassRejected)
	f(errBodyTooLarge, 413, balancer.ClassRejected)
	f(errRateLimited, 429, balancer.ClassLimited)
	f(errConcurrencyLimited, 503, balancer.ClassLimited)
	f(errNoBackend, 503, balancer.ClassUnavailable)
	f(fasthttp.ErrNoFreeConns, 503, balancer.ClassUnavailable)
	f(&dialError{addr: "127.0.0.1:1", err: syscall.ECONNREFUSED}, 502, balancer.ClassConnect)
	f(&dialError{addr: "127.0.0.1:1", err: os.ErrDeadlineExceeded}, 504, balancer.ClassTimeout)
	f(wrap(os.ErrDeadlineExceeded), 504, balancer.ClassTimeout)
	f(fasthttp.ErrTimeout, 504, balancer.ClassTimeout)
	f(errHeadTooLarge, 502, balancer.ClassOther)
	f(io.EOF, 502, balancer.ClassConnect)
	f(wrap(syscall.ECONNRESET), 502, balancer.ClassConnect)
	f(fmt.Errorf("unexpected"), 502, balancer.ClassOther)
}
