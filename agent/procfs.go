package agent

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is the unit of utime and stime in /proc/<pid>/stat.
//
// NOTE: this is USER_HZ, which the kernel fixes at 100 on x86 and arm64 for
// the user-space ABI. sysconf(_SC_CLK_TCK) needs cgo to read, so it is not
// read here.
const clockTicks = 100

// procFS reads the Linux /proc file system under root, which tests replace
// with a directory of fixtures.
type procFS struct {
	root     string
	pageSize int64
}

// hostCPU is the cumulative CPU time of all cores, in clock ticks.
type hostCPU struct {
	total uint64
	idle  uint64 // idle plus iowait
}

// readHostCPU parses the "cpu" line of /proc/stat.
func (p procFS) readHostCPU() (hostCPU, error) {
	data, err := os.ReadFile(filepath.Join(p.root, "stat"))
	if err != nil {
		return hostCPU{}, fmt.Errorf("read host CPU time: %w", err)
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	fields := strings.Fields(string(line))
	if len(fields) < 5 || fields[0] != "cpu" {
		return hostCPU{}, fmt.Errorf("parse %s: first line %q is not the cpu line", filepath.Join(p.root, "stat"), line)
	}
	var cpu hostCPU
	// user nice system idle iowait irq softirq steal; guest time is
	// already part of user and nice, so it is not added again.
	for i, field := range fields[1:min(len(fields), 9)] {
		v, err := strconv.ParseUint(field, 10, 64)
		if err != nil {
			return hostCPU{}, fmt.Errorf("parse %s: field %d %q: %w", filepath.Join(p.root, "stat"), i+1, field, err)
		}
		cpu.total += v
		if i == 3 || i == 4 {
			cpu.idle += v
		}
	}
	return cpu, nil
}

// busyFraction returns the busy share of all cores between two samples.
func busyFraction(prev, cur hostCPU) float64 {
	total := float64(cur.total) - float64(prev.total)
	if total <= 0 {
		return 0
	}
	idle := float64(cur.idle) - float64(prev.idle)
	return clamp01(1 - idle/total)
}

// readMemUsedFraction returns 1 - MemAvailable/MemTotal from /proc/meminfo.
func (p procFS) readMemUsedFraction() (float64, error) {
	path := filepath.Join(p.root, "meminfo")
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read memory use: %w", err)
	}
	var total, available float64
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for scanner.Scan() {
		key, rest, ok := strings.Cut(scanner.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		switch key {
		case "MemTotal":
			total, _ = strconv.ParseFloat(fields[0], 64)
		case "MemAvailable":
			available, _ = strconv.ParseFloat(fields[0], 64)
		}
	}
	if total <= 0 {
		return 0, fmt.Errorf("parse %s: no MemTotal line", path)
	}
	return clamp01(1 - available/total), nil
}

// readLoad1 returns the one-minute load average from /proc/loadavg.
func (p procFS) readLoad1() (float64, error) {
	path := filepath.Join(p.root, "loadavg")
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read load average: %w", err)
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return 0, fmt.Errorf("parse %s: file is empty", path)
	}
	load1, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", path, err)
	}
	return load1, nil
}

// procStat contains the fields that DFM uses from /proc/<pid>/stat.
type procStat struct {
	pid      int
	pgrp     int
	ticks    uint64 // utime + stime
	rssPages int64
	start    uint64 // start time after boot, in clock ticks
}

// readProcStat parses /proc/<pid>/stat. The command name in parentheses may
// contain spaces and parentheses, so the fields are counted from the last ')'.
func (p procFS) readProcStat(pid int) (procStat, error) {
	path := filepath.Join(p.root, strconv.Itoa(pid), "stat")
	data, err := os.ReadFile(path)
	if err != nil {
		return procStat{}, err
	}

	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return procStat{}, fmt.Errorf("parse %s: no ')' after the command name", path)
	}
	// After ")": state(3) ppid(4) pgrp(5) ... utime(14) stime(15) ...
	// starttime(22) vsize(23) rss(24), numbered as in proc(5).
	fields := strings.Fields(string(data[end+1:]))

	const first = 3
	field := func(n int) (uint64, error) {
		if n-first >= len(fields) {
			return 0, fmt.Errorf("parse %s: field %d missing", path, n)
		}
		return strconv.ParseUint(fields[n-first], 10, 64)
	}

	var values [5]uint64
	for i, n := range []int{5, 14, 15, 22, 24} {
		if values[i], err = field(n); err != nil {
			return procStat{}, fmt.Errorf("parse %s: field %d: %w", path, n, err)
		}
	}
	return procStat{
		pid:      pid,
		pgrp:     int(values[0]),
		ticks:    values[1] + values[2],
		start:    values[3],
		rssPages: int64(values[4]),
	}, nil
}

// groupUsage is the summed use of one process group.
type groupUsage struct {
	ticks    uint64
	rssBytes int64
}

// readGroups sums CPU ticks and RSS per process group for the groups in
// pgids, scanning every process once.
func (p procFS) readGroups(pgids map[int]bool) (map[int]groupUsage, error) {
	entries, err := os.ReadDir(p.root)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	usage := make(map[int]groupUsage, len(pgids))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := p.readProcStat(pid)
		if err != nil {
			// The process exited between the listing and the read, which
			// is common, or its stat is unreadable. Either way it adds
			// nothing to a group.
			continue
		}
		if !pgids[st.pgrp] {
			continue
		}
		u := usage[st.pgrp]
		u.ticks += st.ticks
		u.rssBytes += st.rssPages * p.pageSize
		usage[st.pgrp] = u
	}
	return usage, nil
}

func clamp01(v float64) float64 {
	return min(max(v, 0), 1)
}
