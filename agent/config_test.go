package agent

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const fullConfig = `instance: i-3
listen: 127.0.1.3:7070
token_env: MY_TOKEN
state_dir: /var/lib/dfm/i-3
notify:
  url: http://127.0.0.1:9090/v1/notifications
  queue: 50
load:
  interval: 2s
  overload_cpu: 0.9
  overload_window: 10s
  low_cpu: 0.2
  low_window: 1m
  hysteresis: 0.1
components:
  - name: app
    command: /opt/bin/component
    args: ["-listen", "127.0.1.3:9001", "-tenants-file", "{tenants_file}"]
    env: {GOMAXPROCS: "1"}
    port: 9001
    health: {path: /healthz, interval: 2s, timeout: 500ms, failure_threshold: 4}
    start_timeout: 20s
    stop_signal: SIGINT
    grace: 5s
    restart:
      backoff_min: 2s
      backoff_max: 1m
      reset_after: 2m
      crash_loop_max: 7
      crash_loop_window: 5m
      no_retry_exit_codes: [2, 78]
    tenants_reload: restart
    autostart: false
  - name: worker
    command: /opt/bin/worker
`

func TestParseFullConfig(t *testing.T) {
	c, err := Parse([]byte(fullConfig), "dfm.yaml")
	require.NoError(t, err)

	assert.Equal(t, "i-3", c.Instance)
	assert.Equal(t, "127.0.1.3", c.Address())
	assert.Equal(t, "MY_TOKEN", c.TokenEnv)
	assert.Equal(t, NotifyConfig{URL: "http://127.0.0.1:9090/v1/notifications", Queue: 50}, c.Notify)
	assert.Equal(t, LoadConfig{Interval: 2 * time.Second, OverloadCPU: 0.9, OverloadWindow: 10 * time.Second,
		LowCPU: 0.2, LowWindow: time.Minute, Hysteresis: 0.1}, c.Load)
	require.Len(t, c.Components, 2)

	app := c.Components[0]
	assert.Equal(t, []string{"-listen", "127.0.1.3:9001", "-tenants-file", "{tenants_file}"}, app.Args)
	assert.Equal(t, map[string]string{"GOMAXPROCS": "1"}, app.Env)
	assert.Equal(t, 9001, app.Port)
	assert.Equal(t, HealthConfig{Path: "/healthz", Interval: 2 * time.Second, Timeout: 500 * time.Millisecond, FailureThreshold: 4}, app.Health)
	assert.Equal(t, 20*time.Second, app.StartTimeout)
	assert.Equal(t, syscall.SIGINT, app.stopSignal)
	assert.Equal(t, 5*time.Second, app.Grace)
	assert.Equal(t, RestartConfig{BackoffMin: 2 * time.Second, BackoffMax: time.Minute, ResetAfter: 2 * time.Minute,
		CrashLoopMax: 7, CrashLoopWindow: 5 * time.Minute, NoRetryExitCodes: []int{2, 78}}, app.Restart)
	assert.Equal(t, ReloadRestart, app.TenantsReload)
	assert.False(t, app.Autostart)
	assert.Equal(t, "/var/lib/dfm/i-3/tenants/app.txt", c.TenantsFile("app"))

	worker := c.Components[1]
	want := DefaultComponent()
	want.Name, want.Command, want.stopSignal = "worker", "/opt/bin/worker", syscall.SIGTERM
	assert.Equal(t, want, worker)
}

func TestParseDefaults(t *testing.T) {
	c, err := Parse([]byte("instance: i-1\nlisten: 127.0.0.1:7070\nstate_dir: /tmp/x\ncomponents: [{name: app, command: /bin/true}]\n"), "dfm.yaml")
	require.NoError(t, err)
	assert.Equal(t, "DFM_TOKEN", c.TokenEnv)
	assert.Equal(t, DefaultConfig().Load, c.Load)
	assert.Equal(t, 1000, c.Notify.Queue)
	assert.Empty(t, c.Notify.URL)
}

