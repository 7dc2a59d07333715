package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/dflb/dflb/dfmapi"
	"github.com/dflb/dflb/internal/bearer"
)

// maxRequestBytes limits the body of an API request.
const maxRequestBytes = 1 << 20

// commandTimeout bounds the wait for a supervisor to accept a command. The
// supervisor loop only takes short steps, such as starting a process or
// writing a file, so reaching the limit means DFM is stuck.
const commandTimeout = 10 * time.Second

// Handler returns the HTTP API: GET /healthz without a token and every other
// endpoint behind "Authorization: Bearer <token>".
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+dfmapi.PathHealth, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok")
	})
	mux.Handle("GET "+dfmapi.PathStatus, a.authenticate(http.HandlerFunc(a.handleStatus)))
	mux.Handle("PUT "+dfmapi.PathTenants, a.authenticate(http.HandlerFunc(a.handleTenants)))
	mux.Handle("POST "+dfmapi.PathStart, a.authenticate(http.HandlerFunc(a.handleStart)))
	mux.Handle("POST "+dfmapi.RestartPath("{name}"), a.authenticate(a.componentHandler(cmdRestart)))
	mux.Handle("POST "+dfmapi.ResetPath("{name}"), a.authenticate(a.componentHandler(cmdReset)))
	mux.Handle("POST "+dfmapi.PathShutdown, a.authenticate(http.HandlerFunc(a.handleShutdown)))
	mux.Handle("GET "+dfmapi.PathMetrics, a.authenticate(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		a.writeMetrics(w)
	})))
	return mux
}

// authenticate checks the bearer token. A failure is
// logged with the client address only, never with the token sent.
func (a *Agent) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !bearer.Valid(r, a.token) {
			a.logger.Warn("unauthorized API request", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="dfm"`)
			writeError(w, http.StatusUnauthorized, "missing or invalid bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (a *Agent) handleStatus(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.Status())
}

func (a *Agent) handleTenants(w http.ResponseWriter, r *http.Request) {
	var req dfmapi.TenantsRequest
	if !a.decode(w, r, &req) || !a.acceptsChanges(w) {
		return
	}
	if req.Tenants == nil {
		writeError(w, http.StatusBadRequest, `missing field "tenants"; send [] to serve no tenant`)
		return
	}
	tenants, err := normalizeTenants(req.Tenants)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("field tenants: %v", err))
		return
	}
	targets, ok := a.lookup(w, req.Components)
	if !ok {
		return
	}

	if !a.commandAll(w, r, targets, cmdSetTenants, tenants) {
		return
	}
	a.logger.Info("tenant set applied", "tenants", len(tenants), "components", componentNames(targets), "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, a.Status())
}

func (a *Agent) handleStart(w http.ResponseWriter, r *http.Request) {
	var req dfmapi.StartRequest
	if !a.decode(w, r, &req) || !a.acceptsChanges(w) {
		return
	}
	var tenants []string
	if req.Tenants != nil {
		var err error
		if tenants, err = normalizeTenants(req.Tenants); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("field tenants: %v", err))
			return
		}
	}
	targets, ok := a.lookup(w, req.Components)
	if !ok {
		return
	}

	if !a.commandAll(w, r, targets, cmdStart, tenants) {
		return
	}
	a.logger.Info("components started by API request", "components", componentNames(targets), "remote", r.RemoteAddr)
	writeJSON(w, http.StatusAccepted, a.Status())
}

// componentHandler serves POST /v1/components/{name}/restart and /reset.
func (a *Agent) componentHandler(kind commandKind) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.acceptsChanges(w) {
			return
		}
		targets, ok := a.lookup(w, []string{r.PathValue("name")})
		if !ok {
			return
		}
		s := targets[0]
		if err := a.command(r.Context(), s, kind, nil); err != nil {
			a.writeCommandError(w, s, err)
			return
		}
		s.logger.Info("component command accepted", "path", r.URL.Path, "remote", r.RemoteAddr)
		writeJSON(w, http.StatusAccepted, a.Status())
	})
}

func (a *Agent) handleShutdown(w http.ResponseWriter, r *http.Request) {
	var req dfmapi.ShutdownRequest
	if r.ContentLength != 0 && !a.decode(w, r, &req) {
		return
	}
	a.logger.Info("shutdown requested by API", "deadline", time.Duration(req.Deadline).String(), "remote", r.RemoteAddr)
	a.Shutdown(time.Duration(req.Deadline))
	writeJSON(w, http.StatusAccepted, a.Status())
}

// acceptsChanges writes 503 and returns false while DFM shuts down.
func (a *Agent) acceptsChanges(w http.ResponseWriter) bool {
	if state := a.instanceState(); state != dfmapi.InstanceRunning {
		writeError(w, http.StatusServiceUnavailable, "DFM is "+string(state)+"; components can no longer be changed")
		return false
	}
	return true
}

// lookup returns the supervisors of names, or all of them for no names. It
// writes 404 naming the first unknown component.
func (a *Agent) lookup(w http.ResponseWriter, names []string) ([]*supervisor, bool) {
	if len(names) == 0 {
		return a.supervisors, true
	}
	targets := make([]*supervisor, 0, len(names))
	for _, name := range names {
		s, ok := a.byName[name]
		if !ok {
			writeError(w, http.StatusNotFound, fmt.Sprintf("unknown component %q; this instance runs %s", name, strings.Join(componentNames(a.supervisors), ", ")))
			return nil, false
		}
		targets = append(targets, s)
	}
	return targets, true
}

func (a *Agent) command(ctx context.Context, s *supervisor, kind commandKind, tenants []string) error {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	return s.send(ctx, kind, tenants)
}

// commandAll sends the command to every target in order and stops at the
// first failure, which it writes to w. It reports whether all succeeded.
func (a *Agent) commandAll(w http.ResponseWriter, r *http.Request, targets []*supervisor, kind commandKind, tenants []string) bool {
	for _, s := range targets {
		if err := a.command(r.Context(), s, kind, tenants); err != nil {
			a.writeCommandError(w, s, err)
			return false
		}
	}
	return true
}

func (a *Agent) writeCommandError(w http.ResponseWriter, s *supervisor, err error) {
	var conflict *ConflictError
	if errors.As(err, &conflict) {
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	s.logger.Error("API command failed", "error", err)
	writeError(w, http.StatusInternalServerError, fmt.Sprintf("component %q: %v", s.cfg.Name, err))
}

// decode reads a JSON body into dst and writes 400 on an error. Unknown
// fields are errors, so that a misspelt field is not silently ignored.
func (a *Agent) decode(w http.ResponseWriter, r *http.Request, dst any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil && dec.More() {
		err = errors.New("data after the JSON object")
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, dfmapi.ErrorResponse{Error: msg})
}

func componentNames(supervisors []*supervisor) []string {
	out := make([]string, len(supervisors))
	for i, s := range supervisors {
		out[i] = s.cfg.Name
	}
	return out
}

// slogErrorLog sends net/http's internal errors, such as TLS handshake or
// header read failures, to logger at debug level, because clients cause them.
func slogErrorLog(logger *slog.Logger) *log.Logger {
	return slog.NewLogLogger(logger.Handler(), slog.LevelDebug)
}
