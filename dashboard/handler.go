package dashboard

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// Handler returns the dashboard: the page and its files, which are open,
// and the data endpoints, which check src.TokenValid themselves.
//
// Paths are relative to where the caller mounts it. Mounted under a
// prefix, strip it first:
//
//	admin.HandleSelfAuthenticated("GET /", h)
//	admin.HandleSelfAuthenticated("GET /dashboard/", http.StripPrefix("/dashboard", h))
//
// The page loads everything through relative URLs, so it works under any
// prefix that ends in a slash. It returns 404 for paths it does not serve,
// which matters when it is mounted at "/".
//
// Handler panics when src.Status or src.TokenValid is nil, because a
// dashboard without data or without authentication is a wiring mistake.
func Handler(src Source) http.Handler {
	if src.Status == nil {
		panic("dashboard: Source.Status is nil")
	}
	if src.TokenValid == nil {
		panic("dashboard: Source.TokenValid is nil; the data endpoints need the admin token check")
	}
	if src.EventInterval <= 0 {
		src.EventInterval = defaultEventInterval
	}
	if src.MaxStreams <= 0 {
		src.MaxStreams = defaultMaxStreams
	}
	if src.Logger == nil {
		src.Logger = slog.Default()
	}
	d := &dashboard{
		src:     src,
		log:     src.Logger.With("logger", "dashboard"),
		streams: make(chan struct{}, src.MaxStreams),
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", serveIndex)
	mux.Handle("GET /static/", http.StripPrefix("/static", http.HandlerFunc(serveStatic)))
	mux.Handle("GET /api/snapshot", d.authenticate(http.HandlerFunc(d.handleSnapshot)))
	mux.Handle("GET /api/history", d.authenticate(http.HandlerFunc(d.handleHistory)))
	mux.Handle("GET /api/events", d.authenticate(http.HandlerFunc(d.handleEvents)))
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "not found: the dashboard serves /, /static/ and /api/")
	})
	return mux
}

type dashboard struct {
	src Source
	log *slog.Logger
	// streams holds one token per open event stream.
	streams chan struct{}
}

// authenticate rejects a request with 401 unless src.TokenValid accepts
// it. It logs the path and client address, never the credentials sent.
func (d *dashboard) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !d.src.TokenValid(r) {
			d.log.Warn("unauthorized dashboard request", "path", r.URL.Path, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="dflb"`)
			writeError(w, http.StatusUnauthorized, "missing or invalid admin token: send Authorization: Bearer <token>")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (d *dashboard) snapshot() snapshot {
	var alerts any
	if d.src.Alerts != nil {
		alerts = d.src.Alerts()
	}
	charted := []string{}
	if d.src.History != nil {
		charted = d.src.History.trackedTenants()
	}
	return buildSnapshot(d.src.Status(), alerts, charted)
}

func (d *dashboard) handleSnapshot(w http.ResponseWriter, _ *http.Request) {
	d.writeJSON(w, http.StatusOK, d.snapshot())
}

// handleHistory serves the series that the query parameters select:
// tenant and instance name one series each, and since (Unix milliseconds)
// keeps only later points. Without tenant and instance, every series is
// returned.
func (d *dashboard) handleHistory(w http.ResponseWriter, r *http.Request) {
	if d.src.History == nil {
		writeError(w, http.StatusNotFound, "no history: the dashboard was started without one")
		return
	}
	q := historyQuery{Tenant: r.FormValue("tenant"), Instance: r.FormValue("instance")}
	if s := r.FormValue("since"); s != "" {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid since "+strconv.Quote(s)+": expected Unix milliseconds")
			return
		}
		q.Since = time.UnixMilli(ms)
	}

	data, ok := d.src.History.query(q)
	if !ok {
		writeError(w, http.StatusNotFound, "no series for that tenant or instance: the history keeps the "+
			strconv.Itoa(data.TopTenants)+" tenants with the highest request rate")
		return
	}
	d.writeJSON(w, http.StatusOK, data)
}

func (d *dashboard) writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		d.log.Debug("writing dashboard response failed", "error", err)
	}
}

// writeError sends {"error": message}.
func writeError(w http.ResponseWriter, code int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	body, _ := json.Marshal(map[string]string{"error": message})
	_, _ = w.Write(append(body, '\n'))
}
