package bench

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// child is a server process that the harness started.
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	waitErr error         // valid after done is closed
}

// children tracks the processes the harness started, so that every one of
// them is stopped by its PID when the run ends.
type children struct {
	logger *slog.Logger
	list   []*child
}

// start runs path with args, with stdout and stderr going to logPath.
func (cs *children) start(name, logPath, path string, args ...string) (*child, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create log file for %s: %w", name, err)
	}
	defer logFile.Close()

	cmd := exec.Command(path, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own process group keeps a terminal's Ctrl-C away from the
		// child, so the harness stops it in order. Pdeathsig kills it if
		// the harness dies without stopping it.
		Setpgid:   true,
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, path, err)
	}

	c := &child{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.done)
	}()
	cs.list = append(cs.list, c)
	cs.logger.Info("started", "process", name, "pid", cmd.Process.Pid, "log", logPath)
	return c, nil
}

// exited returns the exit error once the process has ended, and nil while
// it runs.
func (c *child) exited() error {
	select {
	case <-c.done:
		if c.waitErr == nil {
			return fmt.Errorf("%s (pid %d) exited", c.name, c.cmd.Process.Pid)
		}
		return fmt.Errorf("%s (pid %d) exited: %w", c.name, c.cmd.Process.Pid, c.waitErr)
	default:
		return nil
	}
}

// logTail returns the last lines of the child's log, for error messages.
func (c *child) logTail(lines int) string {
	data, err := os.ReadFile(c.logPath)
	if err != nil {
		return "(log unreadable: " + err.Error() + ")"
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// stopAll sends SIGTERM to every running child, in reverse start order, and
// SIGKILL to one that has not exited after grace.
func (cs *children) stopAll(grace time.Duration) error {
	var errs []error
	for i := len(cs.list) - 1; i >= 0; i-- {
		if err := cs.stop(cs.list[i], grace); err != nil {
			errs = append(errs, err)
		}
	}
	cs.list = nil
	return errors.Join(errs...)
}

func (cs *children) stop(c *child, grace time.Duration) error {
	pid := c.cmd.Process.Pid
	select {
	case <-c.done:
		cs.logger.Info("already exited", "process", c.name, "pid", pid, "error", c.waitErr)
		return nil
	default:
	}

	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		cs.logger.Warn("SIGTERM failed", "process", c.name, "pid", pid, "error", err)
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-c.done:
		cs.logger.Info("stopped", "process", c.name, "pid", pid)
		return nil
	case <-timer.C:
	}

	cs.logger.Warn("no exit after SIGTERM, sending SIGKILL", "process", c.name, "pid", pid, "grace", grace.String())
	if err := c.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill %s (pid %d): %w", c.name, pid, err)
	}
	<-c.done
	return fmt.Errorf("%s (pid %d) ignored SIGTERM for %s and was killed", c.name, pid, grace)
}
