// Package proxy is DFLB's data plane: a fasthttp listener that finds each
// request's tenant, looks its route up in the current balancer table and
// forwards it over a per-backend keep-alive pool.
//
// The handler follows fasthttp's contract: nothing derived from a
// *fasthttp.RequestCtx (its request, response or any Peek slice) outlives
// the handler call, so statistics take copies or counts only.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/valyala/fasthttp"

	"github.com/dflb/dflb/balancer"
	"github.com/dflb/dflb/tenant"
)

// Proxy forwards requests by tenant. Build it with New, point a balancer.Pool
// at NewTransport and CloseTransport, then call Serve.
type Proxy struct {
	opts       Options
	extractor  atomic.Pointer[tenant.Extractor]
	router     *balancer.Router
	log        *slog.Logger
	requestIDs *requestIDs
	server     *fasthttp.Server
	tunnels    *tunnels
	rejected   rejectCounters
	failureLog logLimiter
	limitLog   logLimiter

	limitsMu sync.Mutex // serializes SetTenantLimits
	limits   atomic.Pointer[tenantLimiters]

	conns *connCap // nil without Options.MaxConns

	// fasthttp clears its stop flag when Shutdown returns, and a Shutdown
	// before any Serve returns at once. So a Serve that starts after it
	// would accept forever. Under serveMu, Shutdown closes every listener
	// handed to Serve, and a Serve that comes later returns at once.
	serveMu   sync.Mutex
	stopped   bool
	listeners []*coarseListener
}

// New validates opts and returns a proxy that routes through router, whose
// tables the caller builds and swaps.
func New(opts Options, extractor *tenant.Extractor, router *balancer.Router, logger *slog.Logger) (*Proxy, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if extractor == nil || router == nil {
		return nil, errors.New("proxy: extractor and router are required")
	}
	if logger == nil {
		logger = slog.Default()
	}

	p := &Proxy{
		opts:       opts,
		router:     router,
		log:        logger.With("logger", "proxy"),
		requestIDs: newRequestIDs(),
		tunnels:    newTunnels(),
		failureLog: logLimiter{perSecond: 10},
		limitLog:   logLimiter{perSecond: 10},
	}
	if opts.MaxConns > 0 {
		p.conns = &connCap{limit: int64(opts.MaxConns), log: p.log, logLimit: logLimiter{perSecond: 10}}
	}
	p.extractor.Store(extractor)
	p.server = p.newServer()
	return p, nil
}

// SetExtractor swaps the tenant rules; requests in flight finish with the old ones.
func (p *Proxy) SetExtractor(e *tenant.Extractor) {
	p.extractor.Store(e)
}

func (p *Proxy) newServer() *fasthttp.Server {
	return &fasthttp.Server{
		Handler:      p.handle,
		ErrorHandler: p.handleParseError,
		Name:         "",

		// MaxConns is enforced by limitListener, so fasthttp's own
		// connection limit only needs to stay out of its way.
		Concurrency: max(p.opts.MaxConns, fasthttp.DefaultConcurrency),

		ReadBufferSize:     p.opts.MaxHeaderBytes,
		MaxRequestBodySize: p.opts.StreamThreshold,
		StreamRequestBody:  true,
		ReadTimeout:        p.opts.ClientReadTimeout,
		WriteTimeout:       p.opts.WriteTimeout,
		IdleTimeout:        p.opts.ClientIdleTimeout,

		// A proxy forwards bodies untouched: no multipart parsing, no
		// injected Server or Content-Type fields, and header names keep
		// fasthttp's canonical form so that lookups match.
		DisablePreParseMultipartForm:  true,
		NoDefaultServerHeader:         true,
		NoDefaultContentType:          true,
		DisableHeaderNamesNormalizing: false,
		CloseOnShutdown:               true,
		Logger:                        fasthttpLogger{p.log},
	}
}

// Serve accepts connections on ln until Shutdown. It returns nil after a
// shutdown and the listener's error otherwise.
func (p *Proxy) Serve(ln net.Listener) error {
	p.log.Info("listening", "addr", ln.Addr().String(), "max_conns", p.opts.MaxConns)
	// The coarse listener is innermost because it needs the TCP
	// connection itself (see newDirectConn).
	timeout := min(p.opts.ClientReadTimeout, p.opts.ClientIdleTimeout, p.opts.WriteTimeout)
	coarse := &coarseListener{Listener: ln, slack: deadlineSlack(timeout)}

	p.serveMu.Lock()
	if p.stopped {
		p.serveMu.Unlock()
		return closeListener(coarse)
	}
	p.listeners = append(p.listeners, coarse)
	p.serveMu.Unlock()

	ln = coarse
	if p.conns != nil {
		ln = &limitListener{Listener: ln, cap: p.conns}
	}
	err := p.server.Serve(ln)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("proxy: serving on %s: %w", ln.Addr(), err)
	}
	return nil
}

// Shutdown drains: it stops accepting, lets requests in flight finish until
// ctx ends or ShutdownGrace passes, whichever is first, then closes tunnels
// and any connection still open.
func (p *Proxy) Shutdown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.opts.ShutdownGrace)
	defer cancel()

	p.log.Info("draining", "grace", p.opts.ShutdownGrace.String(), "tunnels", p.tunnels.count())
	p.serveMu.Lock()
	p.stopped = true
	var closeErrs []error
	for _, ln := range p.listeners {
		closeErrs = append(closeErrs, closeListener(ln))
	}
	p.serveMu.Unlock()

	serverErr := p.server.ShutdownWithContext(ctx)
	tunnelErr := p.tunnels.drain(ctx)
	if err := errors.Join(append(closeErrs, serverErr, tunnelErr)...); err != nil {
		return fmt.Errorf("proxy: drain did not finish within %s: %w", p.opts.ShutdownGrace, err)
	}
	p.log.Info("drained")
	return nil
}

// closeListener closes ln. A listener that its owner closed already is no
// error, because it accepts nothing either way.
func closeListener(ln net.Listener) error {
	if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("proxy: closing listener %s: %w", ln.Addr(), err)
	}
	return nil
}

// fasthttpLogger routes fasthttp's own messages to slog at debug level:
// they report client-side errors that the proxy has already responded to.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(fmt.Sprintf(format, args...))
	}
}
