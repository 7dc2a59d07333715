// Command dfm runs DFM, the agent of one instance: it supervises the
// instance's components, serves DFM's HTTP API and notifies DFLB. See
// package agent.
//
//	dfm -config /path/to/dfm.yaml
//
// The bearer secret comes from the environment variable that token_env
// names (DFM_TOKEN by default). SIGTERM or SIGINT starts a graceful
// shutdown, like POST /v1/shutdown. dfm writes its PID to state_dir/dfm.pid
// and removes the file when it exits cleanly.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/dflb/dflb/agent"
)

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(logger); err != nil {
		logger.Error("DFM failed", "error", err)
		os.Exit(1)
	}
}

func run(logger *slog.Logger) error {
	configPath := flag.String("config", "dfm.yaml", "path of the DFM configuration file (YAML)")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q; dfm takes only flags, such as -config dfm.yaml", flag.Args())
	}

	cfg, err := agent.Load(*configPath)
	if err != nil {
		return err
	}
	a, err := agent.New(cfg, agent.Options{Token: os.Getenv(cfg.TokenEnv), Logger: logger})
	if err != nil {
		return err
	}

	pidFile := filepath.Join(cfg.StateDir, "dfm.pid")
	if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
		return fmt.Errorf("create state directory (state_dir): %w", err)
	}
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	defer func() {
		if err := os.Remove(pidFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			logger.Warn("pid file not removed", "file", pidFile, "error", err)
		}
	}()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		// A second signal falls back to the default action and ends DFM at
		// once. The components still die with it through PR_SET_PDEATHSIG.
		stop()
	}()
	return a.Run(ctx)
}
