// Command dflb-bench loads DFLB, NGINX and the backend directly with wrk, on
// loopback, and prints one table per scenario. Run it from the module root:
// go run ./cmd/dflb-bench.
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dflb/dflb/bench"
)

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))

	var opts bench.Options
	flag.StringVar(&opts.DFLB, "dflb", "bin/dflb", "path of the dflb binary")
	flag.StringVar(&opts.Component, "component", "bin/component", "path of the sample component binary")
	flag.BoolVar(&opts.Build, "build", true, "build a missing -dflb or -component binary from ./cmd/dflb or ./cmd/component")
	flag.StringVar(&opts.Nginx, "nginx", "", "nginx binary (default: nginx in PATH, then /usr/sbin/nginx)")
	flag.StringVar(&opts.Wrk, "wrk", "", "wrk binary (default: wrk in PATH)")
	targets := flag.String("targets", "direct,nginx,dflb", "comma-separated targets to load: direct, nginx, dflb")
	flag.DurationVar(&opts.Duration, "duration", 10*time.Second, "length of each measured wrk run, rounded up to whole seconds")
	flag.DurationVar(&opts.Warmup, "warmup", 2*time.Second, "length of the unmeasured wrk run before each measured run; 0 skips it")
	flag.IntVar(&opts.Threads, "threads", 2, "wrk threads (-t)")
	flag.IntVar(&opts.Connections, "connections", 64, "wrk connections (-c)")
	flag.IntVar(&opts.Rounds, "rounds", 3, "times each scenario runs, targets taking turns; the report shows each target's median")
	flag.DurationVar(&opts.Deadline, "deadline", 20*time.Minute, "maximum time for the whole run")
	flag.DurationVar(&opts.StartTimeout, "start-timeout", 15*time.Second, "maximum time for each server to start answering")
	flag.BoolVar(&opts.Keep, "keep", false, "keep the temp dir with configs, scripts and server logs")
	flag.Parse()

	var err error
	if opts.Targets, err = bench.ParseTargets(*targets); err != nil {
		logger.Error("invalid -targets", "error", err)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := bench.Run(ctx, opts, os.Stdout, logger); err != nil {
		logger.Error("benchmark failed", "error", err)
		stop()
		os.Exit(1)
	}
}