func TestParseErrorsNameComponentAndLine(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "unknown key",
			yaml: "components:\n  - name: app\n    comand: /bin/true\n",
			want: []string{`dfm.yaml:6: unknown key "comand" in components[0] (component "app")`, "valid keys are name, command"},
		},
		{
			name: "missing command",
			yaml: "components:\n  - name: app\n    port: 9001\n",
			want: []string{`dfm.yaml:5: components[0].command: component "app": missing command`},
		},
		{
			name: "unknown key in health",
			yaml: "components:\n  - name: web\n    command: /bin/true\n    health: {pth: /healthz}\n",
			want: []string{`dfm.yaml:7: unknown key "pth" in components[0].health (component "web")`},
		},
		{
			name: "duration without unit",
			yaml: "components:\n  - name: app\n    command: /bin/true\n    grace: 10\n",
			want: []string{`dfm.yaml:7: components[0].grace (component "app"): duration "10" has no unit`},
		},
		{
			name: "backoff below one second",
			yaml: "components:\n  - name: app\n    command: /bin/true\n    restart: {backoff_min: 100ms}\n",
			want: []string{`dfm.yaml:7: components[0].restart.backoff_min: component "app": 100ms is below the minimum 1s`},
		},
		{
			name: "same port twice",
			yaml: "components:\n  - {name: a, command: /bin/true, port: 9001}\n  - {name: b, command: /bin/true, port: 9001}\n",
			want: []string{`components[1].port: component "b": port 9001 is already used by components[0] (a)`},
		},
		{
			name: "unknown stop signal",
			yaml: "components:\n  - {name: app, command: /bin/true, stop_signal: SIGFOO}\n",
			want: []string{`component "app": unknown signal "SIGFOO"`},
		},
		{
			name: "unknown tenants_reload",
			yaml: "components:\n  - {name: app, command: /bin/true, tenants_reload: hup}\n",
			want: []string{`component "app": unknown value "hup"`},
		},
		{
			name: "invalid name",
			yaml: "components:\n  - {name: My App, command: /bin/true}\n",
			want: []string{`invalid name "My App"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := "instance: i-1\nlisten: 127.0.0.1:7070\nstate_dir: /tmp/x\n"
			_, err := Parse([]byte(base+tt.yaml), "dfm.yaml")
			require.Error(t, err)
			for _, want := range tt.want {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestParseTopLevelErrors(t *testing.T) {
	_, err := Parse([]byte("instance: \"\"\nlisten: localhost\nstate_dir: relative/dir\nload: {overload_cpu: 1.5}\nnotify: {url: ftp://x}\n"), "dfm.yaml")
	require.Error(t, err)
	for _, want := range []string{
		"dfm.yaml:1: instance: missing instance ID",
		"dfm.yaml:2: listen: invalid listen address",
		`dfm.yaml:3: state_dir: "relative/dir" is relative`,
		"dfm.yaml:4: load.overload_cpu: 1.5 is outside (0, 1]",
		`dfm.yaml:5: notify.url: invalid URL "ftp://x"`,
		"components: no components",
	} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestParseEmptyFile(t *testing.T) {
	_, err := Parse([]byte("# nothing\n"), "dfm.yaml")
	assert.ErrorContains(t, err, "dfm.yaml: the file is empty")
}

func TestNewRejectsMissingProgram(t *testing.T) {
	cfg := testConfig(t, "/does/not/exist")
	_, err := New(cfg, Options{Token: "t"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `component "app": command "/does/not/exist" is not an executable file`)
}

func TestNewRequiresToken(t *testing.T) {
	cfg := testConfig(t, "/bin/true")
	_, err := New(cfg, Options{})
	assert.ErrorContains(t, err, "missing bearer token: set the environment variable DFM_TOKEN")
}

func TestComponentEnvDropsToken(t *testing.T) {
	env := componentEnv([]string{"PATH=/bin", "DFM_TOKEN=s3cret", "DFM_TOKEN_X=keep"}, "DFM_TOKEN")
	assert.Equal(t, []string{"PATH=/bin", "DFM_TOKEN_X=keep"}, env)
	assert.NotContains(t, strings.Join(env, " "), "s3cret")
}

// testConfig returns a valid configuration with one component and a state
// directory under t.TempDir.
func testConfig(t *testing.T, command string) *Config {
	t.Helper()
	c := DefaultConfig()
	c.Instance = "i-test"
	c.Listen = "127.0.0.1:1"
	c.StateDir = t.TempDir()
	cc := DefaultComponent()
	cc.Name = "app"
	cc.Command = command
	c.Components = []ComponentConfig{cc}
	require.NoError(t, c.Validate())
	return c
}
