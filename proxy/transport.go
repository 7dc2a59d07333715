package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"

	"github.com/valyala/fasthttp"
)

// bufferedResponseMax is the largest response body, by its Content-Length,
// that the proxy reads whole before it responds to the client. Larger
// bodies, and those of unknown length, are streamed as they arrive. Reading
// whole saves allocations, and 64 KiB per in-flight response bounds the
// memory that it takes.
const bufferedResponseMax = 64 << 10

// maxInterimResponses bounds the 1xx responses that may precede a final one.
const maxInterimResponses = 100

var errTooManyInterim = errors.New("proxy: backend sent more than 100 interim (1xx) responses")

// upstreamTransport exchanges one request with a backend over a pooled
// connection of its fasthttp.HostClient. It differs from fasthttp's own
// transport in how it reads the response body: fasthttp either buffers every
// body, however large, or streams every body at four allocations per
// response. upstreamTransport reads a short body whole, allocating nothing,
// and streams any other (see upstreamBody).
//
// The backend connection's inactivity timeouts come from idleConn, so the
// transport sets no deadline of its own.
type upstreamTransport struct{}

func (upstreamTransport) RoundTrip(hc *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response) (retry bool, err error) {
	cc, err := hc.AcquireConn(0, req.ConnectionClose())
	if err != nil {
		return false, err
	}
	conn := cc.Conn()

	if err := writeRequest(hc, conn, req); err != nil {
		hc.CloseConn(cc)
		return true, err
	}

	if req.Header.IsHead() {
		resp.SkipBody = true
	}
	br := hc.AcquireReader(conn)
	if err := readResponseHead(resp, br); err != nil {
		hc.ReleaseReader(br)
		hc.CloseConn(cc)
		return true, err
	}
	length := resp.Header.ContentLength()
	// A body that ends when the backend closes (length -2) leaves nothing
	// to reuse.
	reusable := !req.ConnectionClose() && !resp.ConnectionClose() &&
		resp.StatusCode() != fasthttp.StatusSwitchingProtocols && length != -2

	withBody := hasBody(resp)
	if withBody && (length < 0 || length > bufferedResponseMax) {
		streamBody(hc, resp, br, length, func(reuse bool) {
			if reuse && reusable {
				hc.ReleaseConn(cc)
			} else {
				hc.CloseConn(cc)
			}
		})
		return false, nil
	}

	if withBody {
		resp.StreamBody = false
		err = resp.ReadBody(br, bufferedResponseMax)
	}
	hc.ReleaseReader(br)
	if err != nil || !reusable {
		hc.CloseConn(cc)
		return err != nil, err
	}
	hc.ReleaseConn(cc)
	return false, nil
}

// writeRequest sends req on conn through one of the client's pooled writers.
// A timeout comes back as fasthttp.ErrTimeout, as from fasthttp's transport.
func writeRequest(hc *fasthttp.HostClient, conn net.Conn, req *fasthttp.Request) error {
	bw := hc.AcquireWriter(conn)
	err := req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	hc.ReleaseWriter(bw)

	// A type assertion, not errors.As, keeps this allocation-free.
	if timeout, ok := err.(interface{ Timeout() bool }); ok && timeout.Timeout() {
		return fasthttp.ErrTimeout
	}
	return err
}

// readResponseHead reads the response head into resp, skipping interim 1xx
// responses other than 101 Switching Protocols.
func readResponseHead(resp *fasthttp.Response, br *bufio.Reader) error {
	for range maxInterimResponses + 1 {
		if err := resp.Header.Read(br); err != nil {
			return err
		}
		code := resp.StatusCode()
		if code < 100 || code > 199 || code == fasthttp.StatusSwitchingProtocols {
			return nil
		}
	}
	return errTooManyInterim
}

// hasBody reports whether a body follows the head of resp: not for a HEAD
// request, nor for a 1xx, 204 or 304 response (RFC 9112 section 6.3).
func hasBody(resp *fasthttp.Response) bool {
	code := resp.StatusCode()
	return !resp.SkipBody && code >= 200 && code != fasthttp.StatusNoContent && code != fasthttp.StatusNotModified
}

// streamBody makes resp's body a stream that reads the rest of the response
// from br. fasthttp decodes the body's framing, chunked included, into a
// carrier response, because only a Response can start that decoder. release
// runs once, when the stream is closed, with reuse set when the body was
// read to its end.
func streamBody(hc *fasthttp.HostClient, resp *fasthttp.Response, br *bufio.Reader, length int, release func(reuse bool)) {
	carrier := fasthttp.AcquireResponse()
	carrier.StreamBody = true
	carrier.Header.SetContentLength(length)
	// With StreamBody set, fasthttp's ReadBody only attaches the decoder
	// to br and returns nil.
	_ = carrier.ReadBody(br, 0)

	body := &upstreamBody{stream: carrier.BodyStream(), release: func(reuse bool) {
		// Releasing the carrier releases the decoder, which must let go
		// of br before the reader goes back to the pool.
		fasthttp.ReleaseResponse(carrier)
		hc.ReleaseReader(br)
		release(reuse)
	}}
	resp.SetBodyStream(body, length)
}

// upstreamBody is a response body streamed from a backend connection. The
// connection returns to the pool only when the body was read to its end and
// closed without error. Otherwise the connection is closed, because what is
// left of the body would be read as the next response.
//
// Read and CloseWithError must not run concurrently. fasthttp's server
// reads a response body and then closes it, from the connection's
// goroutine.
type upstreamBody struct {
	stream  io.Reader
	release func(reuse bool)
	ended   bool // stream returned io.EOF
	closed  bool
}

func (b *upstreamBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, io.ErrClosedPipe
	}
	n, err := b.stream.Read(p)
	if err == io.EOF {
		b.ended = true
	}
	return n, err
}

// CloseWithError implements fasthttp.ReadCloserWithError. err is the error
// that stopped the reader, nil after a complete read.
func (b *upstreamBody) CloseWithError(err error) error {
	if b.closed {
		return nil
	}
	b.closed = true
	b.release(err == nil && b.ended)
	return nil
}

// Interface guards.
var (
	_ fasthttp.RoundTripper        = upstreamTransport{}
	_ fasthttp.ReadCloserWithError = (*upstreamBody)(nil)
)
