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
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/controlplane"
	"github.com/dflb/dflb/internal/testutil"
	"github.com/dflb/dflb/provider/local"
)

// dflbProcess is a dflb program run by a test.
type dflbProcess struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has been waited for
}

func startDFLBProcess(t *testing.T, bin, config, dataDir string, env []string) *dflbProcess {
	t.Helper()
	logFile, err := os.Create(filepath.Join(dataDir, fmt.Sprintf("dflb-%d.log", time.Now().UnixNano())))
	require.NoError(t, err)
	defer logFile.Close()

	cmd := exec.Command(filepath.Join(bin, "dflb"), "-config", config, "-data-dir", dataDir)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	p := &dflbProcess{cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { p.stop() })
	return p
}

// stop ends the process with SIGTERM, then SIGKILL after 30 s. Calling
// it again, or after kill, does nothing.
func (p *dflbProcess) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.kill()
	}
}

// kill ends the process with SIGKILL, as a crash would.
func (p *dflbProcess) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// answers reports whether url responds 200 within a second.
func answers(url string) bool {
	client := http.Client{Timeout: time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// DFLB killed with SIGKILL after the provider created the instance of a
// scale-out and before the routes switched: the next start resumes the
// journaled operation, exactly one new instance exists, and every tenant
// has a route.
func TestScaleOutSurvivesSIGKILL(t *testing.T) {
	bin, err := testutil.BuildCommands("dflb")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(bin) })

	const network = "127.0.72"
	listen, admin := network+".254:8080", network+".254:9090"
	root, dataDir := t.TempDir(), t.TempDir()
	text := scaleConfig(root, network, `  enabled: true
  max_instances: 3
  overload_rps: 60
  overload_for: 1s
  warmup: 1s
  scale_out_cooldown: 5m
  scale_in_cooldown: 5m`, "i1=acme,globex")
	text = strings.Replace(text, "listen: 127.0.0.1:0", "listen: "+listen, 1)
	text = strings.Replace(text, "listen: 127.0.0.2:0", "listen: "+admin, 1)
	config := filepath.Join(t.TempDir(), "dflb.yaml")
	require.NoError(t, os.WriteFile(config, []byte(text), 0o600))
	env := append(os.Environ(), "DFLB_TEST_ADMIN_TOKEN=test-admin-token", "DFLB_TEST_DFM_SECRET=test-dfm-secret")

	p, err := local.New(local.Config{Root: root, Binary: filepath.Join(binDir, "dfm"),
		ComponentBinary: filepath.Join(binDir, "component"), Network: network,
		Components: []local.ComponentTemplate{{Name: "app", Port: 9001}}, Secret: "test-dfm-secret"},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = (&controlplane.Launcher{Provider: p}).Teardown(context.Background()) })

	first := startDFLBProcess(t, bin, config, dataDir, env)
	require.Eventually(t, func() bool { return answers("http://" + admin + "/healthz") }, time.Minute, 20*time.Millisecond)

	// Overload i1 until the scale-out has created its instance and not
	// yet switched the routes, then crash.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	l := startPacedLoad(ctx, listen, map[string]tenantRate{"acme": {clients: 2}, "globex": {clients: 1, pace: 50 * time.Millisecond}})
	require.Eventually(t, func() bool {
		st, err := fetchStatus(admin)
		return err == nil && st.Managed != nil && st.Managed.Op != nil && st.Managed.Op.Step == controlplane.StepWiden
	}, 45*time.Second, 2*time.Millisecond, "no scale-out reached its widen step")
	first.kill()
	cancel()
	l.Wait()

	db, err := controlplane.OpenDB(filepath.Join(dataDir, stateFile))
	require.NoError(t, err)
	crashed, err := db.LoadState()
	require.NoError(t, err)
	require.NoError(t, db.Close())
	require.NotNil(t, crashed.Op, "the crash should fall inside the scale-out")
	require.True(t, crashed.Op.Switched.IsZero(), "the crash should fall before the switch")
	t.Logf("killed at step %s of operation %d (%s)", crashed.Op.Step, crashed.Op.ID, crashed.Op.Reason)

	second := startDFLBProcess(t, bin, config, dataDir, env)
	require.Eventually(t, func() bool { return answers("http://" + admin + "/healthz") }, time.Minute, 20*time.Millisecond)

	var final *controlplane.State
	require.Eventually(t, func() bool {
		st, err := fetchStatus(admin)
		if err != nil || st.Managed == nil || st.Managed.Op != nil {
			return false
		}
		final = st.Managed
		return true
	}, 60*time.Second, 100*time.Millisecond, "the resumed operation did not end")
	second.stop()

	listed, err := p.List(context.Background())
	require.NoError(t, err)
	var names []string
	for _, inst := range listed {
		names = append(names, inst.Name)
	}
	slices.Sort(names)
	assert.Equal(t, slices.Sorted(maps.Keys(final.Instances)), names, "the provider and the state list the same instances")
	assert.LessOrEqual(t, len(names), 2, "no instance created twice")

	placed := map[string]bool{}
	for _, r := range final.Instances {
		for _, tenant := range r.Tenants {
			placed[tenant] = true
		}
	}
	assert.True(t, placed["acme"] && placed["globex"], "every tenant keeps a route: %v", final.Instances)
	t.Logf("after the restart: instances %v", names)
}

// fetchStatus reads the admin API's status of the dflb on admin.
func fetchStatus(admin string) (controlplane.Status, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+admin+statusPath, nil)
	if err != nil {
		return controlplane.Status{}, err
	}
	req.Header.Set("Authorization", "Bearer test-admin-token")
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return controlplane.Status{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return controlplane.Status{}, fmt.Errorf("status %s", resp.Status)
	}
	var st controlplane.Status
	return st, json.NewDecoder(resp.Body).Decode(&st)
}
