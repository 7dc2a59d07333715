package agent

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/dfmapi"
)

// fakeProc is a directory laid out like /proc.
type fakeProc struct {
	t    *testing.T
	root string
}

func newFakeProc(t *testing.T) *fakeProc {
	p := &fakeProc{t: t, root: t.TempDir()}
	p.write("meminfo", "MemTotal:       16000000 kB\nMemFree:         1000000 kB\nMemAvailable:    4000000 kB\n")
	p.write("loadavg", "1.25 0.80 0.50 2/345 6789\n")
	return p
}

func (p *fakeProc) write(name, content string) {
	p.t.Helper()
	path := filepath.Join(p.root, name)
	require.NoError(p.t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(p.t, os.WriteFile(path, []byte(content), 0o644))
}

// setHost writes /proc/stat with the given busy and idle ticks.
func (p *fakeProc) setHost(busy, idle uint64) {
	p.write("stat", "cpu  "+strconv.FormatUint(busy, 10)+" 0 0 "+strconv.FormatUint(idle, 10)+" 0 0 0 0 0 0\ncpu0 1 2 3 4\n")
}

// setProcess writes /proc/<pid>/stat with a command name that contains
// spaces and a parenthesis, as real names may.
func (p *fakeProc) setProcess(pid, pgrp int, utime, stime uint64, rssPages int) {
	fields := "S 1 " + strconv.Itoa(pgrp) + " 0 0 0 0 0 0 0 0 " +
		strconv.FormatUint(utime, 10) + " " + strconv.FormatUint(stime, 10) +
		" 0 0 20 0 1 0 555 1000000 " + strconv.Itoa(rssPages) + " 0 0 0"
	p.write(filepath.Join(strconv.Itoa(pid), "stat"), strconv.Itoa(pid)+" (my (odd) app) "+fields+"\n")
}

func TestProcFSReadsHost(t *testing.T) {
	fake := newFakeProc(t)
	fake.setHost(300, 700)
	proc := procFS{root: fake.root, pageSize: 4096}

	cpu, err := proc.readHostCPU()
	require.NoError(t, err)
	assert.Equal(t, hostCPU{total: 1000, idle: 700}, cpu)

	mem, err := proc.readMemUsedFraction()
	require.NoError(t, err)
	assert.InDelta(t, 0.75, mem, 1e-9)

	load1, err := proc.readLoad1()
	require.NoError(t, err)
	assert.InDelta(t, 1.25, load1, 1e-9)
}

func TestProcStatParsesOddCommandName(t *testing.T) {
	fake := newFakeProc(t)
	fake.setProcess(42, 42, 150, 50, 10)
	st, err := procFS{root: fake.root, pageSize: 4096}.readProcStat(42)
	require.NoError(t, err)
	assert.Equal(t, procStat{pid: 42, pgrp: 42, ticks: 200, rssPages: 10, start: 555}, st)
}

func TestReadGroupsSumsProcessGroup(t *testing.T) {
	fake := newFakeProc(t)
	fake.setProcess(42, 42, 100, 0, 10)
	fake.setProcess(43, 42, 20, 5, 5)
	fake.setProcess(50, 50, 999, 999, 999)
	usage, err := procFS{root: fake.root, pageSize: 4096}.readGroups(map[int]bool{42: true})
	require.NoError(t, err)
	assert.Equal(t, map[int]groupUsage{42: {ticks: 125, rssBytes: 15 * 4096}}, usage)
}

func TestSamplerMeasuresHostAndComponent(t *testing.T) {
	fake := newFakeProc(t)
	proc := procFS{root: fake.root, pageSize: 4096}
	cfg := LoadConfig{OverloadCPU: 0.8, OverloadWindow: 2 * time.Second, LowCPU: 0.1, LowWindow: time.Hour, Hysteresis: 0.05}
	sampler := newLoadSampler(proc, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s := &supervisor{}
	s.status.PID = 42
	start := time.Unix(1000, 0)

	fake.setHost(0, 0)
	fake.setProcess(42, 42, 0, 0, 100)
	events := sampler.sample(start, []*supervisor{s})
	assert.Equal(t, loadEvents{}, events)
	assert.InDelta(t, 0.75, sampler.load().MemUsedFraction, 1e-9)

	// One second later: 90 of 100 host ticks busy, and the component used
	// 50 ticks, half a core.
	fake.setHost(90, 10)
	fake.setProcess(42, 42, 40, 10, 200)
	sampler.sample(start.Add(time.Second), []*supervisor{s})
	load := sampler.load()
	assert.InDelta(t, 0.9, load.CPU, 1e-9)
	assert.False(t, load.Overloaded)
	st := s.snapshot()
	assert.InDelta(t, 0.5, st.CPU, 1e-9)
	assert.Equal(t, int64(200*4096), st.RSSBytes)

	fake.setHost(180, 20)
	events = sampler.sample(start.Add(3*time.Second), []*supervisor{s})
	assert.True(t, events.overloaded, "0.9 held for the 2s window")
	assert.Equal(t, dfmapi.Load{CPU: 0.9, MemUsedFraction: 0.75, Load1: 1.25, Overloaded: true}, roundLoad(sampler.load()))
}

func TestSamplerKeepsLastValuesOnError(t *testing.T) {
	fake := newFakeProc(t)
	fake.setHost(10, 10)
	proc := procFS{root: fake.root, pageSize: 4096}
	sampler := newLoadSampler(proc, DefaultConfig().Load, slog.New(slog.NewTextHandler(io.Discard, nil)))
	sampler.sample(time.Unix(1, 0), nil)
	require.NoError(t, os.Remove(filepath.Join(fake.root, "loadavg")))
	sampler.sample(time.Unix(2, 0), nil)
	assert.InDelta(t, 1.25, sampler.load().Load1, 1e-9)
}

// roundLoad rounds the fractions to 1e-9 for comparison.
func roundLoad(l dfmapi.Load) dfmapi.Load {
	round := func(v float64) float64 { return float64(int64(v*1e9+0.5)) / 1e9 }
	l.CPU, l.MemUsedFraction, l.Load1 = round(l.CPU), round(l.MemUsedFraction), round(l.Load1)
	return l
}
