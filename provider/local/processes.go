package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// processes are the running processes of one instance.
type processes struct {
	// dfm is DFM's PID, or 0 when DFM is not running.
	dfm int
	// others are the components and every other process in DFM's session.
	others []int
}

func (ps processes) empty() bool { return ps.dfm == 0 && len(ps.others) == 0 }

// all returns DFM first, so that a signal that ends DFM reaches it before
// it can react to what happens to its components.
func (ps processes) all() []int {
	if ps.dfm == 0 {
		return ps.others
	}
	return append([]int{ps.dfm}, ps.others...)
}

// findProcesses returns the running processes of the instance from
// dfm.pid, components/*.pid and DFM's session. Each PID from a file is
// checked against /proc, so a stale file does not name an unrelated
// process.
func (p *Provider) findProcesses(name string) processes {
	var ps processes
	configPath := p.configPath(name)
	filePID := readPIDFile(p.pidPath(name))
	if isDFM(filePID, configPath) {
		ps.dfm = filePID
	} else if c := p.child(name); c != nil && running(c.pid) {
		// DFM writes dfm.pid only after it starts. Until the provider reaps
		// it, the PID of its child cannot belong to another process.
		ps.dfm = c.pid
	}

	// The kernel does not reuse a PID while a process still has it as its
	// session ID, so the session of a dead DFM still identifies its
	// leftover processes.
	session := ps.dfm
	if session == 0 && filePID > 0 && !running(filePID) {
		session = filePID
	}

	files, _ := filepath.Glob(p.componentPIDGlob(name))
	for _, file := range files {
		pid := readPIDFile(file)
		if pid > 0 && pid != ps.dfm && isComponent(pid, session, p.dir(name)) {
			ps.others = append(ps.others, pid)
		}
	}
	if session > 0 {
		ps.others = append(ps.others, sessionMembers(session)...)
	}
	slices.Sort(ps.others)
	ps.others = slices.Compact(ps.others)
	return ps
}

// signalAll sends sig to every process in pids, in order.
func signalAll(pids []int, sig syscall.Signal) error {
	var errs []error
	for _, pid := range pids {
		errs = append(errs, signal(pid, sig))
	}
	return errors.Join(errs...)
}

// killWait is the maximum time that processes get to disappear after
// SIGKILL. The kernel ends them at once unless they are in an
// uninterruptible sleep.
const killWait = 5 * time.Second

// killAll sends SIGKILL to every process of the instance and waits until
// none is running. It then removes the pid files, because a killed process
// cannot remove its own.
func (p *Provider) killAll(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, killWait)
	defer cancel()

	// A component can start a process between the scan and the signal, so
	// scan again until a scan finds nothing.
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("killing the processes of instance %s: %w", name, err)
		}
		ps := p.findProcesses(name)
		if ps.empty() {
			break
		}
		if err := signalAll(ps.all(), syscall.SIGKILL); err != nil {
			return err
		}
		p.log.Info("killed instance processes", "instance", name, "pid", ps.dfm, "others", ps.others)
		if err := waitExited(ctx, ps.all()); err != nil {
			return fmt.Errorf("processes of instance %s still running after SIGKILL: %w", name, err)
		}
	}
	p.removePIDFiles(name)
	return nil
}

func (p *Provider) removePIDFiles(name string) {
	files, _ := filepath.Glob(p.componentPIDGlob(name))
	for _, path := range append(files, p.pidPath(name)) {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			p.log.Warn("removing stale pid file failed", "instance", name, "path", path, "error", err)
		}
	}
}

// waitExited polls until none of pids is running or ctx ends.
func waitExited(ctx context.Context, pids []int) error {
	ticker := time.NewTicker(20 * time.Millisecond)
	defer ticker.Stop()
	for {
		alive := slices.DeleteFunc(slices.Clone(pids), func(pid int) bool { return !running(pid) })
		if len(alive) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("PIDs %v: %w", alive, ctx.Err())
		case <-ticker.C:
		}
	}
}
