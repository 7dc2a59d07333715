package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dflb/dflb/config"
	"github.com/dflb/dflb/controlplane"
)

// statusPath is the admin API endpoint of the operator's view.
const statusPath = "/v1/status"

// recentNotifications is how many of DFM's latest notifications the status
// shows.
const recentNotifications = 20

// recentDecisions is how many of the control plane's latest decisions the
// status shows.
const recentDecisions = 30

// handleStatus serves the operator's view as JSON.
func (a *app) handleStatus(w http.ResponseWriter, _ *http.Request) {
	st := a.buildStatus()
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(st); err != nil {
		a.log.Debug("writing status response failed", "error", err)
	}
}

// buildStatus assembles the operator's view of this process.
func (a *app) buildStatus() controlplane.Status {
	specs := a.specs.Load()
	st := controlplane.BuildStatus(time.Now(), *specs, a.pool.Backends(), a.window.Rates(),
		a.notifications.Recent(recentNotifications))
	if c := a.instances.controller; c != nil {
		st.Managed = c.State()
		st.Decisions = c.Decisions(recentDecisions)
	}
	return st
}

// showStatus requests the status of a running dflb and prints it as tables.
// The admin token comes from the variable admin.token_env names or from
// <data-dir>/admin.token, as the running dflb has it.
func showStatus(configPath, dataDir string, _ *slog.Logger) error {
	cfg, err := config.Load(configPath)
	if err != nil {
		return err
	}
	token := os.Getenv(cfg.Admin.TokenEnv)
	if token == "" {
		data, err := os.ReadFile(filepath.Join(dataDir, "admin.token"))
		if err != nil {
			return fmt.Errorf("no admin token: set %s or pass the -data-dir of the running dflb: %w", cfg.Admin.TokenEnv, err)
		}
		token = strings.TrimSpace(string(data))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "http://" + cfg.Admin.Listen + statusPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("building status request for %s: %w", url, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("requesting %s: %w (is dflb running with this configuration?)", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("requesting %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}

	var st controlplane.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return fmt.Errorf("decoding status from %s: %w", url, err)
	}
	return printStatus(os.Stdout, st)
}

// printStatus writes st as three tables: instances, tenants and recent
// notifications.
func printStatus(out io.Writer, st controlplane.Status) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "INSTANCE\tBACKENDS\tREQ/S\tTENANTS\n")
	for _, inst := range st.Instances {
		var backends []string
		for _, b := range inst.Backends {
			state := "up"
			if !b.Up {
				state = "DOWN"
			}
			backends = append(backends, fmt.Sprintf("%s %s %s", b.Component, b.Addr, state))
		}
		fmt.Fprintf(w, "%s\t%s\t%.1f\t%s\n", inst.ID, strings.Join(backends, "; "), inst.Traffic.RequestsPerSecond, strings.Join(inst.Tenants, ", "))
	}

	fmt.Fprintf(w, "\nTENANT\tINSTANCES\tREQ/S\tERRORS/S\tP99\n")
	for _, t := range st.Tenants {
		fmt.Fprintf(w, "%s\t%s\t%.1f\t%.1f\t%s\n", t.Tenant, strings.Join(t.Instances, ", "),
			t.Traffic.RequestsPerSecond, t.Traffic.ErrorsPerSecond, time.Duration(t.Traffic.P99).Round(10*time.Microsecond))
	}

	fmt.Fprintf(w, "\nTIME\tINSTANCE\tNOTIFICATION\tCOMPONENT\tREASON\n")
	for _, n := range st.Notifications {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", n.Time.Format(time.TimeOnly), n.Instance, n.Kind, n.Component, n.Reason)
	}
	if st.Managed != nil {
		fmt.Fprintf(w, "\nMANAGED\tPHASE\tORIGIN\tTENANTS\tGUESTS\n")
		for _, name := range slices.Sorted(maps.Keys(st.Managed.Instances)) {
			r := st.Managed.Instances[name]
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", name, r.Phase, r.Origin, strings.Join(r.Tenants, ", "), strings.Join(r.Guests, ", "))
		}
		if op := st.Managed.Op; op != nil {
			fmt.Fprintf(w, "\noperation %d (%s) at step %s: %s\n", op.ID, op.Kind, op.Step, op.Reason)
		}
	}
	if len(st.Decisions) > 0 {
		fmt.Fprintf(w, "\nTIME\tDECISION\tINSTANCE\tOBSERVED\tDECIDED\tTOOK\n")
		for _, d := range st.Decisions {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", d.Time.Format(time.TimeOnly), d.Kind, d.Instance, d.Observed, d.Decided,
				time.Duration(d.Took).Round(time.Millisecond))
		}
	}
	fmt.Fprintf(w, "\nrates over the last %s\n", time.Duration(st.Window).Round(time.Second))
	return w.Flush()
}
