package agent

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// minBackoff is the shortest allowed wait between two spawns of a component,
// so that a crashing component cannot keep a core busy with restarts.
const minBackoff = time.Second

var componentNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// parseSignal returns the signal that stop_signal names, with or without
// the SIG prefix and in any case.
func parseSignal(name string) (syscall.Signal, bool) {
	name = strings.ToUpper(name)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	switch name {
	case "SIGTERM":
		return syscall.SIGTERM, true
	case "SIGINT":
		return syscall.SIGINT, true
	case "SIGQUIT":
		return syscall.SIGQUIT, true
	case "SIGHUP":
		return syscall.SIGHUP, true
	case "SIGUSR1":
		return syscall.SIGUSR1, true
	case "SIGUSR2":
		return syscall.SIGUSR2, true
	case "SIGKILL":
		return syscall.SIGKILL, true
	}
	return 0, false
}

// Validate checks c and returns every problem found, joined. Errors about
// a component name it. Validate also parses each StopSignal, so call it
// before passing a Config built in Go to New.
func (c *Config) Validate() error {
	var errs []error
	add := func(err error) { errs = append(errs, err) }

	if c.Instance == "" {
		add(c.lines.Errorf("instance", "missing instance ID; set instance, such as i-3"))
	}
	if _, _, err := c.listenHostPort(); err != nil {
		add(c.lines.Errorf("listen", "%w", err))
	}
	if c.TokenEnv == "" {
		add(c.lines.Errorf("token_env", "empty; name the environment variable with the bearer secret, such as DFM_TOKEN"))
	}
	if c.StateDir == "" {
		add(c.lines.Errorf("state_dir", "missing state directory; set state_dir to an absolute path"))
	} else if !filepath.IsAbs(c.StateDir) {
		add(c.lines.Errorf("state_dir", "%q is relative; write an absolute path", c.StateDir))
	}
	if c.Notify.URL != "" {
		if u, err := url.Parse(c.Notify.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(c.lines.Errorf("notify.url", "invalid URL %q; write an http:// or https:// URL, or leave it empty to disable notifications", c.Notify.URL))
		}
	}
	if c.Notify.Queue < 1 {
		add(c.lines.Errorf("notify.queue", "%d is less than 1; set the number of notifications to keep while the receiver is down", c.Notify.Queue))
	}
	errs = append(errs, c.validateLoad()...)

	if len(c.Components) == 0 {
		add(c.lines.Errorf("components", "no components; list at least one"))
	}
	names := map[string]int{}
	ports := map[int]int{}
	for i := range c.Components {
		cc := &c.Components[i]
		errs = append(errs, c.validateComponent(i, cc)...)
		if first, dup := names[cc.Name]; dup && cc.Name != "" {
			add(c.componentErrorf(i, "name", "name is already used by components[%d]; give each component its own name", first))
		}
		names[cc.Name] = i
		if first, dup := ports[cc.Port]; dup && cc.Port != 0 {
			add(c.componentErrorf(i, "port", "port %d is already used by components[%d] (%s); give each component its own port", cc.Port, first, c.Components[first].Name))
		}
		ports[cc.Port] = i
	}
	return errors.Join(errs...)
}

func (c *Config) validateLoad() []error {
	var errs []error
	l := c.Load
	positive := []struct {
		path  string
		value time.Duration
	}{
		{"load.interval", l.Interval},
		{"load.overload_window", l.OverloadWindow},
		{"load.low_window", l.LowWindow},
	}
	for _, d := range positive {
		if d.value <= 0 {
			errs = append(errs, c.lines.Errorf(d.path, "duration %s must be greater than 0", d.value))
		}
	}
	fractions := []struct {
		path  string
		value float64
	}{
		{"load.overload_cpu", l.OverloadCPU},
		{"load.low_cpu", l.LowCPU},
	}
	for _, f := range fractions {
		if f.value <= 0 || f.value > 1 {
			errs = append(errs, c.lines.Errorf(f.path, "%g is outside (0, 1]; write a fraction of all cores, such as 0.8", f.value))
		}
	}
	if l.LowCPU >= l.OverloadCPU {
		errs = append(errs, c.lines.Errorf("load.low_cpu", "%g is not below load.overload_cpu %g; lower low_cpu or raise overload_cpu", l.LowCPU, l.OverloadCPU))
	}
	if l.Hysteresis < 0 || l.Hysteresis >= 0.5 {
		errs = append(errs, c.lines.Errorf("load.hysteresis", "%g is outside [0, 0.5); write a small fraction such as 0.05", l.Hysteresis))
	}
	return errs
}

