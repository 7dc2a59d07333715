package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dflb/dflb/balancer"
)

// isWebSocketUpgrade reports whether the request requests a switch to the
// WebSocket protocol (RFC 6455 section 4.1).
func isWebSocketUpgrade(h *fasthttp.RequestHeader) bool {
	if !bytes.EqualFold(h.Peek(fasthttp.HeaderUpgrade), []byte("websocket")) {
		return false
	}
	for _, line := range h.PeekAll(fasthttp.HeaderConnection) {
		for token := range bytes.SplitSeq(line, []byte{','}) {
			if bytes.EqualFold(bytes.TrimSpace(token), []byte("upgrade")) {
				return true
			}
		}
	}
	return false
}

// tunnel forwards a WebSocket handshake on its own backend connection.
// fasthttp's HostClient closes the connection on a 101 response, so the proxy
// dials the backend itself, relays the 101 head and then copies bytes both
// ways on the hijacked client connection. A backend that declines the
// upgrade has its response relayed as an ordinary one.
func (p *Proxy) tunnel(ctx *fasthttp.RequestCtx, route *balancer.Route, shard uint64) (balancer.Class, int64) {
	var (
		conn   net.Conn
		target *balancer.Target
		err    error = errNoBackend
		tried  uint64
	)
	for range p.opts.RetryAttempts {
		idx, ok := route.Pick(p.opts.Balance, tried, time.Now().UnixNano())
		if !ok {
			break
		}
		tried |= 1 << idx
		target = &route.Targets[idx]
		conn, err = p.dialTunnel(target.Backend)
		if err == nil {
			break
		}
		target.Backend.ReportFailure(time.Now().UnixNano())
	}
	if err != nil {
		f := p.fail(ctx, err, "")
		p.logFailure(route, err, f)
		return f.class, 0
	}

	target.Stats.Start(shard)
	head, br, err := p.handshake(conn, &ctx.Request.Header)
	if err != nil {
		conn.Close()
		f := p.fail(ctx, err, "")
		target.Stats.Done(shard, f.class, 0, 0, time.Since(ctx.Time()))
		p.logFailure(route, err, f)
		return f.class, 0
	}
	target.Backend.ReportSuccess()

	if !bytes.HasPrefix(head, []byte("HTTP/1.1 101")) {
		defer conn.Close()
		return p.relayDeclined(ctx, head, br, target, shard)
	}

	target.Stats.Done(shard, balancer.ClassOK, 0, 0, time.Since(ctx.Time()))
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(client net.Conn) {
		p.splice(client, conn, head, br)
	})
	return balancer.ClassOK, 0
}

func (p *Proxy) dialTunnel(b *balancer.Backend) (net.Conn, error) {
	conn, err := net.DialTimeout("tcp", b.Addr, p.opts.ConnectTimeout)
	if err != nil {
		return nil, &dialError{addr: b.Addr, err: err}
	}
	return conn, nil
}

// handshake sends the request head and reads the backend's response head,
// at most MaxHeaderBytes long.
func (p *Proxy) handshake(conn net.Conn, h *fasthttp.RequestHeader) ([]byte, *bufio.Reader, error) {
	if err := conn.SetDeadline(time.Now().Add(p.opts.ResponseHeaderTimeout)); err != nil {
		return nil, nil, err
	}
	if _, err := conn.Write(h.Header()); err != nil {
		return nil, nil, fmt.Errorf("sending upgrade request to %s: %w", conn.RemoteAddr(), err)
	}

	br := bufio.NewReaderSize(conn, upstreamReadBufferSize)
	var head []byte
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return nil, nil, fmt.Errorf("reading upgrade response from %s: %w", conn.RemoteAddr(), err)
		}
		head = append(head, line...)
		if len(head) > p.opts.MaxHeaderBytes {
			return nil, nil, errHeadTooLarge
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			break
		}
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return nil, nil, err
	}
	return head, br, nil
}

