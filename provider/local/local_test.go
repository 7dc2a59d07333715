package local

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/dfmapi"
	"github.com/dflb/dflb/provider"
)

// testSecret is distinctive, so that a search of files and logs for it
// has no false hits.
const testSecret = "local-test-secret-9f2c41d7"

// harness runs providers on one root directory and deletes every instance
// when the test ends, also after a failure.
type harness struct {
	t    *testing.T
	cfg  Config
	logs *syncBuffer
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	requireBinaries(t)
	h := &harness{
		t: t,
		cfg: Config{
			Root:            t.TempDir(),
			Binary:          dfmBinary,
			ComponentBinary: componentBinary,
			Network:         testNetwork,
			Components: []ComponentTemplate{{
				Name:  "app",
				Port:  9001,
				Args:  []string{"-shutdown-grace", "1s"},
				Grace: 2 * time.Second,
			}},
			StopTimeout:   10 * time.Second,
			HealthTimeout: 500 * time.Millisecond,
		},
		logs: &syncBuffer{},
	}
	t.Cleanup(h.deleteAll)
	return h
}

// provider returns a new Provider on the harness's root, as a restarted
// DFLB would create it.
func (h *harness) provider(secret string) *Provider {
	h.t.Helper()
	cfg := h.cfg
	cfg.Secret = secret
	logger := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, err := New(cfg, logger)
	require.NoError(h.t, err)
	return p
}

func (h *harness) spec(name string) provider.Spec {
	return provider.Spec{Name: name, Tags: []string{"test"}, Bootstrap: provider.Bootstrap{Secret: testSecret}}
}

func (h *harness) deleteAll() {
	p := h.provider(testSecret)
	entries, _ := os.ReadDir(h.cfg.Root)
	for _, entry := range entries {
		if !entry.IsDir() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		if err := p.Delete(ctx, entry.Name()); err != nil {
			h.t.Errorf("cleanup: %v", err)
		}
		cancel()
	}
	if h.t.Failed() {
		h.t.Logf("provider log:\n%s", h.logs)
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func client(inst provider.Instance) *dfmapi.Client {
	return &dfmapi.Client{BaseURL: inst.DFMURL, Token: testSecret, HTTP: dfmapi.NewRetryClient(nil)}
}

// waitComponentUp polls DFM's status until the component is up and
// returns that status.
func waitComponentUp(t *testing.T, inst provider.Instance, name string) dfmapi.ComponentStatus {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		status, err := client(inst).Status(ctx)
		cancel()
		if err == nil {
			if c, ok := status.Component(name); ok && c.State == dfmapi.ComponentUp {
				return c
			}
			last = "status " + string(status.State)
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("component %s of %s not up within 15s: %s", name, inst.Name, last)
	return dfmapi.ComponentStatus{}
}

// instancePIDs returns DFM's PID and every running process of the
// instance, read the way a user would: from the pid files and /proc.
func instancePIDs(t *testing.T, p *Provider, name string) (int, []int) {
	t.Helper()
	ps := p.findProcesses(name)
	return ps.dfm, ps.all()
}

// healthz sends one GET /healthz with the given timeout.
func healthz(inst provider.Instance, timeout time.Duration) error {
	c := http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(inst.DFMURL + "/healthz")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

// dfmProcessCount counts running processes whose command line names the
// configuration file.
func dfmProcessCount(configPath string) int {
	entries, _ := os.ReadDir("/proc")
	count := 0
	for _, entry := range entries {
		pid, err := strconv.Atoi(entry.Name())
		if err == nil && running(pid) && slices.Contains(cmdline(pid), configPath) && isDFM(pid, configPath) {
			count++
		}
	}
	return count
}

func assertNotRunning(t *testing.T, pids []int) {
	t.Helper()
	for _, pid := range pids {
		assert.False(t, running(pid), "PID %d (%v) still runs", pid, cmdline(pid))
	}
}

// assertNoSecret checks every file under root and the provider's log.
func assertNoSecret(t *testing.T, root string, logs *syncBuffer) {
	t.Helper()
	checked := 0
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		checked++
		assert.NotContains(t, string(data), testSecret, "secret in %s", path)
		return nil
	})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, checked, 3, "expected at least dfm.yaml, dfm.log and instance.json under %s", root)
	assert.NotContains(t, logs.String(), testSecret, "secret in the provider log")
}

func TestLifecycleTwoInstances(t *testing.T) {
	h := newHarness(t)
	ctx := testContext(t)
	first := h.provider("")

	a, err := first.Create(ctx, h.spec("a"))
	require.NoError(t, err)
	b, err := first.Create(ctx, h.spec("b"))
	require.NoError(t, err)

	assert.Equal(t, testNetwork+".1", a.Address)
	assert.Equal(t, testNetwork+".2", b.Address)
	assert.Equal(t, "http://"+testNetwork+".2:7070", b.DFMURL)
	assert.Equal(t, provider.StateActive, a.State)
	assert.Equal(t, "a", a.ID)
	assert.Equal(t, []string{"test"}, a.Tags)
	for _, file := range []string{"dfm.yaml", "dfm.log", "dfm.pid", "instance.json"} {
		assert.FileExists(t, filepath.Join(h.cfg.Root, "a", file))
	}
	appA := waitComponentUp(t, a, "app")
	waitComponentUp(t, b, "app")
	assert.Equal(t, 9001, appA.Port)

	// A restarted DFLB finds both instances.
	fresh := h.provider(testSecret)
	list, err := fresh.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, "a", list[0].Name)
	assert.Equal(t, a.Address, list[0].Address)
	assert.Equal(t, a.Created, list[0].Created)
	assert.Equal(t, provider.StateActive, list[0].State)
	assert.Equal(t, "b", list[1].Name)
	assert.Equal(t, provider.StateActive, list[1].State)

	oldDFM, oldPIDs := instancePIDs(t, fresh, "b")
	require.NotZero(t, oldDFM)
	require.NoError(t, fresh.Restart(ctx, "b"))

	newDFM, _ := instancePIDs(t, fresh, "b")
	assert.NotZero(t, newDFM)
	assert.NotEqual(t, oldDFM, newDFM, "DFM PID unchanged after restart")
	assertNotRunning(t, oldPIDs)
	app := waitComponentUp(t, b, "app")
	assert.NotZero(t, app.PID)
	assert.NotContains(t, oldPIDs, app.PID)
	restarted, err := fresh.Get(ctx, "b")
	require.NoError(t, err)
	assert.Equal(t, provider.StateActive, restarted.State)
	assert.Equal(t, b.Address, restarted.Address)

	assertNoSecret(t, h.cfg.Root, h.logs)

	_, pidsA := instancePIDs(t, fresh, "a")
	_, pidsB := instancePIDs(t, fresh, "b")
	require.NoError(t, fresh.Delete(ctx, "a"))
	require.NoError(t, fresh.Delete(ctx, "b"))

	assertNotRunning(t, append(pidsA, pidsB...))
	assert.NoDirExists(t, filepath.Join(h.cfg.Root, "a"))
	assert.NoDirExists(t, filepath.Join(h.cfg.Root, "b"))
	list, err = fresh.List(ctx)
	require.NoError(t, err)
	assert.Empty(t, list)
	_, err = fresh.Get(ctx, "a")
	assert.ErrorIs(t, err, provider.ErrNotFound)
	assert.NoError(t, fresh.Delete(ctx, "a"), "deleting a deleted instance")
}

