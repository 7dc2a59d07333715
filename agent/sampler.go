package agent

import (
	"log/slog"
	"sync"
	"time"

	"github.com/dflb/dflb/dfmapi"
)

// loadSampler measures the host and the components' process groups once per
// interval. Only the agent's load goroutine calls sample; the mutex guards
// the latest result, which the API and notifications read.
type loadSampler struct {
	proc   procFS
	state  *loadState
	logger *slog.Logger

	prevHost   hostCPU
	havePrev   bool
	prevGroups map[int]groupTicks
	lastErr    string // last logged error, so that a repeated one is logged once

	mu      sync.Mutex
	current dfmapi.Load
}

// groupTicks is one earlier CPU reading of a process group.
type groupTicks struct {
	ticks uint64
	at    time.Time
}

// loadEvents are the load states that became active with a sample.
type loadEvents struct {
	overloaded bool
	low        bool
}

func newLoadSampler(proc procFS, cfg LoadConfig, logger *slog.Logger) *loadSampler {
	return &loadSampler{proc: proc, state: newLoadState(cfg), logger: logger, prevGroups: map[int]groupTicks{}}
}

// sample takes one measurement at now, stores the host load and gives each
// supervisor the CPU and RSS of its process group.
func (l *loadSampler) sample(now time.Time, supervisors []*supervisor) loadEvents {
	var events loadEvents
	load := l.load()
	err := l.sampleHost(now, &load, &events)
	if err == nil {
		err = l.sampleGroups(now, supervisors)
	}
	l.logError(err)

	l.mu.Lock()
	l.current = load
	l.mu.Unlock()
	return events
}

func (l *loadSampler) sampleHost(now time.Time, load *dfmapi.Load, events *loadEvents) error {
	cpu, err := l.proc.readHostCPU()
	if err != nil {
		return err
	}
	if l.havePrev {
		load.CPU = busyFraction(l.prevHost, cpu)
		events.overloaded, events.low = l.state.observe(now, load.CPU)
		load.Overloaded = l.state.overload.active
		load.Low = l.state.low.active
	}
	l.prevHost, l.havePrev = cpu, true

	mem, err := l.proc.readMemUsedFraction()
	if err != nil {
		return err
	}
	load1, err := l.proc.readLoad1()
	if err != nil {
		return err
	}
	load.MemUsedFraction, load.Load1 = mem, load1
	return nil
}

func (l *loadSampler) sampleGroups(now time.Time, supervisors []*supervisor) error {
	pgids := map[int]bool{}
	for _, s := range supervisors {
		if pid := s.snapshot().PID; pid != 0 {
			pgids[pid] = true
		}
	}
	usage, err := l.proc.readGroups(pgids)
	if err != nil {
		return err
	}

	next := make(map[int]groupTicks, len(pgids))
	for _, s := range supervisors {
		pid := s.snapshot().PID
		if pid == 0 {
			continue
		}
		u := usage[pid]
		next[pid] = groupTicks{ticks: u.ticks, at: now}
		cpu := 0.0
		// A group whose process exited loses that process's ticks, so a
		// drop means a new baseline, not negative use.
		if prev, ok := l.prevGroups[pid]; ok && u.ticks >= prev.ticks && now.After(prev.at) {
			cpu = float64(u.ticks-prev.ticks) / clockTicks / now.Sub(prev.at).Seconds()
		}
		s.setUsage(cpu, u.rssBytes)
	}
	l.prevGroups = next
	return nil
}

// logError logs a sampling error once until it changes or sampling recovers.
func (l *loadSampler) logError(err error) {
	switch {
	case err != nil && err.Error() != l.lastErr:
		l.logger.Error("load sampling failed; status keeps the last values", "error", err)
		l.lastErr = err.Error()
	case err == nil && l.lastErr != "":
		l.logger.Info("load sampling recovered")
		l.lastErr = ""
	}
}

// load returns the latest host load.
func (l *loadSampler) load() dfmapi.Load {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.current
}
