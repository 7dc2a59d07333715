package proxy

import (
	"io"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/valyala/fasthttp"
)

func TestRetryElsewhereRules(t *testing.T) {
	plain := &fasthttp.Request{}
	streamed := &fasthttp.Request{}
	streamed.SetBodyStream(strings.NewReader("partly sent"), -1)

	f := func(err error, req *fasthttp.Request, want bool) {
		t.Helper()
		assert.Equal(t, want, retryElsewhere(err, req), "error %v, streamed body %v", err, req.IsBodyStream())
	}
	refused := &dialError{addr: "127.0.0.1:1", err: syscall.ECONNREFUSED}
	f(refused, plain, true)
	f(refused, streamed, true)
	f(io.EOF, plain, true)
	f(syscall.ECONNRESET, plain, true)
	f(fasthttp.ErrConnectionClosed, plain, true)
	f(io.EOF, streamed, false)
	f(syscall.ECONNRESET, streamed, false)
	f(fasthttp.ErrTimeout, plain, false)
	f(errBodyTooLarge, plain, false)
}