func TestCreateIdempotent(t *testing.T) {
	h := newHarness(t)
	ctx := testContext(t)
	p := h.provider("")

	// Concurrent calls run one at a time, and the later ones find the
	// instance that the first one created.
	results := make([]provider.Instance, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() { results[i], errs[i] = p.Create(ctx, h.spec("x")) })
	}
	wg.Wait()
	dfm, _ := instancePIDs(t, p, "x")
	again, err := p.Create(ctx, h.spec("x"))
	require.NoError(t, err)
	dfmAfter, _ := instancePIDs(t, p, "x")

	for i := range results {
		require.NoError(t, errs[i], "call %d", i)
		assert.Equal(t, again, results[i], "call %d", i)
	}
	assert.Equal(t, provider.StateActive, again.State)
	assert.Equal(t, dfm, dfmAfter, "DFM restarted by a repeated Create")
	assert.Equal(t, 1, dfmProcessCount(p.configPath("x")))
	list, err := p.List(ctx)
	require.NoError(t, err)
	assert.Len(t, list, 1)
}

func TestKillLeavesNoProcess(t *testing.T) {
	h := newHarness(t)
	ctx := testContext(t)
	p := h.provider("")
	inst, err := p.Create(ctx, h.spec("k"))
	require.NoError(t, err)
	waitComponentUp(t, inst, "app")
	dfm, pids := instancePIDs(t, p, "k")
	require.GreaterOrEqual(t, len(pids), 2, "expected DFM and its component")

	require.NoError(t, p.Kill(ctx, "k"))

	assertNotRunning(t, pids)
	got, err := p.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, provider.StateOff, got.State)
	assert.NoFileExists(t, p.pidPath("k"))

	// Create starts a killed instance again at the same address.
	again, err := p.Create(ctx, h.spec("k"))
	require.NoError(t, err)
	newDFM, _ := instancePIDs(t, p, "k")
	assert.Equal(t, provider.StateActive, again.State)
	assert.Equal(t, inst.Address, again.Address)
	assert.NotEqual(t, dfm, newDFM)
	waitComponentUp(t, again, "app")
	assertNoSecret(t, h.cfg.Root, h.logs)
}

