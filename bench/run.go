// Package bench runs DFLB and NGINX side by side on loopback and loads both,
// and the backend directly, with wrk. It starts every server itself, prints
// one table per scenario and stops every process it started.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"time"
)

// Options configures a benchmark run.
type Options struct {
	DFLB      string // path of the dflb binary
	Component string // path of the sample component binary
	// Build builds a missing DFLB or Component binary with `go build` from
	// ./cmd/dflb or ./cmd/component, relative to the working directory.
	Build       bool
	Nginx       string   // nginx binary; empty looks in PATH, then /usr/sbin/nginx
	Wrk         string   // wrk binary; empty looks in PATH
	Targets     []string // subset of direct, nginx, dflb
	Duration    time.Duration
	Warmup      time.Duration // unmeasured wrk run before each measured one; 0 skips it
	Threads     int
	Connections int
	// Rounds repeats every scenario this many times, the targets taking
	// turns in an order rotated by one each round, and reports each target's
	// median. On a shared 2-core machine
	// one run can differ from the next by 10 % or more.
	Rounds       int
	Deadline     time.Duration // for the whole run
	StartTimeout time.Duration // for each server to pass its readiness probes
	Keep         bool          // keep the temp dir with configs and logs
}

// harness is the state of one run.
type harness struct {
	opts   Options
	logger *slog.Logger
	out    io.Writer
	dir    string
	nginx  string
	wrk    string
	procs  *children
}

// Run runs the benchmark and writes the report to out. It returns an error
// when a server fails to start, a wrk run fails, or a measured run had failed
// requests. In that last case the report is written too.
func Run(ctx context.Context, opts Options, out io.Writer, logger *slog.Logger) (err error) {
	if err := opts.validate(); err != nil {
		return err
	}
	h := &harness{opts: opts, logger: logger, out: out, procs: &children{logger: logger}}
	if err := h.findTools(ctx); err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, opts.Deadline)
	defer cancel()

	fmt.Fprint(out, DescribeMachine(ctx, h.nginx, h.wrk).String())
	fmt.Fprintf(out, "rounds:  %d per scenario, targets taking turns; each figure is the median\n", opts.Rounds)

	if err := checkPortsFree(h.addresses()...); err != nil {
		return err
	}
	h.dir, err = os.MkdirTemp("", "dflb-bench-*")
	if err != nil {
		return fmt.Errorf("create temp dir: %w", err)
	}
	defer h.cleanup(&err)

	if err := h.startAll(ctx); err != nil {
		return err
	}
	return h.measureAll(ctx)
}

func (o Options) validate() error {
	switch {
	case len(o.Targets) == 0:
		return errors.New("no target to benchmark: set -targets")
	case o.Duration < time.Second:
		return fmt.Errorf("duration %s is shorter than wrk's minimum of 1s: raise -duration", o.Duration)
	case o.Warmup < 0:
		return fmt.Errorf("invalid warmup %s: use 0 to skip the warmup", o.Warmup)
	case o.Threads < 1 || o.Connections < o.Threads:
		return fmt.Errorf("invalid wrk load of %d threads and %d connections: need at least 1 thread and one connection per thread", o.Threads, o.Connections)
	case o.Rounds < 1:
		return fmt.Errorf("invalid rounds %d: need at least 1", o.Rounds)
	case o.StartTimeout <= 0:
		return fmt.Errorf("invalid start timeout %s: need a positive duration", o.StartTimeout)
	}

	runs := time.Duration(2 * len(o.Targets) * o.Rounds)
	needed := runs*(o.Warmup+o.Duration) + 3*o.StartTimeout
	if o.Deadline < needed {
		return fmt.Errorf("deadline %s is shorter than the %s that %d wrk runs and server starts may take: raise -deadline", o.Deadline, needed, runs)
	}
	return nil
}

func (h *harness) findTools(ctx context.Context) error {
	var err error
	if h.wrk, err = FindWrk(h.opts.Wrk); err != nil {
		return err
	}
	if slices.Contains(h.opts.Targets, TargetNginx) {
		if h.nginx, err = FindNginx(h.opts.Nginx); err != nil {
			return err
		}
	}
	if err := h.ensureBinary(ctx, h.opts.Component, "./cmd/component"); err != nil {
		return err
	}
	if slices.Contains(h.opts.Targets, TargetDFLB) {
		return h.ensureBinary(ctx, h.opts.DFLB, "./cmd/dflb")
	}
	return nil
}

// ensureBinary builds pkg into path when path does not exist and Build is set.
func (h *harness) ensureBinary(ctx context.Context, path, pkg string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("check binary %s: %w", path, err)
	}
	if !h.opts.Build {
		return fmt.Errorf("binary %s not found: build it (go build -o %s %s) or pass -build", path, path, pkg)
	}

	h.logger.Info("building missing binary", "path", path, "package", pkg)
	out, err := exec.CommandContext(ctx, "go", "build", "-o", path, pkg).CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build -o %s %s failed (run from the module root): %w\n%s", path, pkg, err, out)
	}
	return nil
}

