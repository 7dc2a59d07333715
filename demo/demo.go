// Package demo runs DFLB on one machine through the five situations of a
// multi-tenant platform (normal flow, an overloaded instance, a low-used
// instance, a component that dies and an instance that hangs) with the
// local provider and a load generator, and prints each decision of the
// control plane as it happens.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dflb/dflb/provider/local"
)

// Options configures a demo run.
type Options struct {
	// BinDir holds the dflb, dfm and component programs.
	BinDir string
	// Dir holds the demo's configuration, state, instances and logs. It is
	// emptied first.
	Dir string
	// Out receives the narration.
	Out io.Writer
}

// Addresses of the demo, apart from those of `make run`.
const (
	listenAddr = "127.0.0.1:8180"
	adminAddr  = "127.0.0.1:9190"
	network    = "127.0.3"
)

// Result is the outcome of a demo run.
type Result struct {
	Sent, Failed, Misrouted int64
	// Took is the time from each situation's trigger to its new routing.
	Took map[string]time.Duration
}

// Run runs the demo and returns its counts. It stops DFLB and deletes the
// instances before returning, also on error.
func Run(ctx context.Context, opts Options) (Result, error) {
	d, err := newDemo(opts)
	if err != nil {
		return Result{}, err
	}
	defer d.cleanup()

	if err := d.startDFLB(ctx); err != nil {
		return Result{}, err
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	d.load = NewLoad(listenAddr)
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go d.watch.run(watchCtx)

	res := Result{Took: map[string]time.Duration{}}
	for _, s := range d.situations(loadCtx) {
		d.sayf("\n== situation %s ==\n", s.name)
		took, err := s.run(ctx)
		if err != nil {
			stopLoad()
			d.load.Wait()
			return d.result(res), fmt.Errorf("situation %s: %w", s.name, err)
		}
		if took > 0 {
			res.Took[s.name] = took
			d.sayf("   %s: trigger to new routing %s\n", s.name, took.Round(time.Millisecond))
		}
	}

	stopLoad()
	d.load.Wait()
	return d.result(res), nil
}

// demo is one run's processes and files.
type demo struct {
	opts     Options
	config   string
	env      []string
	started  time.Time
	dflb     *exec.Cmd
	load     *Load
	watch    *watcher
	provider *local.Provider
}

func newDemo(opts Options) (*demo, error) {
	if err := os.RemoveAll(opts.Dir); err != nil {
		return nil, fmt.Errorf("emptying %s: %w", opts.Dir, err)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", opts.Dir, err)
	}
	opts.Out = &lockedWriter{w: opts.Out}
	token, secret := randomHex(), randomHex()
	d := &demo{
		opts:    opts,
		config:  filepath.Join(opts.Dir, "dflb.yaml"),
		env:     append(os.Environ(), "DFLB_DEMO_ADMIN_TOKEN="+token, "DFLB_DEMO_DFM_SECRET="+secret),
		started: time.Now(),
	}
	d.watch = &watcher{url: "http://" + adminAddr + "/v1/status", token: token, out: opts.Out, started: d.started}
	if err := os.WriteFile(d.config, []byte(d.configText()), 0o600); err != nil {
		return nil, fmt.Errorf("writing %s: %w", d.config, err)
	}

	p, err := local.New(local.Config{
		Root:            filepath.Join(opts.Dir, "instances"),
		Binary:          filepath.Join(opts.BinDir, "dfm"),
		ComponentBinary: filepath.Join(opts.BinDir, "component"),
		Network:         network,
		Components:      []local.ComponentTemplate{{Name: "app", Port: 9001}},
		Secret:          secret,
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, fmt.Errorf("local provider for fault injection: %w", err)
	}
	d.provider = p
	return d, nil
}

func randomHex() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// configText is the demo's configuration: two instances, thresholds low
// enough for a laptop, windows and cooldowns short enough for a demo.
func (d *demo) configText() string {
	return fmt.Sprintf(`listen: %s
admin:
  listen: %s
  token_env: DFLB_DEMO_ADMIN_TOKEN
provider:
  kind: local
  secret_env: DFLB_DEMO_DFM_SECRET
  local:
    root: %s
    dfm_binary: %s
    component_binary: %s
    network: %s
    components:
      - {name: app, port: 9001}
autoscale:
  enabled: true
  min_instances: 2
  max_instances: 3
  overload_rps: 150
  overload_for: 3s
  low_rps: 40
  low_for: 5s
  warmup: 3s
  scale_out_cooldown: 10m
  scale_in_cooldown: 5s
  failback_after: 3s
  max_restarts: 2
  drain_timeout: 5s
  shutdown_timeout: 15s
instances:
  - id: i1
    tenants: [acme, globex, initech]
  - id: i2
    tenants: [umbrella]
`, listenAddr, adminAddr, filepath.Join(d.opts.Dir, "instances"), filepath.Join(d.opts.BinDir, "dfm"),
		filepath.Join(d.opts.BinDir, "component"), network)
}

// startDFLB starts dflb and waits until its admin listener responds.
func (d *demo) startDFLB(ctx context.Context) error {
	logFile, err := os.Create(filepath.Join(d.opts.Dir, "dflb.log"))
	if err != nil {
		return fmt.Errorf("creating dflb.log: %w", err)
	}
	d.dflb = exec.Command(filepath.Join(d.opts.BinDir, "dflb"), "-config", d.config, "-data-dir", d.opts.Dir)
	d.dflb.Env = d.env
	d.dflb.Stdout, d.dflb.Stderr = logFile, logFile
	if err := d.dflb.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting dflb: %w", err)
	}
	logFile.Close()
	d.sayf("dflb started (pid %d), log in %s\n", d.dflb.Process.Pid, filepath.Join(d.opts.Dir, "dflb.log"))

	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := d.watch.status(ctx); err == nil {
			return nil
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("dflb did not respond on %s within 60s; read %s", adminAddr, filepath.Join(d.opts.Dir, "dflb.log"))
}

// cleanup stops dflb and deletes the instances and the state.
func (d *demo) cleanup() {
	if d.dflb != nil && d.dflb.Process != nil {
		_ = d.dflb.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = d.dflb.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = d.dflb.Process.Kill()
			<-done
		}
	}
	down := exec.Command(filepath.Join(d.opts.BinDir, "dflb"), "-config", d.config, "-data-dir", d.opts.Dir, "-down")
	down.Env = d.env
	if out, err := down.CombinedOutput(); err != nil {
		d.sayf("deleting the demo instances failed: %v\n%s", err, out)
	}
}

func (d *demo) result(r Result) Result {
	r.Sent, r.Failed, r.Misrouted = d.load.Summary()
	if r.Failed > 0 || r.Misrouted > 0 {
		d.sayf("last failed request: %s\n", d.load.LastFailure())
	}
	return r
}

func (d *demo) sayf(format string, args ...any) {
	fmt.Fprintf(d.opts.Out, format, args...)
}

// componentPID reads the PID of instance's app component from the local
// provider's files.
func (d *demo) componentPID(instance string) (int, error) {
	path := filepath.Join(d.opts.Dir, "instances", instance, "components", "app.pid")
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading component PID: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0, fmt.Errorf("component PID in %s: %w", path, err)
	}
	return pid, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

var errTimeout = errors.New("timed out")

// lockedWriter serialises the writes of the narration and of the
// decision watcher, which run in different goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
