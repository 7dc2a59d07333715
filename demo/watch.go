package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/dflb/dflb/controlplane"
)

// watcher polls DFLB's status and prints every new decision once.
type watcher struct {
	url     string
	token   string
	out     io.Writer
	started time.Time

	mu        sync.Mutex
	seen      map[string]bool
	decisions []controlplane.Decision
	last      controlplane.Status
}

func (w *watcher) status(ctx context.Context) (controlplane.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.url, nil)
	if err != nil {
		return controlplane.Status{}, err
	}
	req.Header.Set("Authorization", "Bearer "+w.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return controlplane.Status{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return controlplane.Status{}, fmt.Errorf("status %s from %s", resp.Status, w.url)
	}
	var st controlplane.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return controlplane.Status{}, fmt.Errorf("decoding status: %w", err)
	}
	return st, nil
}

// run polls every 250 ms until ctx ends.
func (w *watcher) run(ctx context.Context) {
	for ctx.Err() == nil {
		if st, err := w.status(ctx); err == nil {
			w.record(st)
		}
		_ = sleep(ctx, 250*time.Millisecond)
	}
}

func (w *watcher) record(st controlplane.Status) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen == nil {
		w.seen = map[string]bool{}
	}
	w.last = st
	for _, d := range st.Decisions {
		key := fmt.Sprintf("%d %s %s %s", d.Time.UnixNano(), d.Kind, d.Instance, d.Decided)
		if w.seen[key] {
			continue
		}
		w.seen[key] = true
		w.decisions = append(w.decisions, d)
		w.print(d)
	}
}

func (w *watcher) print(d controlplane.Decision) {
	at := d.Time.Sub(w.started).Seconds()
	line := fmt.Sprintf("   [%6.1fs] %-18s %-4s %s", at, d.Kind, d.Instance, d.Decided)
	if d.Observed != "" {
		line += " | observed: " + d.Observed
	}
	if d.Reason != "" {
		line += " | why: " + d.Reason
	}
	if d.Took > 0 {
		line += " | took " + time.Duration(d.Took).Round(time.Millisecond).String()
	}
	fmt.Fprintln(w.out, line)
}

// waitFor waits until a decision of kind made after since appears, and
// returns it.
func (w *watcher) waitFor(ctx context.Context, kind string, since time.Time, timeout time.Duration) (controlplane.Decision, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		w.mu.Lock()
		for _, d := range w.decisions {
			if d.Kind == kind && !d.Time.Before(since) {
				w.mu.Unlock()
				return d, nil
			}
		}
		w.mu.Unlock()
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return controlplane.Decision{}, err
		}
	}
	return controlplane.Decision{}, fmt.Errorf("no %s decision within %s: %w", kind, timeout, errTimeout)
}

// placement returns the tenants of each managed instance as last polled.
func (w *watcher) placement() map[string][]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string][]string{}
	if w.last.Managed == nil {
		return out
	}
	for name, r := range w.last.Managed.Instances {
		out[name] = r.Tenants
	}
	return out
}

// instanceOf returns the instance whose tenants include tenant.
func (w *watcher) instanceOf(tenant string) string {
	for name, tenants := range w.placement() {
		for _, t := range tenants {
			if t == tenant {
				return name
			}
		}
	}
	return ""
}

// describePlacement writes the placement as "i1: acme, globex; i2: ...".
func (w *watcher) describePlacement() string {
	p := w.placement()
	var parts []string
	for _, name := range sortedKeys(p) {
		parts = append(parts, name+": "+strings.Join(p[name], ", "))
	}
	return strings.Join(parts, "; ")
}
