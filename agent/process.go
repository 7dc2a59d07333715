package agent

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is one spawned component process. Its PID is also its process
// group ID, because it is started with Setpgid.
type process struct {
	cmd     *exec.Cmd
	pid     int
	started time.Time
}

// exitStatus is the end state of a process.
type exitStatus struct {
	err  error // from exec.Cmd.Wait: nil for exit status 0
	code int   // exit code, or -1 when a signal ended the process
}

// String returns the exit in the words of os.ProcessState, such as
// "exit status 1" or "signal: killed".
func (e exitStatus) String() string {
	if e.err == nil {
		return "exit status 0"
	}
	return e.err.Error()
}

// spawnSpec contains the program, arguments, environment and log file of
// one component.
type spawnSpec struct {
	command string
	args    []string
	env     []string
	logFile string
}

// startProcess starts the component in its own process group, with stdout
// and stderr appended to spec.logFile. Pdeathsig makes the kernel send
// SIGKILL to the process when DFM dies, even from SIGKILL.
//
// NOTE: Pdeathsig fires when the OS thread that started the child exits, not
// only the process. The Go runtime does not end threads of goroutines that
// are not locked to them, so this holds for DFM. It reaches only the direct
// child: a grandchild in the group survives DFM's death until the next DFM
// kills the group at start (see killLeftovers).
func startProcess(spec spawnSpec, now time.Time) (*process, error) {
	logFile, err := os.OpenFile(spec.logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open component log: %w", err)
	}
	// The child keeps its own descriptor, so DFM's copy closes after start.
	defer logFile.Close()

	cmd := exec.Command(spec.command, spec.args...)
	cmd.Env = spec.env
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.command, err)
	}
	return &process{cmd: cmd, pid: cmd.Process.Pid, started: now}, nil
}

// wait reaps the process. Every started process gets exactly one wait, so
// no zombie is left.
func (p *process) wait() exitStatus {
	err := p.cmd.Wait()
	code := p.cmd.ProcessState.ExitCode()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		// Wait failed for another reason than a non-zero exit, such as a
		// failed copy of output. The process has still ended.
		code = -1
	}
	return exitStatus{err: err, code: code}
}

// signalGroup sends sig to every process in the component's process group.
// A group that no longer exists is not an error.
func (p *process) signalGroup(sig syscall.Signal) error {
	return signalGroup(p.pid, sig)
}

func signalGroup(pgid int, sig syscall.Signal) error {
	err := syscall.Kill(-pgid, sig)
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("send %s to process group %d: %w", signalName(sig), pgid, err)
	}
	return nil
}

// signalName returns the conventional name, such as SIGTERM.
func signalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGQUIT:
		return "SIGQUIT"
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGUSR1:
		return "SIGUSR1"
	case syscall.SIGUSR2:
		return "SIGUSR2"
	case syscall.SIGKILL:
		return "SIGKILL"
	}
	return sig.String()
}

// writePIDFile writes pid followed by a newline, through a temporary file
// and a rename so that a reader never sees a partial number.
func writePIDFile(path string, pid int) error {
	return writeFileAtomic(path, []byte(strconv.Itoa(pid)+"\n"))
}

// readPIDFile returns the PID in path, or 0 when the file does not exist.
func readPIDFile(path string) (int, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid < 1 {
		return 0, fmt.Errorf("pid file %s contains %q, not a process ID; delete it", path, strings.TrimSpace(string(data)))
	}
	return pid, nil
}

// writeFileAtomic replaces path with data. A reader opens either the old or
// the new file, never a partial one, because rename is atomic within a
// directory.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, writeErr := tmp.Write(data)
	closeErr := tmp.Close()
	if err := errors.Join(writeErr, closeErr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
