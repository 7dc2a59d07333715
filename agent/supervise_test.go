package agent

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/dfmapi"
)

func TestKilledComponentRestarts(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, testToken)
	h := startAgent(t, testYAML(t, t.TempDir(), r.url(), sampleComponent("app", freePort(t), "5s", "")))
	first := h.waitState("app", dfmapi.ComponentUp, 10*time.Second)
	up := r.waitFor(dfmapi.KindComponentUp, "app", 5*time.Second)

	require.NoError(t, syscall.Kill(first.PID, syscall.SIGKILL))

	down := r.waitFor(dfmapi.KindComponentDown, "app", 5*time.Second)
	assert.Equal(t, "signal: killed", down.Reason)
	assert.Greater(t, down.Seq, up.Seq)
	require.Eventually(t, func() bool {
		ups := 0
		for _, n := range r.notifications() {
			if n.Kind == dfmapi.KindComponentUp && n.Seq > down.Seq {
				ups++
			}
		}
		return ups == 1
	}, 10*time.Second, 20*time.Millisecond, "no component_up after component_down; received %v", kindsOf(r.notifications()))

	second := h.waitState("app", dfmapi.ComponentUp, 5*time.Second)
	assert.NotEqual(t, first.PID, second.PID)
	assert.Equal(t, 1, second.Restarts)
	assert.Equal(t, "signal: killed", second.LastExit)
	pidFile, err := os.ReadFile(h.cfg.PIDFile("app"))
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(second.PID)+"\n", string(pidFile))
	assert.True(t, processGone(first.PID), "the killed process is reaped")
}

func TestCrashLoopEndsFailed(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, testToken)
	component := `  - name: crasher
    command: /bin/sh
    args: ["-c", "exit 1"]
    restart: {backoff_min: 1s, backoff_max: 2s, crash_loop_max: 3, crash_loop_window: 1m}
`
	h := startAgent(t, testYAML(t, t.TempDir(), r.url(), component))

	st := h.waitState("crasher", dfmapi.ComponentFailed, 15*time.Second)
	assert.Equal(t, 2, st.Restarts)
	assert.Equal(t, "exit status 1", st.LastExit)
	failed := r.waitFor(dfmapi.KindComponentFailed, "crasher", 5*time.Second)
	assert.Equal(t, "crash loop: 3 crashes within 1m0s; last exit: exit status 1", failed.Reason)
	assert.Equal(t, []string{"component_failed/crasher"}, kindsOf(r.notifications()),
		"a process that never counted as up is not reported up or down")

	spawns := h.logLines(`msg="component started"`)
	require.Len(t, spawns, 3)
	gap1 := logTime(t, spawns[1]).Sub(logTime(t, spawns[0]))
	gap2 := logTime(t, spawns[2]).Sub(logTime(t, spawns[1]))
	assert.GreaterOrEqual(t, gap1, time.Second, "backoff_min between the first spawns")
	assert.GreaterOrEqual(t, gap2, 1600*time.Millisecond, "the backoff doubles, less at most 20%% jitter")
	assert.Len(t, h.logLines("component failed; DFM no longer restarts it"), 1)

	time.Sleep(1500 * time.Millisecond)
	assert.Len(t, h.logLines(`msg="component started"`), 3, "no spawn after failed")

	err := h.client.Restart(t.Context(), "crasher")
	var apiErr *dfmapi.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 409, apiErr.StatusCode)
	assert.Contains(t, apiErr.Message, "POST /v1/components/crasher/reset")

	require.NoError(t, h.client.Reset(t.Context(), "crasher"))
	require.Eventually(t, func() bool { return len(h.logLines(`msg="component started"`)) == 4 }, 5*time.Second, 20*time.Millisecond)
	st, _ = h.agent.Status().Component("crasher")
	assert.NotEqual(t, dfmapi.ComponentFailed, st.State, "reset clears the crash count")
}

func TestNoRetryExitEndsFailed(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, testToken)
	component := `  - name: config-error
    command: /bin/sh
    args: ["-c", "exit 2"]
    restart: {no_retry_exit_codes: [2]}
`
	h := startAgent(t, testYAML(t, t.TempDir(), r.url(), component))
	st := h.waitState("config-error", dfmapi.ComponentFailed, 5*time.Second)
	assert.Equal(t, 0, st.Restarts)
	failed := r.waitFor(dfmapi.KindComponentFailed, "config-error", 5*time.Second)
	assert.Equal(t, "exit code 2 is in no_retry_exit_codes; last exit: exit status 2", failed.Reason)
}

func TestStartTimeoutCountsAsCrash(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	component := fmt.Sprintf(`  - name: silent
    command: /bin/sleep
    args: ["30"]
    port: %d
    start_timeout: 300ms
    grace: 1s
    restart: {crash_loop_max: 1}
`, port)
	h := startAgent(t, testYAML(t, t.TempDir(), "", component))
	st := h.waitState("silent", dfmapi.ComponentFailed, 5*time.Second)
	assert.Equal(t, "signal: terminated", st.LastExit)
	assert.Len(t, h.logLines("component not ready in time; stopping it"), 1)
}