// relayDeclined responds to the client with the backend's non-101 response.
func (p *Proxy) relayDeclined(ctx *fasthttp.RequestCtx, head []byte, br *bufio.Reader, target *balancer.Target, shard uint64) (balancer.Class, int64) {
	var resp fasthttp.Response
	full := bufio.NewReader(io.MultiReader(bytes.NewReader(head), br))
	if err := resp.Read(full); err != nil {
		f := p.fail(ctx, fmt.Errorf("reading declined upgrade response: %w", err), "")
		target.Stats.Done(shard, f.class, 0, 0, time.Since(ctx.Time()))
		return f.class, 0
	}
	resp.CopyTo(&ctx.Response)
	stripHopByHop(&ctx.Response.Header, false)

	class := balancer.StatusClass(resp.StatusCode())
	target.Stats.Done(shard, class, 0, responseBytes(&resp), time.Since(ctx.Time()))
	return class, responseBytes(&resp)
}

// splice relays the 101 head and then bytes in both directions until either
// side closes, a side stays idle past ClientIdleTimeout, or the proxy drains.
func (p *Proxy) splice(client, backend net.Conn, head []byte, br *bufio.Reader) {
	idle := p.opts.ClientIdleTimeout
	clientSide := newIdleConn(client, idle, p.opts.WriteTimeout)
	backendSide := newIdleConn(backend, idle, p.opts.WriteTimeout)

	// fasthttp's hijacked connection ignores Close (the server closes it
	// after this handler returns), so closing must reach the socket itself.
	if u, ok := client.(interface{ UnsafeConn() net.Conn }); ok {
		client = u.UnsafeConn()
	}
	id := p.tunnels.add(client, backend)
	defer p.tunnels.remove(id)
	defer backend.Close()

	if _, err := clientSide.Write(head); err != nil {
		return
	}
	// Bytes that the backend sent right after its 101 head are already in br.
	if n := br.Buffered(); n > 0 {
		buffered, _ := br.Peek(n)
		if _, err := clientSide.Write(buffered); err != nil {
			return
		}
	}

	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(backendSide, clientSide)
		closeWrite(backend)
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(clientSide, backendSide)
		closeWrite(client)
		done <- struct{}{}
	}()
	<-done
	// One side ended: give the other a moment to deliver its close frame,
	// then cut both.
	select {
	case <-done:
		client.Close()
	case <-time.After(time.Second):
		client.Close()
		backend.Close()
		<-done
	}
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

// tunnels tracks hijacked WebSocket connections, which fasthttp's shutdown
// does not wait for, so that a drain can wait for them and then close them.
type tunnels struct {
	mu     sync.Mutex // guards open and next
	open   map[uint64][2]net.Conn
	next   uint64
	closed chan struct{} // receives after each removal, never blocks
}

func newTunnels() *tunnels {
	return &tunnels{open: make(map[uint64][2]net.Conn), closed: make(chan struct{}, 1)}
}

func (t *tunnels) add(client, backend net.Conn) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.next++
	t.open[t.next] = [2]net.Conn{client, backend}
	return t.next
}

func (t *tunnels) remove(id uint64) {
	t.mu.Lock()
	delete(t.open, id)
	t.mu.Unlock()
	select {
	case t.closed <- struct{}{}:
	default:
	}
}

func (t *tunnels) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.open)
}

// drain waits until every tunnel has ended or ctx is done, then closes the
// ones left and returns ctx's error if any were.
func (t *tunnels) drain(ctx context.Context) error {
	for t.count() > 0 {
		select {
		case <-t.closed:
		case <-ctx.Done():
			t.mu.Lock()
			left := len(t.open)
			for _, pair := range t.open {
				pair[0].Close()
				pair[1].Close()
			}
			t.mu.Unlock()
			return fmt.Errorf("closed %d WebSocket tunnels still open: %w", left, ctx.Err())
		}
	}
	return nil
}