func (c *Config) validateComponent(i int, cc *ComponentConfig) []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, c.componentErrorf(i, key, format, args...))
	}

	if !componentNamePattern.MatchString(cc.Name) {
		add("name", "invalid name %q; use 1 to 63 of a-z, 0-9, '_' and '-', starting with a letter or digit", cc.Name)
	}
	if cc.Command == "" {
		add("command", "missing command; set command to the absolute path of the program")
	}
	if cc.Port < 0 || cc.Port > 65535 {
		add("port", "port %d is outside 1-65535; set the port the component listens on, or 0 for none", cc.Port)
	}
	if _, port, err := c.listenHostPort(); err == nil && cc.Port != 0 && cc.Port == port {
		add("port", "port %d is DFM's own listen port; give the component another port", cc.Port)
	}

	h := cc.Health
	if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
		add("health.path", "path %q does not start with '/'; write a path such as /healthz", h.Path)
	}
	if h.Path != "" && cc.Port == 0 {
		add("health.path", "an HTTP health check needs a port; set port or remove health.path")
	}
	if h.Interval <= 0 {
		add("health.interval", "duration %s must be greater than 0", h.Interval)
	}
	if h.Timeout <= 0 {
		add("health.timeout", "duration %s must be greater than 0", h.Timeout)
	}
	if h.FailureThreshold < 1 {
		add("health.failure_threshold", "%d is less than 1; set how many failed checks in a row make the component unhealthy", h.FailureThreshold)
	}
	if cc.StartTimeout <= 0 {
		add("start_timeout", "duration %s must be greater than 0", cc.StartTimeout)
	}
	if cc.Grace < 0 {
		add("grace", "duration %s is negative; set the wait before SIGKILL, or 0 to kill at once", cc.Grace)
	}
	sig, ok := parseSignal(cc.StopSignal)
	if !ok {
		add("stop_signal", "unknown signal %q; use SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2 or SIGKILL", cc.StopSignal)
	}
	cc.stopSignal = sig

	r := cc.Restart
	if r.BackoffMin < minBackoff {
		add("restart.backoff_min", "%s is below the minimum %s between spawns; set at least 1s", r.BackoffMin, minBackoff)
	}
	if r.BackoffMax < r.BackoffMin {
		add("restart.backoff_max", "%s is below backoff_min %s; set it at least as high", r.BackoffMax, r.BackoffMin)
	}
	if r.ResetAfter <= 0 {
		add("restart.reset_after", "duration %s must be greater than 0", r.ResetAfter)
	}
	if r.CrashLoopMax < 1 {
		add("restart.crash_loop_max", "%d is less than 1; set how many crashes within crash_loop_window make the component failed", r.CrashLoopMax)
	}
	if r.CrashLoopWindow <= 0 {
		add("restart.crash_loop_window", "duration %s must be greater than 0", r.CrashLoopWindow)
	}
	for j, code := range r.NoRetryExitCodes {
		if code < 1 || code > 255 {
			add(fmt.Sprintf("restart.no_retry_exit_codes[%d]", j), "exit code %d is outside 1-255", code)
		}
	}

	if cc.TenantsReload != ReloadSignal && cc.TenantsReload != ReloadRestart {
		add("tenants_reload", "unknown value %q; use %q (SIGHUP after rewriting the tenants file) or %q", cc.TenantsReload, ReloadSignal, ReloadRestart)
	}
	return errs
}

// componentErrorf formats an error about key of components[i] that names
// the component.
func (c *Config) componentErrorf(i int, key, format string, args ...any) error {
	path := fmt.Sprintf("components[%d].%s", i, key)
	name := c.Components[i].Name
	if name == "" {
		return c.lines.Errorf(path, format, args...)
	}
	return c.lines.Errorf(path, "component %q: "+format, append([]any{name}, args...)...)
}

// listenHostPort splits Listen into an IP address and a port.
func (c *Config) listenHostPort() (string, int, error) {
	if c.Listen == "" {
		return "", 0, errors.New("missing listen address; set listen to host:port, such as 127.0.1.3:7070")
	}
	host, portText, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return "", 0, fmt.Errorf("invalid listen address %q; write host:port, such as 127.0.1.3:7070: %w", c.Listen, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("invalid port in listen address %q; write a port from 1 to 65535", c.Listen)
	}
	if net.ParseIP(host) == nil {
		return "", 0, fmt.Errorf("listen address %q has no IP address; write the instance address, such as 127.0.1.3:7070", c.Listen)
	}
	return host, port, nil
}

// Address returns the instance address, the host of Listen.
func (c *Config) Address() string {
	host, _, _ := c.listenHostPort()
	return host
}
