// Package admin is DFLB's operator listener: an open /healthz for load
// balancers and orchestrators, and bearer-token protected endpoints such as
// /metrics in the Prometheus text format.
package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/dflb/dflb/internal/bearer"
)

// Server is the admin HTTP listener.
type Server struct {
	token   []byte
	mux     *http.ServeMux
	server  *http.Server
	log     *slog.Logger
	healthy func() error
}

// New returns an admin server whose protected endpoints require
// "Authorization: Bearer <token>". An empty token is rejected, because an
// admin API without authentication must not be served by accident.
// healthy reports readiness for /healthz; nil means always ready.
func New(token string, healthy func() error, logger *slog.Logger) (*Server, error) {
	if token == "" {
		return nil, errors.New("admin: empty token: set one so that the admin API is authenticated")
	}
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{
		token:   []byte(token),
		mux:     http.NewServeMux(),
		log:     logger.With("logger", "admin"),
		healthy: healthy,
	}
	s.mux.HandleFunc("GET /healthz", s.handleHealth)
	s.server = &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// A CPU profile or trace streams for as long as its seconds parameter.
		WriteTimeout: 5 * time.Minute,
		IdleTimeout:  120 * time.Second,
		ErrorLog:     slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// Handle registers an authenticated endpoint.
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, s.authenticate(h))
}

// HandleSelfAuthenticated registers an endpoint that checks credentials of
// its own, such as DFM's notifications signed with the DFM secret, so the
// admin token is not asked for.
func (s *Server) HandleSelfAuthenticated(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
}

// HandleMetrics registers GET /metrics, which concatenates the writers'
// output in order.
func (s *Server) HandleMetrics(writers ...func(io.Writer)) {
	s.Handle("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		for _, write := range writers {
			write(w)
		}
	}))
}

// HandleProfiling registers Go's profiling endpoints under /debug/pprof/,
// behind the same token, for finding what costs CPU in production.
func (s *Server) HandleProfiling() {
	s.Handle("GET /debug/pprof/", http.HandlerFunc(pprof.Index))
	s.Handle("GET /debug/pprof/cmdline", http.HandlerFunc(pprof.Cmdline))
	s.Handle("GET /debug/pprof/profile", http.HandlerFunc(pprof.Profile))
	s.Handle("GET /debug/pprof/symbol", http.HandlerFunc(pprof.Symbol))
	s.Handle("GET /debug/pprof/trace", http.HandlerFunc(pprof.Trace))
}

// Handler returns the routed handler, for tests that need no listener.
func (s *Server) Handler() http.Handler { return s.mux }

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.log.Info("listening", "addr", ln.Addr().String())
	if err := s.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("admin: serving on %s: %w", ln.Addr(), err)
	}
	return nil
}

// Shutdown stops the listener and waits for requests in flight until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.server.Shutdown(ctx)
}

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.healthy != nil {
		if err := s.healthy(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: %v\n", err)
			return
		}
	}
	fmt.Fprintln(w, "ok")
}

// authenticate checks the bearer token. A failure is
// logged with the client address only, never with the token sent.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !bearer.Valid(r, s.token) {
			s.log.Warn("unauthorized admin request", "path", r.URL.Path, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="dflb"`)
			http.Error(w, "missing or invalid bearer token: send Authorization: Bearer <token>, "+
				"the token in the variable that admin.token_env names or in <data-dir>/admin.token", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