func TestUnhealthyComponentRestarts(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, testToken)
	h := startAgent(t, testYAML(t, t.TempDir(), r.url(), sampleComponent("app", freePort(t), "500ms", "")))
	first := h.waitState("app", dfmapi.ComponentUp, 10*time.Second)
	r.waitFor(dfmapi.KindComponentUp, "app", 5*time.Second)

	// A stopped process accepts connections into the backlog but never
	// responds, so its health checks time out.
	require.NoError(t, syscall.Kill(first.PID, syscall.SIGSTOP))

	down := r.waitFor(dfmapi.KindComponentDown, "app", 10*time.Second)
	assert.True(t, strings.HasPrefix(down.Reason, "health check failed 2 times in a row"), "reason %q", down.Reason)
	second := h.waitState("app", dfmapi.ComponentUp, 10*time.Second)
	assert.NotEqual(t, first.PID, second.PID)
	assert.Len(t, h.logLines("component did not stop within its grace period"), 1)
	require.Eventually(t, func() bool { return processGone(first.PID) }, 5*time.Second, 20*time.Millisecond)
}

func TestPortInUseRejectedBeforeStart(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	h := newHarness(t, testYAML(t, t.TempDir(), "", sampleComponent("web", port, "1s", "")))
	err = h.agent.Run(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf(`components[0].port: component "web": port %d on 127.0.0.1 is already in use`, port))
	assert.Empty(t, h.logLines("component started"), "no component starts when one port is taken")
	assert.Equal(t, dfmapi.InstanceStopped, h.agent.Status().State)
}

func TestLeftoverComponentIsKilled(t *testing.T) {
	t.Parallel()
	stateDir := t.TempDir()
	port := freePort(t)
	yaml := testYAML(t, stateDir, "", sampleComponent("app", port, "1s", ""))
	cfg, err := Parse([]byte(yaml), "dfm.yaml")
	require.NoError(t, err)

	// A component that an earlier DFM started and that survived it, with
	// its pid file.
	leftover := exec.Command(componentBin, "-instance", "old", "-listen", fmt.Sprintf("127.0.0.1:%d", port))
	leftover.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, leftover.Start())
	leftoverDone := make(chan struct{})
	go func() {
		_ = leftover.Wait()
		close(leftoverDone)
	}()
	t.Cleanup(func() { _ = syscall.Kill(-leftover.Process.Pid, syscall.SIGKILL) })
	require.NoError(t, os.MkdirAll(stateDir+"/components", 0o755))
	require.NoError(t, writePIDFile(cfg.PIDFile("app"), leftover.Process.Pid))
	require.Eventually(t, func() bool { return checkPortFree("127.0.0.1", port) != nil }, 5*time.Second, 20*time.Millisecond)

	h := startAgent(t, yaml)
	select {
	case <-leftoverDone:
	case <-time.After(5 * time.Second):
		t.Fatal("leftover component still runs")
	}
	st := h.waitState("app", dfmapi.ComponentUp, 10*time.Second)
	assert.NotEqual(t, leftover.Process.Pid, st.PID)
	assert.Len(t, h.logLines("killing component left running by an earlier DFM"), 1)
}

func TestStalePIDFileIsRemoved(t *testing.T) {
	t.Parallel()
	stateDir := t.TempDir()
	yaml := testYAML(t, stateDir, "", `  - {name: sleeper, command: /bin/sleep, args: ["60"], health: {interval: 100ms}}
`)
	require.NoError(t, os.MkdirAll(stateDir+"/components", 0o755))
	// PID 1 is init: it runs, but not as this component, so DFM leaves it.
	require.NoError(t, writePIDFile(stateDir+"/components/sleeper.pid", 1))

	h := startAgent(t, yaml)
	h.waitState("sleeper", dfmapi.ComponentUp, 5*time.Second)
	assert.Len(t, h.logLines("removing stale pid file"), 1)
	assert.Empty(t, h.logLines("killing component left running"))
}

func TestNotificationsQueuedWhileReceiverDown(t *testing.T) {
	t.Parallel()
	addr := reserveAddr(t)
	h := startAgent(t, testYAML(t, t.TempDir(), "http://"+addr+"/v1/notifications", sampleComponent("app", freePort(t), "5s", "")))
	first := h.waitState("app", dfmapi.ComponentUp, 10*time.Second)
	require.NoError(t, syscall.Kill(first.PID, syscall.SIGKILL))
	require.Eventually(t, func() bool {
		st, _ := h.agent.Status().Component("app")
		return st.State == dfmapi.ComponentUp && st.PID != first.PID
	}, 10*time.Second, 20*time.Millisecond)
	require.NotEmpty(t, h.logLines("notification not delivered; retrying"))

	r := newReceiverAt(t, testToken, addr)
	require.Eventually(t, func() bool { return len(r.notifications()) == 3 }, 10*time.Second, 20*time.Millisecond,
		"received %v", kindsOf(r.notifications()))
	assert.Equal(t, []string{"component_up/app", "component_down/app", "component_up/app"}, kindsOf(r.notifications()))
	for i, n := range r.notifications() {
		assert.Equal(t, uint64(i+1), n.Seq)
	}

	// Shut down while the receiver still runs, so that shutdown_complete
	// arrives too.
	h.agent.Shutdown(5 * time.Second)
	require.NoError(t, <-h.done)
	h.done <- nil
	last := r.notifications()[len(r.notifications())-1]
	assert.Equal(t, dfmapi.KindShutdownComplete, last.Kind)
	assert.Equal(t, uint64(4), last.Seq)
}
