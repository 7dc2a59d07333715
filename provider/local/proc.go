package local

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// procStat holds the fields of /proc/<pid>/stat that the provider uses.
type procStat struct {
	state   byte // R, S, D, T, Z, ...
	session int
}

// readStat parses /proc/<pid>/stat. The command name in parentheses may
// contain spaces and parentheses, so the fields are counted from the last
// ')'.
func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return procStat{}, fmt.Errorf("parsing /proc/%d/stat: no command name", pid)
	}
	// After ")": state ppid pgrp session ...
	fields := strings.Fields(string(data[end+1:]))
	if len(fields) < 4 || len(fields[0]) != 1 {
		return procStat{}, fmt.Errorf("parsing /proc/%d/stat: too few fields", pid)
	}
	session, err := strconv.Atoi(fields[3])
	if err != nil {
		return procStat{}, fmt.Errorf("parsing /proc/%d/stat session: %w", pid, err)
	}
	return procStat{state: fields[0][0], session: session}, nil
}

// running reports whether pid is a process that has not exited. A zombie
// has exited: kill(pid, 0) still succeeds for it until its parent reaps
// it, which an init that does not reap orphans never does.
func running(pid int) bool {
	if pid <= 0 {
		return false
	}
	st, err := readStat(pid)
	return err == nil && st.state != 'Z' && st.state != 'X'
}

func cmdline(pid int) []string {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
}

// isDFM reports whether pid is a running DFM of the given configuration
// file. Checking the command line and that DFM leads its own session
// guards against a stale pid file whose PID now belongs to another
// process.
func isDFM(pid int, configPath string) bool {
	st, err := readStat(pid)
	if err != nil || st.state == 'Z' || st.state == 'X' || st.session != pid {
		return false
	}
	return slices.Contains(cmdline(pid), configPath)
}

// isComponent reports whether pid is a running component of the instance
// whose DFM session is dfmPID, or, with dfmPID 0, whose command line
// mentions the instance directory, as the rendered -tenants-file does.
func isComponent(pid, dfmPID int, dir string) bool {
	st, err := readStat(pid)
	if err != nil || st.state == 'Z' || st.state == 'X' {
		return false
	}
	if dfmPID > 0 && st.session == dfmPID {
		return true
	}
	for _, arg := range cmdline(pid) {
		if strings.HasPrefix(arg, dir+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// sessionMembers returns the running processes of session sid other than
// its leader. They include the components and anything they started,
// because setpgid keeps a process in its session.
func sessionMembers(sid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, entry := range entries {
		pid, err := strconv.Atoi(entry.Name())
		if err != nil || pid == sid {
			continue
		}
		st, err := readStat(pid)
		if err == nil && st.session == sid && st.state != 'Z' && st.state != 'X' {
			pids = append(pids, pid)
		}
	}
	return pids
}

// readPIDFile returns the PID in path, or 0 when the file is missing or
// does not contain a PID.
func readPIDFile(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// signal sends sig to pid and ignores a process that has already exited.
func signal(pid int, sig syscall.Signal) error {
	// kill(2) reads 0 and negative PIDs as process groups, and -1 as every
	// process that may be signalled.
	if pid <= 0 {
		return fmt.Errorf("sending %v: invalid PID %d", sig, pid)
	}
	err := syscall.Kill(pid, sig)
	if err == nil || errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return fmt.Errorf("sending %v to PID %d: %w", sig, pid, err)
}
