package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/controlplane"
	"github.com/dflb/dflb/demo"
)

// scaleConfig is a configuration for the local provider on network with
// the autoscale section given, indented by two spaces, and one instance
// per entry of layout ("i1=acme,globex").
func scaleConfig(root, network, autoscale string, layout ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `listen: 127.0.0.1:0
admin:
  listen: 127.0.0.2:0
  token_env: DFLB_TEST_ADMIN_TOKEN
provider:
  kind: local
  secret_env: DFLB_TEST_DFM_SECRET
  local:
    root: %s
    dfm_binary: %s
    component_binary: %s
    network: %s
    components:
      - {name: app, port: 9001}
autoscale:
%s
instances:
`, root, filepath.Join(binDir, "dfm"), filepath.Join(binDir, "component"), network, autoscale)
	for _, entry := range layout {
		id, tenants, _ := strings.Cut(entry, "=")
		fmt.Fprintf(&b, "  - id: %s\n    tenants: [%s]\n", id, tenants)
	}
	return b.String()
}

// startApp runs dflb with text as its configuration and dataDir as its
// data directory. stop ends run as a signal would and returns run's error.
// It runs at the end of the test too, and then whatever instances are left
// are deleted.
func startApp(t *testing.T, text, dataDir string, downOnExit bool) (a *app, stop func() error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dflb.yaml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	t.Setenv("DFLB_TEST_ADMIN_TOKEN", "test-admin-token")
	t.Setenv("DFLB_TEST_DFM_SECRET", "test-dfm-secret")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	a, err := newApp(ctx, path, dataDir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	a.downOnExit = downOnExit
	t.Cleanup(func() { assert.NoError(t, a.instances.teardown(context.Background())) })

	runCtx, stopRun := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.run(runCtx, make(chan os.Signal)) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			stopRun()
			runErr = <-done
		})
		return runErr
	}
	t.Cleanup(func() { assert.NoError(t, stop()) })
	return a, stop
}

// startScaleApp runs dflb with text as its configuration until the test
// ends, then stops it and deletes its instances.
func startScaleApp(t *testing.T, text string) *app {
	t.Helper()
	a, _ := startApp(t, text, t.TempDir(), false)
	return a
}

// tenantRate is the load of one tenant: clients that each wait pace
// between requests.
type tenantRate struct {
	clients int
	pace    time.Duration
}

// startPacedLoad starts a load for each tenant in rates until ctx ends.
func startPacedLoad(ctx context.Context, addr string, rates map[string]tenantRate) *demo.Load {
	l := demo.NewLoad(addr)
	for tenant, r := range rates {
		l.Start(ctx, tenant, r.clients, r.pace)
	}
	return l
}

// stopLoad ends the load and checks that no request failed or was
// misrouted.
func stopLoad(t *testing.T, l *demo.Load, cancel context.CancelFunc) {
	t.Helper()
	cancel()
	l.Wait()
	sent, failed, misrouted := l.Summary()
	t.Logf("requests: %d sent, %d failed, %d misrouted (last failure: %q)", sent, failed, misrouted, l.LastFailure())
	assert.Positive(t, sent)
	assert.Zero(t, failed)
	assert.Zero(t, misrouted)
}

// placement returns the tenants of each instance in the control plane's
// state.
func placement(a *app) map[string][]string {
	out := map[string][]string{}
	for name, r := range a.instances.controller.State().Instances {
		out[name] = r.Tenants
	}
	return out
}

// logDecisions writes the control plane's decisions to the test log.
func logDecisions(t *testing.T, a *app) {
	for _, d := range a.instances.controller.Decisions(50) {
		t.Logf("decision %s %s: %s (%s) took %s", d.Kind, d.Instance, d.Decided, d.Observed, time.Duration(d.Took))
	}
}

// switchTook returns how long the operation of kind took from its trigger
// to its new routes.
func switchTook(a *app, kind controlplane.OpKind) (time.Duration, bool) {
	var op uint64
	for _, d := range a.instances.controller.Decisions(200) {
		if d.Kind == string(kind) {
			op = d.Op
		}
		if d.Kind == "switch" && d.Op == op && op != 0 {
			return time.Duration(d.Took), true
		}
	}
	return 0, false
}

// Situation 2: an overloaded instance under load. DFLB moves the heaviest
// tenant to a new instance, and no request fails or is misrouted.
func TestScaleOutUnderLoad(t *testing.T) {
	a := startScaleApp(t, scaleConfig(t.TempDir(), "127.0.69", `  enabled: true
  max_instances: 3
  overload_rps: 60
  overload_for: 2s
  warmup: 2s
  scale_out_cooldown: 5m
  scale_in_cooldown: 5m`, "i1=acme,globex,initech"))
	addr := a.proxyLn.Addr().String()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l := startPacedLoad(ctx, addr, map[string]tenantRate{
		"acme":    {clients: 4},
		"globex":  {clients: 1, pace: 50 * time.Millisecond},
		"initech": {clients: 1, pace: 100 * time.Millisecond},
	})

	require.Eventually(t, func() bool {
		p := placement(a)
		return len(p) == 2 && slices.Equal(p["i2"], []string{"acme"})
	}, 45*time.Second, 100*time.Millisecond, "acme did not move to a new instance: %v", placement(a))
	time.Sleep(time.Second) // keep loading past the narrowing of i1
	stopLoad(t, l, cancel)
	logDecisions(t, a)

	assert.Equal(t, []string{"globex", "initech"}, placement(a)["i1"])
	took, ok := switchTook(a, controlplane.OpScaleOut)
	require.True(t, ok, "no switch decision for the scale-out")
	t.Logf("scale-out: trigger to new routing %s", took.Round(time.Millisecond))

	status, inst, err := served(addr, "acme")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "i2", inst)
}

// Situation 3: two low-used instances. DFLB moves one's tenants to the
// other, drains it, shuts it down and deletes it, and no request fails.
func TestScaleInUnderLoad(t *testing.T) {
	root := t.TempDir()
	a := startScaleApp(t, scaleConfig(root, "127.0.70", `  enabled: true
  min_instances: 1
  overload_rps: 1000
  low_rps: 40
  low_for: 3s
  warmup: 2s
  scale_in_cooldown: 1s
  drain_timeout: 5s
  shutdown_timeout: 10s`, "i1=acme,globex", "i2=initech"))
	addr := a.proxyLn.Addr().String()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l := startPacedLoad(ctx, addr, map[string]tenantRate{
		"acme":    {clients: 1, pace: 100 * time.Millisecond},
		"globex":  {clients: 1, pace: 100 * time.Millisecond},
		"initech": {clients: 1, pace: 100 * time.Millisecond},
	})

	require.Eventually(t, func() bool { return len(placement(a)) == 1 }, 45*time.Second, 100*time.Millisecond,
		"no instance was removed: %v", placement(a))
	time.Sleep(time.Second)
	stopLoad(t, l, cancel)
	logDecisions(t, a)

	for name, tenants := range placement(a) {
		assert.Equal(t, []string{"acme", "globex", "initech"}, tenants, "tenants of %s", name)
	}
	took, ok := switchTook(a, controlplane.OpScaleIn)
	require.True(t, ok, "no switch decision for the scale-in")
	t.Logf("scale-in: trigger to new routing %s", took.Round(time.Millisecond))

	listed, err := a.instances.launcher.Provider.List(context.Background())
	require.NoError(t, err)
	assert.Len(t, listed, 1, "the provider still lists the removed instance")
}
