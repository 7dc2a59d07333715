package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// FindNginx returns path when it is set, else nginx from PATH, else
// /usr/sbin/nginx, which is outside PATH for non-root users on Debian.
func FindNginx(path string) (string, error) {
	if path != "" {
		return exec.LookPath(path)
	}
	if p, err := exec.LookPath("nginx"); err == nil {
		return p, nil
	}
	if p, err := exec.LookPath("/usr/sbin/nginx"); err == nil {
		return p, nil
	}
	return "", errors.New("nginx not found in PATH or at /usr/sbin/nginx: install it (apt-get install nginx-light) or set -nginx")
}

// FindWrk returns path when it is set, else wrk from PATH.
func FindWrk(path string) (string, error) {
	if path == "" {
		path = "wrk"
	}
	p, err := exec.LookPath(path)
	if err != nil {
		return "", fmt.Errorf("wrk not found as %q: install it (apt-get install wrk) or set -wrk: %w", path, err)
	}
	return p, nil
}

// Machine describes the host that ran the benchmark.
type Machine struct {
	CPUs     int
	CPUModel string
	Go       string
	Nginx    string // first line of `nginx -v`, empty when NGINX was not used
	Wrk      string // first line of `wrk -v`
}

// DescribeMachine collects the machine facts. A tool that fails to report
// its version is shown with the error in place of the version.
func DescribeMachine(ctx context.Context, nginx, wrk string) Machine {
	m := Machine{
		CPUs:     runtime.NumCPU(),
		CPUModel: cpuModel(),
		Go:       runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
	}
	if nginx != "" {
		m.Nginx = toolVersion(ctx, nginx, "-v")
	}
	if wrk != "" {
		m.Wrk = toolVersion(ctx, wrk, "-v")
	}
	return m
}

func (m Machine) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "machine: %d CPUs, %s\n", m.CPUs, m.CPUModel)
	fmt.Fprintf(&b, "go:      %s\n", m.Go)
	if m.Nginx != "" {
		fmt.Fprintf(&b, "nginx:   %s\n", m.Nginx)
	}
	fmt.Fprintf(&b, "wrk:     %s\n", m.Wrk)
	return b.String()
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU model (" + err.Error() + ")"
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		key, value, ok := strings.Cut(scanner.Text(), ":")
		if ok && strings.TrimSpace(key) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return "unknown CPU model (no \"model name\" in /proc/cpuinfo)"
}

// toolVersion runs a version command and returns its first output line.
// nginx -v writes to stderr and wrk -v exits with status 1, so both streams
// are read and the exit status is ignored when there is output.
func toolVersion(ctx context.Context, path string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if first == "" && err != nil {
		return fmt.Sprintf("unknown version (%s %s: %v)", path, strings.Join(args, " "), err)
	}
	return strings.TrimSpace(first)
}
