package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/dflb/dflb/internal/strictyaml"
)

// Values of ComponentConfig.TenantsReload.
const (
	// ReloadSignal rewrites the tenants file and sends SIGHUP.
	ReloadSignal = "signal"
	// ReloadRestart rewrites the tenants file and restarts the component.
	ReloadRestart = "restart"
)

// TenantsFilePlaceholder in a component's args is replaced by the path of
// its tenants file.
const TenantsFilePlaceholder = "{tenants_file}"

// Config is the DFM configuration file. Load or Parse it, or build it in Go
// and call Validate.
type Config struct {
	// Instance is the instance ID sent in every notification. Required.
	Instance string
	// Listen is the host:port of DFM's HTTP API. Its host is the instance
	// address, where components' ports are checked. Required.
	Listen string
	// TokenEnv names the environment variable with the bearer secret.
	// Default: DFM_TOKEN.
	TokenEnv string
	// StateDir is the absolute directory for pid files, logs and tenants
	// files. Required.
	StateDir   string
	Notify     NotifyConfig
	Load       LoadConfig
	Components []ComponentConfig

	lines strictyaml.Lines // lines of the parsed values for error messages
}

// NotifyConfig configures notifications to DFLB.
type NotifyConfig struct {
	// URL receives the notifications. Empty disables them.
	URL string
	// Queue is the maximum number of undelivered notifications. Default: 1000.
	Queue int
}

// LoadConfig configures load sampling and the overload and low-usage
// notifications. CPU values are busy fractions of all cores of the host.
type LoadConfig struct {
	Interval       time.Duration // default 1s
	OverloadCPU    float64       // default 0.80
	OverloadWindow time.Duration // default 30s
	LowCPU         float64       // default 0.10
	LowWindow      time.Duration // default 5m
	// Hysteresis is how far CPU must cross back over a threshold to clear
	// the state. Default: 0.05.
	Hysteresis float64
}

// ComponentConfig is one supervised program.
type ComponentConfig struct {
	// Name is the component name: a-z, 0-9, '_' and '-'. Required.
	Name string
	// Command is the program, an absolute path or a name found in PATH.
	// Required.
	Command string
	// Args are the program's arguments. TenantsFilePlaceholder is replaced.
	Args []string
	// Env is added to DFM's environment, minus the variable TokenEnv names.
	Env map[string]string
	// Port is the TCP port the component listens on at the instance address.
	// DFM checks that it is free before each start. 0 means none.
	Port         int
	Health       HealthConfig
	StartTimeout time.Duration // must pass the readiness check within this; default 10s
	// StopSignal is sent to the process group to stop it. Default: SIGTERM.
	StopSignal string
	// Grace is the wait after StopSignal before SIGKILL. Default: 10s.
	Grace   time.Duration
	Restart RestartConfig
	// TenantsReload is ReloadSignal (default) or ReloadRestart.
	TenantsReload string
	// Autostart starts the component when DFM starts, with the tenants in
	// its tenants file from an earlier run. Default: true.
	Autostart bool

	stopSignal syscall.Signal // parsed StopSignal, set by Validate
}

// HealthConfig is a component's health check. With a Path it is an HTTP GET
// of http://<instance address>:<port><path> that passes on 2xx. Without a
// Path it is a TCP connect to the port. Without a port, a process that has
// run for one Interval counts as up, and as healthy until it exits.
type HealthConfig struct {
	Path             string
	Interval         time.Duration // default 1s
	Timeout          time.Duration // default 1s
	FailureThreshold int           // failures in a row that make a component unhealthy; default 3
}

// RestartConfig is a component's restart policy after a crash.
type RestartConfig struct {
	// BackoffMin is the first wait between an exit and the next spawn,
	// doubled per crash up to BackoffMax. At least 1s. Default: 1s.
	BackoffMin time.Duration
	BackoffMax time.Duration // default 30s
	// ResetAfter is how long a component must stay up before its backoff
	// starts again from BackoffMin. Default: 60s.
	ResetAfter time.Duration
	// CrashLoopMax crashes within CrashLoopWindow make the component failed,
	// so DFM stops restarting it. Default: 5 within 60s.
	CrashLoopMax    int
	CrashLoopWindow time.Duration
	// NoRetryExitCodes make the component failed on the first such exit.
	NoRetryExitCodes []int
}

// DefaultConfig returns a configuration with every default set and no
// components.
func DefaultConfig() *Config {
	return &Config{
		TokenEnv: "DFM_TOKEN",
		Notify:   NotifyConfig{Queue: 1000},
		Load: LoadConfig{
			Interval:       time.Second,
			OverloadCPU:    0.80,
			OverloadWindow: 30 * time.Second,
			LowCPU:         0.10,
			LowWindow:      5 * time.Minute,
			Hysteresis:     0.05,
		},
		Components: []ComponentConfig{},
	}
}

// DefaultComponent returns a component configuration with every default
// set and no name or command.
func DefaultComponent() ComponentConfig {
	return ComponentConfig{
		Args:         []string{},
		Env:          map[string]string{},
		Health:       HealthConfig{Interval: time.Second, Timeout: time.Second, FailureThreshold: 3},
		StartTimeout: 10 * time.Second,
		StopSignal:   "SIGTERM",
		Grace:        10 * time.Second,
		Restart: RestartConfig{
			BackoffMin:       time.Second,
			BackoffMax:       30 * time.Second,
			ResetAfter:       60 * time.Second,
			CrashLoopMax:     5,
			CrashLoopWindow:  60 * time.Second,
			NoRetryExitCodes: []int{},
		},
		TenantsReload: ReloadSignal,
		Autostart:     true,
	}
}

// TenantsFile returns the path of the tenants file of the component name.
func (c *Config) TenantsFile(name string) string {
	return filepath.Join(c.StateDir, "tenants", name+".txt")
}

// LogFile returns the path of the log file of the component name.
func (c *Config) LogFile(name string) string {
	return filepath.Join(c.StateDir, "components", name+".log")
}

// PIDFile returns the path of the pid file of the component name.
func (c *Config) PIDFile(name string) string {
	return filepath.Join(c.StateDir, "components", name+".pid")
}

// Load reads and parses the configuration file at path. See Parse.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read DFM config: %w", err)
	}
	return Parse(data, path)
}
