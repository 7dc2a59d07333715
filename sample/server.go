// Package sample implements the sample component, a fasthttp server that
// tests and benchmarks run in place of the platform's component servers
// behind DFLB. It serves a configured set of tenants and reports, echoes or
// pads what it receives, so a test can check where DFLB routed a request.
package sample

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"
)

// Timeouts of client connections. They exceed the longest ?sleep and ?work
// (60 s) so that a slow request is not cut by the server itself.
const (
	readTimeout  = 2 * time.Minute
	writeTimeout = 2 * time.Minute
	idleTimeout  = 2 * time.Minute
)

// maxBufferedBody is the part of a request body that fasthttp reads before it
// calls the handler. The rest is streamed, so an upload of any size is echoed
// in constant memory.
const maxBufferedBody = 64 << 10

// Config configures a sample component.
type Config struct {
	// Instance is the instance ID reported in responses. Required.
	Instance string
	// Component is the component name reported in responses (default "app").
	Component string
	// Tenants are the tenant IDs served at start. SetTenants replaces them.
	Tenants []string
}

// Server is one sample component. It is safe for concurrent use.
type Server struct {
	instance  string
	component string
	logger    *slog.Logger
	tenants   atomic.Pointer[tenantSet]
	http      *fasthttp.Server
	upgrader  websocket.FastHTTPUpgrader

	rejectLog logLimiter
	// burned sums burnCPU's results so that the compiler keeps its loop.
	burned atomic.Uint64

	wsMu    sync.Mutex
	wsConns map[*websocket.Conn]struct{}
	closing bool
}

// New validates cfg and returns a server that is not yet listening.
func New(cfg Config, logger *slog.Logger) (*Server, error) {
	if cfg.Instance == "" {
		return nil, errors.New("missing instance ID: set Config.Instance (flag -instance)")
	}
	if cfg.Component == "" {
		cfg.Component = "app"
	}
	if logger == nil {
		logger = slog.Default()
	}

	s := &Server{
		instance:  cfg.Instance,
		component: cfg.Component,
		logger:    logger.With("instance", cfg.Instance, "component", cfg.Component),
		wsConns:   make(map[*websocket.Conn]struct{}),
		rejectLog: logLimiter{interval: time.Second},
	}
	s.SetTenants(cfg.Tenants)
	s.upgrader = websocket.FastHTTPUpgrader{
		HandshakeTimeout: 10 * time.Second,
		// Any origin is accepted: the component only echoes and holds no
		// user data that a cross-site page could read.
		CheckOrigin: func(*fasthttp.RequestCtx) bool { return true },
	}
	s.http = &fasthttp.Server{
		Handler:                      s.handle,
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		StreamRequestBody:            true,
		MaxRequestBodySize:           maxBufferedBody,
		DisablePreParseMultipartForm: true,
		ReadTimeout:                  readTimeout,
		WriteTimeout:                 writeTimeout,
		IdleTimeout:                  idleTimeout,
		CloseOnShutdown:              true,
		Logger:                       fasthttpLogger{s.logger},
	}
	return s, nil
}

// SetTenants replaces the served tenant set. IDs are trimmed and lower-cased,
// and empty ones are skipped. Requests in flight keep the set they started
// with, so a reload drops none of them.
func (s *Server) SetTenants(tenants []string) {
	set := newTenantSet(tenants)
	s.tenants.Store(&set)
}

// TenantCount returns the number of tenants served now.
func (s *Server) TenantCount() int {
	return len(*s.tenants.Load())
}

// Serve accepts connections on ln until Shutdown is called. It returns nil
// after a shutdown and the accept error otherwise.
func (s *Server) Serve(ln net.Listener) error {
	s.logger.Info("sample component serving", "addr", ln.Addr().String(), "tenants", s.TenantCount())
	if err := s.http.Serve(ln); err != nil {
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	}
	return nil
}

// Shutdown stops accepting connections, closes WebSocket connections with a
// "going away" close frame and waits for requests in flight until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeWebSockets()
	if err := s.http.ShutdownWithContext(ctx); err != nil {
		return fmt.Errorf("shut down instance %s: %w", s.instance, err)
	}
	s.logger.Info("sample component stopped")
	return nil
}

// fasthttpLogger sends fasthttp's internal messages, such as connection
// errors, to slog.
type fasthttpLogger struct{ logger *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.logger.Warn(fmt.Sprintf(format, args...))
}
