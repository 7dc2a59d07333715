package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/dfmapi"
	"github.com/dflb/dflb/internal/testutil"
)

// Binaries built once by TestMain.
var dfmBin, componentBin string

func TestMain(m *testing.M) {
	dir, err := testutil.BuildCommands("dfm", "component")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dfmBin = filepath.Join(dir, "dfm")
	componentBin = filepath.Join(dir, "component")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const token = "cmd-test-token-51c2"

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer = testutil.LogBuffer

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// dfmProcess is dfm running as a child process.
type dfmProcess struct {
	cmd      *exec.Cmd
	output   *lockedBuffer
	exited   chan struct{}
	stateDir string
	client   *dfmapi.Client
}

// startDFM writes a configuration with one sample component and starts dfm.
func startDFM(t *testing.T) *dfmProcess {
	t.Helper()
	stateDir := t.TempDir()
	listen := freeAddr(t)
	componentAddr := freeAddr(t)
	_, port, _ := net.SplitHostPort(componentAddr)
	config := fmt.Sprintf(`instance: i-cmd
listen: %s
state_dir: %s
components:
  - name: app
    command: %s
    args: ["-instance", "i-cmd", "-listen", "%s", "-tenants-file", "{tenants_file}"]
    port: %s
    health: {path: /healthz, interval: 200ms}
    grace: 5s
`, listen, stateDir, componentBin, componentAddr, port)
	configPath := filepath.Join(stateDir, "dfm.yaml")
	require.NoError(t, os.WriteFile(configPath, []byte(config), 0o644))

	p := &dfmProcess{
		cmd:      exec.Command(dfmBin, "-config", configPath),
		output:   &lockedBuffer{},
		exited:   make(chan struct{}),
		stateDir: stateDir,
		client:   &dfmapi.Client{BaseURL: "http://" + listen, Token: token},
	}
	p.cmd.Env = append(os.Environ(), "DFM_TOKEN="+token)
	p.cmd.Stdout, p.cmd.Stderr = p.output, p.output
	require.NoError(t, p.cmd.Start())
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("dfm output:\n%s", p.output.String())
		}
	})
	return p
}

// waitUp waits until the component is up and returns its PID.
func (p *dfmProcess) waitUp(t *testing.T) int {
	t.Helper()
	var pid int
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		st, err := p.client.Status(ctx)
		if err != nil {
			return false
		}
		app, _ := st.Component("app")
		pid = app.PID
		return app.State == dfmapi.ComponentUp
	}, 15*time.Second, 50*time.Millisecond, "component not up")
	return pid
}

func (p *dfmProcess) waitExit(t *testing.T, timeout time.Duration) {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		t.Fatalf("dfm did not exit within %s", timeout)
	}
}

// processGone reports whether pid has exited. A zombie counts as gone,
// because only its new parent can reap it.
func processGone(pid int) bool {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	end := bytes.LastIndexByte(data, ')')
	return end > 0 && end+2 < len(data) && data[end+2] == 'Z'
}

func TestKilledDFMLeavesNoComponent(t *testing.T) {
	t.Parallel()
	p := startDFM(t)
	componentPID := p.waitUp(t)
	dfmPID, err := os.ReadFile(filepath.Join(p.stateDir, "dfm.pid"))
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(p.cmd.Process.Pid)+"\n", string(dfmPID))

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	p.waitExit(t, 5*time.Second)

	assert.Eventually(t, func() bool { return processGone(componentPID) }, 5*time.Second, 20*time.Millisecond,
		"component %d still runs after DFM was killed", componentPID)
}

func TestSIGTERMShutsDownGracefully(t *testing.T) {
	t.Parallel()
	p := startDFM(t)
	componentPID := p.waitUp(t)

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	p.waitExit(t, 15*time.Second)

	assert.Equal(t, 0, p.cmd.ProcessState.ExitCode())
	assert.True(t, processGone(componentPID))
	assert.NoFileExists(t, filepath.Join(p.stateDir, "dfm.pid"))
	assert.NoFileExists(t, filepath.Join(p.stateDir, "components", "app.pid"))
	out := p.output.String()
	assert.Contains(t, out, `msg="shutdown requested"`)
	assert.Contains(t, out, `msg="component stopped" instance=i-cmd component=app pid=`+strconv.Itoa(componentPID)+` exit="exit status 0"`)
	assert.Contains(t, out, `msg="shutdown complete"`)
	assert.NotContains(t, out, token)
}

func TestBadConfigExitsWithError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	configPath := filepath.Join(dir, "dfm.yaml")
	config := fmt.Sprintf("instance: i-1\nlisten: 127.0.0.1:1\nstate_dir: %s\ncomponents:\n  - name: app\n    comand: /bin/true\n", dir)
	require.NoError(t, os.WriteFile(configPath, []byte(config), 0o644))

	cmd := exec.Command(dfmBin, "-config", configPath)
	cmd.Env = append(os.Environ(), "DFM_TOKEN="+token)
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	assert.Equal(t, 1, cmd.ProcessState.ExitCode())
	assert.Contains(t, string(out), `unknown key \"comand\" in components[0] (component \"app\")`)
	assert.NoFileExists(t, filepath.Join(dir, "dfm.pid"))
}

func TestMissingTokenExitsWithError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	configPath := filepath.Join(dir, "dfm.yaml")
	config := fmt.Sprintf("instance: i-1\nlisten: 127.0.0.1:1\nstate_dir: %s\ncomponents: [{name: app, command: /bin/true}]\n", dir)
	require.NoError(t, os.WriteFile(configPath, []byte(config), 0o644))

	cmd := exec.Command(dfmBin, "-config", configPath)
	cmd.Env = withoutVar(os.Environ(), "DFM_TOKEN")
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "missing bearer token: set the environment variable DFM_TOKEN")
}

func withoutVar(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}
