package controlplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Admin API paths of the control plane. The admin listener checks the
// admin token before these handlers run.
const (
	CancelPath    = "/v1/operations/cancel"
	DecisionsPath = "/v1/decisions"
)

// ServeCancel cancels the running scale-in: 200 with the operation, or
// 409 when none runs or it is past its shutdown command.
func (c *Controller) ServeCancel(w http.ResponseWriter, r *http.Request) {
	reason := r.URL.Query().Get("reason")
	if reason == "" {
		reason = "cancelled through the admin API"
	}
	if err := c.Cancel(reason); err != nil {
		status := http.StatusConflict
		if !errors.Is(err, ErrNotCancellable) {
			status = http.StatusInternalServerError
		}
		writeJSON(w, status, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"cancelled": c.State().Op})
}

// ServeDecisions lists the persisted decisions, oldest first, filtered by
// the query parameters kind (exact), instance (exact), since and until
// (RFC 3339 times) and limit (default 100, at most 1000).
func (c *Controller) ServeDecisions(w http.ResponseWriter, r *http.Request) {
	f, err := parseDecisionFilter(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}

	var all []Decision
	if c.DB != nil {
		all, err = c.DB.Decisions(decisionLimit)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
	} else {
		all = c.Decisions(recentDecisions)
	}

	out := []Decision{}
	for _, d := range all {
		if f.match(d) {
			out = append(out, d)
		}
	}
	if len(out) > f.limit {
		out = out[len(out)-f.limit:]
	}
	writeJSON(w, http.StatusOK, out)
}

type decisionFilter struct {
	kind, instance string
	since, until   time.Time
	limit          int
}

func parseDecisionFilter(r *http.Request) (decisionFilter, error) {
	q := r.URL.Query()
	f := decisionFilter{kind: q.Get("kind"), instance: q.Get("instance"), limit: 100}
	for _, key := range []string{"since", "until"} {
		v := q.Get(key)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return f, fmt.Errorf("invalid %s %q: write an RFC 3339 time such as 2026-01-02T15:04:05Z", key, v)
		}
		if key == "since" {
			f.since = t
		} else {
			f.until = t
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > decisionLimit {
			return f, fmt.Errorf("invalid limit %q: use a number from 1 to %d", v, decisionLimit)
		}
		f.limit = n
	}
	return f, nil
}

func (f decisionFilter) match(d Decision) bool {
	switch {
	case f.kind != "" && d.Kind != f.kind:
		return false
	case f.instance != "" && d.Instance != f.instance:
		return false
	case !f.since.IsZero() && d.Time.Before(f.since):
		return false
	case !f.until.IsZero() && d.Time.After(f.until):
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