func TestHangAndResume(t *testing.T) {
	h := newHarness(t)
	ctx := testContext(t)
	p := h.provider("")
	inst, err := p.Create(ctx, h.spec("h"))
	require.NoError(t, err)
	waitComponentUp(t, inst, "app")

	require.NoError(t, p.Hang(ctx, "h"))

	err = healthz(inst, 500*time.Millisecond)
	var netErr net.Error
	require.ErrorAs(t, err, &netErr, "healthz of a hung DFM: %v", err)
	assert.True(t, netErr.Timeout(), "healthz error is not a timeout: %v", err)
	_, pids := instancePIDs(t, p, "h")
	for _, pid := range pids {
		st, err := readStat(pid)
		require.NoError(t, err)
		assert.Equal(t, byte('T'), st.state, "PID %d not stopped", pid)
	}
	hung, err := p.Get(ctx, "h")
	require.NoError(t, err)
	assert.Equal(t, provider.StateUnknown, hung.State)

	require.NoError(t, p.Resume(ctx, "h"))

	assert.Eventually(t, func() bool { return healthz(inst, 500*time.Millisecond) == nil }, 5*time.Second, 50*time.Millisecond)
	waitComponentUp(t, inst, "app")
	resumed, err := p.Get(ctx, "h")
	require.NoError(t, err)
	assert.Equal(t, provider.StateActive, resumed.State)
}

func TestDeleteHungInstance(t *testing.T) {
	h := newHarness(t)
	ctx := testContext(t)
	p := h.provider("")
	inst, err := p.Create(ctx, h.spec("frozen"))
	require.NoError(t, err)
	waitComponentUp(t, inst, "app")
	_, pids := instancePIDs(t, p, "frozen")
	require.NoError(t, p.Hang(ctx, "frozen"))

	start := time.Now()
	require.NoError(t, p.Delete(ctx, "frozen"))

	// SIGCONT after SIGTERM lets DFM stop gracefully instead of waiting
	// for StopTimeout.
	assert.Less(t, time.Since(start), h.cfg.StopTimeout)
	assertNotRunning(t, pids)
	assert.NoDirExists(t, filepath.Join(h.cfg.Root, "frozen"))
}

func TestCreateFailsWhenDFMExits(t *testing.T) {
	h := newHarness(t)
	h.cfg.Binary = writeScript(t, "echo 'dfm: invalid configuration' >&2; exit 2")
	p := h.provider("")

	_, err := p.Create(testContext(t), h.spec("broken"))

	require.Error(t, err)
	assert.ErrorIs(t, err, provider.ErrPermanent)
	assert.ErrorContains(t, err, "broken")
	assert.ErrorContains(t, err, "exit status 2")
	assert.ErrorContains(t, err, p.logPath("broken"))
	log, readErr := os.ReadFile(p.logPath("broken"))
	require.NoError(t, readErr)
	assert.Contains(t, string(log), "dfm: invalid configuration")
}

func TestCreateTimeoutKillsDFM(t *testing.T) {
	h := newHarness(t)
	// A DFM that starts a child and never responds to /healthz.
	h.cfg.Binary = writeScript(t, "sleep 60 & exec sleep 60")
	p := h.provider("")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()

	start := time.Now()
	_, err := p.Create(ctx, h.spec("slow"))

	require.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second, "Create ignored its context")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, provider.ErrTransient)
	assert.ErrorContains(t, err, "slow")
	assert.ErrorContains(t, err, p.logPath("slow"))
	ps := p.findProcesses("slow")
	assert.True(t, ps.empty(), "left running: %+v", ps)
	got, err := p.Get(context.Background(), "slow")
	require.NoError(t, err)
	assert.Equal(t, provider.StateOff, got.State)
}

// writeScript writes an executable shell script that a test runs in place
// of dfm.
func writeScript(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fake-dfm")
	require.NoError(t, os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755))
	return path
}

func TestSecretOnlyInEnvironment(t *testing.T) {
	h := newHarness(t)
	ctx := testContext(t)
	p := h.provider("")
	inst, err := p.Create(ctx, h.spec("s"))
	require.NoError(t, err)
	waitComponentUp(t, inst, "app")
	dfm, pids := instancePIDs(t, p, "s")

	for _, pid := range pids {
		assert.NotContains(t, strings.Join(cmdline(pid), " "), testSecret, "secret in the arguments of PID %d", pid)
	}
	env, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(dfm), "environ"))
	require.NoError(t, err)
	assert.Contains(t, string(env), tokenEnv+"="+testSecret)

	require.NoError(t, p.Restart(ctx, "s"))
	waitComponentUp(t, inst, "app")
	assertNoSecret(t, h.cfg.Root, h.logs)
}
