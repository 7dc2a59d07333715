package agent

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// leftoverWait bounds the wait for a killed leftover process to disappear.
const leftoverWait = 5 * time.Second

// killLeftovers kills the process group of every component that an earlier
// DFM started and that still runs, found through the pid files. A pid file
// whose process is gone, or belongs to another program since the PID was
// reused, is removed without killing anything. killed reports whether any
// process group was killed.
func (a *Agent) killLeftovers() (killed bool) {
	for _, s := range a.supervisors {
		logger := s.logger
		pid, err := readPIDFile(s.pidPath)
		if err != nil {
			logger.Warn("pid file ignored", "error", err)
			s.removePIDFile()
			continue
		}
		if pid == 0 {
			continue
		}
		if !a.isComponentGroup(pid, s.spec.command) {
			logger.Info("removing stale pid file; its process is gone or is another program", "pid", pid, "file", s.pidPath)
			s.removePIDFile()
			continue
		}

		logger.Warn("killing component left running by an earlier DFM", "pid", pid)
		if err := signalGroup(pid, syscall.SIGKILL); err != nil {
			logger.Error("leftover component not killed", "pid", pid, "error", err)
			continue
		}
		killed = true
		if !a.waitGone(pid) {
			logger.Error("leftover component still exists after SIGKILL", "pid", pid, "waited", leftoverWait.String())
		}
		s.removePIDFile()
	}
	return killed
}

// isComponentGroup reports whether pid runs command and leads its own
// process group, as every component that DFM starts does.
func (a *Agent) isComponentGroup(pid int, command string) bool {
	st, err := a.proc.readProcStat(pid)
	if err != nil || st.pgrp != pid {
		return false
	}
	exe, err := os.Readlink(filepath.Join(a.proc.root, strconv.Itoa(pid), "exe"))
	if err != nil {
		return false
	}
	want, err := filepath.EvalSymlinks(command)
	if err != nil {
		return false
	}
	return exe == want
}

// waitGone waits until pid has exited. A zombie with no thread left counts
// as gone, because after DFM's death its parent is init, which reaps it. The
// thread count matters because the main thread of a process turns zombie
// while other threads may still be exiting and holding its sockets.
func (a *Agent) waitGone(pid int) bool {
	deadline := a.now().Add(leftoverWait)
	dir := filepath.Join(a.proc.root, strconv.Itoa(pid))
	for {
		data, err := os.ReadFile(filepath.Join(dir, "stat"))
		if errors.Is(err, os.ErrNotExist) {
			return true
		}
		if tasks, err := os.ReadDir(filepath.Join(dir, "task")); err == nil && len(tasks) <= 1 && isZombie(data) {
			return true
		}
		if a.now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// isZombie reports whether the /proc/<pid>/stat content data has state Z.
func isZombie(data []byte) bool {
	for i := len(data) - 1; i >= 0; i-- {
		if data[i] == ')' {
			return i+2 < len(data) && data[i+2] == 'Z'
		}
	}
	return false
}