// addresses returns the listen addresses this run needs.
func (h *harness) addresses() []string {
	addrs := []string{addrI1, addrI2}
	if slices.Contains(h.opts.Targets, TargetNginx) {
		addrs = append(addrs, addrNginx)
	}
	if slices.Contains(h.opts.Targets, TargetDFLB) {
		addrs = append(addrs, addrDFLB, addrDFLBAdmin)
	}
	return addrs
}

func (h *harness) startAll(ctx context.Context) error {
	if err := h.startComponents(ctx); err != nil {
		return err
	}
	if slices.Contains(h.opts.Targets, TargetNginx) {
		if err := h.startNginx(ctx); err != nil {
			return err
		}
	}
	if slices.Contains(h.opts.Targets, TargetDFLB) {
		if err := h.startDFLB(ctx); err != nil {
			return err
		}
	}
	return h.writeScripts()
}

// measureAll runs every scenario against every target, prints the tables
// and ratio lines, and ends with the Zipf scenario's ratio line.
func (h *harness) measureAll(ctx context.Context) error {
	var all []Measurement
	var ratios []string
	for _, sc := range h.scenarios() {
		rounds := make(map[string][]WrkResult, len(h.opts.Targets))
		for round := range h.opts.Rounds {
			// Each round starts with the next target, so that no target
			// always runs right after the same other one.
			for i := range h.opts.Targets {
				target := h.opts.Targets[(round+i)%len(h.opts.Targets)]
				result, err := h.measure(ctx, sc, target)
				if err != nil {
					return err
				}
				rounds[target] = append(rounds[target], result)
			}
		}
		var ms []Measurement
		for _, target := range h.opts.Targets {
			ms = append(ms, Measurement{Scenario: sc.name, Target: target, Result: Median(rounds[target])})
		}
		if err := WriteTable(h.out, sc.name, ms); err != nil {
			return err
		}
		if _, err := WriteErrors(h.out, ms); err != nil {
			return err
		}
		if line, ok := RoundsLine(rounds[TargetNginx], rounds[TargetDFLB]); ok && h.opts.Rounds > 1 {
			fmt.Fprintln(h.out, line)
		}
		ratio, ok := RatioLine(ms)
		switch {
		case ok:
			fmt.Fprintln(h.out, ratio)
		case slices.Contains(h.opts.Targets, TargetNginx) && slices.Contains(h.opts.Targets, TargetDFLB):
			fmt.Fprintln(h.out, "dflb/nginx: n/a because nginx reported 0 req/s or a p99 of 0")
		}
		ratios = append(ratios, ratio)
		all = append(all, ms...)
	}

	failed := 0
	for _, m := range all {
		if m.Result.Errors() > 0 {
			failed++
		}
	}
	if last := ratios[len(ratios)-1]; last != "" {
		fmt.Fprintln(h.out)
		fmt.Fprintln(h.out, last)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d measured wrk runs had failed requests: see the lines starting with !!! above and the logs (run with -keep to keep them)", failed, len(all))
	}
	return nil
}

func (h *harness) measure(ctx context.Context, sc scenario, target string) (WrkResult, error) {
	args := sc.args(target)
	if h.opts.Warmup > 0 {
		h.logger.Info("warming up", "scenario", sc.name, "target", target, "duration", h.opts.Warmup.String())
		if _, err := h.runWrk(ctx, h.opts.Warmup, args); err != nil {
			return WrkResult{}, fmt.Errorf("warmup of %q against %s: %w", sc.name, target, err)
		}
	}
	h.logger.Info("measuring", "scenario", sc.name, "target", target, "duration", h.opts.Duration.String())
	result, err := h.runWrk(ctx, h.opts.Duration, args)
	if err != nil {
		return WrkResult{}, fmt.Errorf("measured run of %q against %s: %w", sc.name, target, err)
	}
	h.logger.Info("measured", "scenario", sc.name, "target", target,
		"rps", fmt.Sprintf("%.0f", result.RPS), "p99", result.P99.String(), "errors", result.Errors())
	return result, nil
}

// cleanup stops every child and removes the temp dir unless Keep is set.
// Errors are joined into *err.
func (h *harness) cleanup(err *error) {
	if stopErr := h.procs.stopAll(10 * time.Second); stopErr != nil {
		*err = errors.Join(*err, stopErr)
	}
	if h.opts.Keep {
		h.logger.Info("keeping temp dir", "dir", h.dir)
		return
	}
	if *err != nil {
		h.logger.Info("removing temp dir with configs and logs; rerun with -keep to inspect them", "dir", h.dir)
	}
	if rmErr := os.RemoveAll(h.dir); rmErr != nil {
		*err = errors.Join(*err, fmt.Errorf("remove temp dir %s: %w", h.dir, rmErr))
	}
}
