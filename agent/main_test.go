package agent

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/dfmapi"
	"github.com/dflb/dflb/internal/testutil"
)

// componentBin is the sample component, built once by TestMain.
var componentBin string

func TestMain(m *testing.M) {
	dir, err := testutil.BuildCommands("component")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	componentBin = filepath.Join(dir, "component")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const testToken = "test-token-7f3a9c"

// harness is one DFM running in the test process.
type harness struct {
	t      *testing.T
	agent  *Agent
	cfg    *Config
	logs   *syncBuffer
	client *dfmapi.Client
	done   chan error
}

// freePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	_, port, err := net.SplitHostPort(reserveAddr(t))
	require.NoError(t, err)
	n, err := strconv.Atoi(port)
	require.NoError(t, err)
	return n
}

// sampleComponent returns the YAML of one sample component named name on
// port, with fast health checks and the given grace period.
func sampleComponent(name string, port int, grace, extra string) string {
	return fmt.Sprintf(`  - name: %[1]s
    command: %[2]s
    args: ["-instance", "i-test", "-component", "%[1]s", "-listen", "127.0.0.1:%[3]d", "-tenants-file", "{tenants_file}", "-shutdown-grace", "10s"]
    port: %[3]d
    health: {path: /healthz, interval: 200ms, timeout: 500ms, failure_threshold: 2}
    start_timeout: 10s
    grace: %[4]s
%[5]s`, name, componentBin, port, grace, extra)
}

// testYAML returns a DFM configuration with the given components.
func testYAML(t *testing.T, stateDir, notifyURL, components string) string {
	return fmt.Sprintf(`instance: i-test
listen: 127.0.0.1:%d
state_dir: %s
notify: {url: %q}
load: {interval: 200ms}
components:
%s`, freePort(t), stateDir, notifyURL, components)
}

// startAgent runs DFM with the configuration text until the test ends.
func startAgent(t *testing.T, yaml string) *harness {
	t.Helper()
	h := newHarness(t, yaml)
	go func() { h.done <- h.agent.Run(context.Background()) }()
	select {
	case <-h.agent.Listening():
	case err := <-h.done:
		t.Fatalf("DFM stopped at start: %v\nlog:\n%s", err, h.logs.String())
	case <-time.After(10 * time.Second):
		t.Fatal("DFM did not listen within 10s")
	}
	h.client.BaseURL = "http://" + h.agent.Addr().String()
	t.Cleanup(func() {
		h.agent.Shutdown(5 * time.Second)
		select {
		case <-h.done:
		case <-time.After(20 * time.Second):
			t.Error("DFM did not stop within 20s")
		}
		if t.Failed() {
			t.Logf("DFM log:\n%s", h.logs.String())
		}
	})
	return h
}

func newHarness(t *testing.T, yaml string) *harness {
	t.Helper()
	cfg, err := Parse([]byte(yaml), "dfm.yaml")
	require.NoError(t, err)
	logs := &syncBuffer{}
	a, err := New(cfg, Options{
		Token:          testToken,
		Logger:         newTestLogger(logs),
		NotifyRetryMin: 50 * time.Millisecond,
		NotifyRetryMax: 200 * time.Millisecond,
	})
	require.NoError(t, err)
	return &harness{t: t, agent: a, cfg: cfg, logs: logs, client: &dfmapi.Client{Token: testToken}, done: make(chan error, 1)}
}

// waitState waits until the component reaches state and returns its status.
func (h *harness) waitState(name string, state dfmapi.ComponentState, timeout time.Duration) dfmapi.ComponentStatus {
	h.t.Helper()
	var last dfmapi.ComponentStatus
	require.Eventually(h.t, func() bool {
		st, _ := h.agent.Status().Component(name)
		last = st
		return st.State == state
	}, timeout, 20*time.Millisecond, "component %s did not reach %s; last status %+v", name, state, last)
	return last
}

// logLines returns the lines of DFM's log that contain msg.
func (h *harness) logLines(msg string) []string {
	var out []string
	for line := range strings.SplitSeq(h.logs.String(), "\n") {
		if strings.Contains(line, msg) {
			out = append(out, line)
		}
	}
	return out
}

// logTime parses the time= field of a slog text line.
func logTime(t *testing.T, line string) time.Time {
	t.Helper()
	field, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
	ts, err := time.Parse(time.RFC3339Nano, field)
	require.NoError(t, err, "line %q", line)
	return ts
}

// processGone reports whether pid has exited. A zombie counts as gone.
func processGone(pid int) bool {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	return err != nil || isZombie(data)
}
