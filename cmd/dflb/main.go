// Command dflb runs the DFLB edge proxy and its admin listener.
//
//	dflb -config dflb.yaml
//
// SIGHUP reloads the configuration file; SIGTERM and SIGINT drain and exit.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/VictoriaMetrics/metrics"

	"github.com/dflb/dflb/config"
	"github.com/dflb/dflb/controlplane"
)

func main() {
	configPath := flag.String("config", "dflb.yaml", "path of the YAML configuration file")
	dataDir := flag.String("data-dir", ".dflb", "directory for state files such as the generated admin token")
	logFormat := flag.String("log-format", "text", "log format: text or json")
	logLevel := flag.String("log-level", "info", "log level: debug, info, warn or error")
	down := flag.Bool("down", false, "delete every instance that the configured provider runs and the control plane state, then exit")
	downOnExit := flag.Bool("down-on-exit", false, "on SIGINT or SIGTERM, delete every instance that the configured provider runs and the control plane state before exiting, as -down does. Meant for throwaway setups such as make run")
	status := flag.Bool("status", false, "print the status of the dflb that runs with this configuration, then exit")
	procsPerCPU := flag.Int("procs-per-cpu", defaultProcsPerCPU, "Go processors (GOMAXPROCS) per available CPU; the GOMAXPROCS variable overrides it")
	flag.Parse()

	logger, err := newLogger(*logFormat, *logLevel)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dflb:", err)
		os.Exit(2)
	}

	// The proxy's live heap is small. A request with a short body
	// allocates nothing, but failed requests, streamed bodies, statistics
	// snapshots and the admin API do, and with the default GOGC of 100 a
	// small heap is collected often. A higher target trades a few MiB for
	// fewer collections. GOGC in the environment still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if err := setProcs(*procsPerCPU); err != nil {
		logger.Error("invalid flag", "error", err)
		os.Exit(2)
	}
	// Prometheus needs the TYPE lines to read the latency histogram as one.
	metrics.ExposeMetadata(true)

	command := func(configPath, dataDir string, logger *slog.Logger) error {
		return run(configPath, dataDir, logger, *downOnExit)
	}
	switch {
	case *down:
		command = teardown
	case *status:
		command = showStatus
	}
	if err := command(*configPath, *dataDir, logger); err != nil {
		logger.Error("exiting", "error", err)
		os.Exit(1)
	}
}

// defaultGCPercent is the GOGC value dflb uses when the environment sets none.
const defaultGCPercent = 400

// defaultProcsPerCPU oversubscribes Go's processors. On a machine shared
// with other busy processes the kernel often preempts a thread that holds a
// processor, and the goroutines queued on it wait. With more processors
// than CPUs, other threads pick them up. In dflb-bench on 2 CPUs (median of
// 3 rounds against NGINX in the same run) the p99 ratio fell from 1.4-1.75
// with 1 per CPU to 1.1-1.3 with 2 and 0.9-1.07 with 4, at the same req/s.
const defaultProcsPerCPU = 4

// setProcs sets GOMAXPROCS to perCPU times the processors Go chose by
// default (the CPUs available to the process, within its cgroup's limit),
// unless the GOMAXPROCS variable is set.
func setProcs(perCPU int) error {
	if perCPU < 1 || perCPU > 64 {
		return fmt.Errorf("-procs-per-cpu %d is outside 1..64", perCPU)
	}
	if os.Getenv("GOMAXPROCS") != "" {
		return nil
	}
	runtime.GOMAXPROCS(perCPU * runtime.GOMAXPROCS(0))
	return nil
}

// run serves until SIGTERM or SIGINT. With downOnExit it then deletes the
// instances and the control plane state, as teardown does.
func run(configPath, dataDir string, logger *slog.Logger, downOnExit bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	app, err := newApp(ctx, configPath, dataDir, logger)
	if err != nil {
		return err
	}
	app.downOnExit = downOnExit

	reload := make(chan os.Signal, 1)
	signal.Notify(reload, syscall.SIGHUP)
	defer signal.Stop(reload)

	return app.run(ctx, reload)
}

// teardown deletes the instances of the configured provider (for the
// local provider, every DFM and component process and its state
// directory) and then the control plane's state, so that the next start
// begins from the configured layout. It refuses while a dflb runs with
// the same data directory.
func teardown(configPath, dataDir string, logger *slog.Logger) error {
	cfg, err := config.Load(configPath)
	if err != nil {
		return err
	}
	inst, err := newInstances(cfg, "", "", logger)
	if err != nil {
		return err
	}
	if inst.launcher == nil {
		return nil
	}
	statePath := filepath.Join(dataDir, stateFile)
	db, err := controlplane.OpenDB(statePath)
	if err != nil {
		return err
	}
	defer db.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := inst.teardown(ctx); err != nil {
		return err
	}
	return removeState(statePath, logger)
}

// removeState deletes the control plane state at path, after its instances,
// so that the next start begins from the configured layout.
func removeState(path string, logger *slog.Logger) error {
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("removing control plane state %s: %w", path, err)
	}
	logger.Info("instances deleted and state removed", "state", path)
	return nil
}

func newLogger(format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("invalid -log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	default:
		return nil, fmt.Errorf("invalid -log-format %q: use text or json", format)
	}
}
