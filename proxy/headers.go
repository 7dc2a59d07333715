package proxy

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"net/netip"
	"sync/atomic"

	"github.com/valyala/fasthttp"
)

// Header names the proxy sets on every forwarded request.
const (
	HeaderTenant         = "X-Tenant-ID"
	HeaderRequestID      = "X-Request-ID"
	HeaderForwardedFor   = "X-Forwarded-For"
	HeaderForwardedHost  = "X-Forwarded-Host"
	HeaderForwardedProto = "X-Forwarded-Proto"
	headerForwarded      = "Forwarded"
)

// hopByHop lists the fields that RFC 9110 section 7.6.1 (and the legacy
// Keep-Alive and Proxy-Connection fields) limit to one connection. The
// Connection field itself and Transfer-Encoding are handled apart: fasthttp
// owns message framing and writes Transfer-Encoding itself.
var hopByHop = [...]string{
	"Keep-Alive",
	"Proxy-Connection",
	"Proxy-Authenticate",
	"Proxy-Authorization",
	"Te",
	"Trailer",
	"Upgrade",
}

// fieldSet is the part of fasthttp's request and response headers that
// hop-by-hop stripping needs; both header types implement it.
type fieldSet interface {
	PeekAll(key string) [][]byte
	Del(key string)
	DelBytes(key []byte)
	PeekKeys() [][]byte
}

// stripHopByHop removes the Connection field, every field that it names and
// the fields in hopByHop. keepUpgrade leaves Connection and Upgrade in place,
// for a WebSocket handshake. Fields that carry framing or routing (Host,
// Content-Length, Transfer-Encoding) are never removed, even when Connection
// names them, so a client cannot make the proxy send a malformed request.
func stripHopByHop[H fieldSet](h H, keepUpgrade bool) {
	if !keepUpgrade {
		stripConnectionTokens(h)
		h.Del(fasthttp.HeaderConnection)
	}

	if !hasHopByHop(h) {
		return
	}
	for _, name := range hopByHop {
		if keepUpgrade && name == fasthttp.HeaderUpgrade {
			continue
		}
		h.Del(name)
	}
}

// stripConnectionTokens removes the fields named in all Connection lines.
func stripConnectionTokens[H fieldSet](h H) {
	lines := h.PeekAll(fasthttp.HeaderConnection)
	if len(lines) == 0 {
		return
	}

	// Copy the tokens first: deleting fields reshuffles the buffers that
	// PeekAll's slices point into.
	var scratch [256]byte
	joined := scratch[:0]
	for i, line := range lines {
		if i > 0 {
			joined = append(joined, ',')
		}
		joined = append(joined, line...)
	}

	for token := range bytes.SplitSeq(joined, []byte{','}) {
		token = bytes.TrimSpace(token)
		if len(token) == 0 || isProtectedField(token) {
			continue
		}
		h.DelBytes(token)
	}
}

func isProtectedField(name []byte) bool {
	return bytes.EqualFold(name, []byte(fasthttp.HeaderHost)) ||
		bytes.EqualFold(name, []byte(fasthttp.HeaderContentLength)) ||
		bytes.EqualFold(name, []byte(fasthttp.HeaderTransferEncoding)) ||
		bytes.EqualFold(name, []byte("close")) ||
		bytes.EqualFold(name, []byte("keep-alive"))
}

// hasHopByHop scans the fields once, so that the common request without any
// hop-by-hop field costs one pass instead of one lookup per name.
func hasHopByHop[H fieldSet](h H) bool {
	// PeekKeys reuses a buffer of the header; the All iterator would
	// allocate its closures on every request.
	for _, key := range h.PeekKeys() {
		for _, name := range hopByHop {
			if bytes.EqualFold(key, []byte(name)) {
				return true
			}
		}
	}
	return false
}

// setForwarded writes X-Forwarded-For, -Host, -Proto and removes a client's
// Forwarded field unless the peer is trusted.
func (p *Proxy) setForwarded(h *fasthttp.RequestHeader, peer netip.Addr) {
	trusted := p.isTrusted(peer)

	var scratch [64]byte
	client := peer.AppendTo(scratch[:0])
	if lines := h.PeekAll(HeaderForwardedFor); trusted && len(lines) > 0 {
		var joinedScratch [256]byte
		joined := joinedScratch[:0]
		for _, line := range lines {
			joined = append(joined, line...)
			joined = append(joined, ", "...)
		}
		joined = append(joined, client...)
		h.SetBytesV(HeaderForwardedFor, joined)
	} else {
		h.SetBytesV(HeaderForwardedFor, client)
	}

	if !trusted || len(h.Peek(HeaderForwardedHost)) == 0 {
		h.SetBytesV(HeaderForwardedHost, h.Host())
	}
	if !trusted || len(h.Peek(HeaderForwardedProto)) == 0 {
		h.Set(HeaderForwardedProto, p.opts.ForwardedProto)
	}
	if !trusted {
		h.Del(headerForwarded)
	}
}

func (p *Proxy) isTrusted(peer netip.Addr) bool {
	for _, prefix := range p.opts.TrustedProxies {
		if prefix.Contains(peer) {
			return true
		}
	}
	return false
}

// requestIDs makes X-Request-ID values unique within one proxy process and,
// through a random prefix, across restarts: "<16 hex>-<16 hex counter>".
type requestIDs struct {
	prefix  [16]byte
	counter atomic.Uint64
}

func newRequestIDs() *requestIDs {
	var raw [8]byte
	_, _ = rand.Read(raw[:]) // Since Go 1.24 Read crashes the program instead of returning an error.
	ids := &requestIDs{}
	hex.Encode(ids.prefix[:], raw[:])
	return ids
}

// next writes a new ID into buf and returns it.
func (r *requestIDs) next(buf *[33]byte) []byte {
	copy(buf[:16], r.prefix[:])
	buf[16] = '-'
	n := r.counter.Add(1)
	const digits = "0123456789abcdef"
	for i := 32; i > 16; i-- {
		buf[i] = digits[n&0xf]
		n >>= 4
	}
	return buf[:]
}

// setRequestID keeps a client's X-Request-ID when it is 1 to 128 visible
// ASCII bytes, so traces can cross the proxy, and otherwise sets a new one.
func (p *Proxy) setRequestID(h *fasthttp.RequestHeader) {
	if isValidRequestID(h.Peek(HeaderRequestID)) {
		return
	}
	var buf [33]byte
	h.SetBytesV(HeaderRequestID, p.requestIDs.next(&buf))
}

func isValidRequestID(id []byte) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}
