package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/dflb/dflb/dfmapi"
)

// commandKind is a request that the API or the agent sends to a supervisor.
type commandKind int

const (
	cmdStart commandKind = iota
	cmdSetTenants
	cmdRestart
	cmdReset
	cmdStop
)

type command struct {
	kind    commandKind
	tenants []string // nil keeps the current set
	reply   chan error
}

// stopAction is the next step of a supervisor once a process it stopped has exited.
type stopAction int

const (
	afterStopIdle    stopAction = iota // stay stopped
	afterStopRespawn                   // start again at once, as for a restart
	afterStopCrash                     // count a crash, as for a failed health check
)

// ConflictError is a request that the component's state does not allow, such
// as starting a failed component. The API returns it as 409.
type ConflictError struct{ msg string }

func (e *ConflictError) Error() string { return e.msg }

// notifyFunc sends a notification about a component.
type notifyFunc func(kind dfmapi.Kind, component, reason string)

// exitEvent reports that the process of spawn generation gen has ended.
type exitEvent struct {
	gen    int
	status exitStatus
}

// supervisor runs one component. It spawns, watches, restarts and stops its
// process. One goroutine, run, owns every field below the mutex comment, so
// the state machine needs no locks. Other goroutines talk to it through
// channels and read its status under mu.
type supervisor struct {
	cfg         ComponentConfig
	spec        spawnSpec
	host        string
	tenantsPath string
	pidPath     string
	logger      *slog.Logger
	notify      notifyFunc
	now         func() time.Time
	checker     *healthChecker
	metrics     *componentMetrics

	cmds   chan command
	exits  chan exitEvent
	probes chan probeResult
	done   chan struct{} // closed when run returns

	// Owned by run.
	ctx           context.Context
	wg            sync.WaitGroup // process waiters and probers
	policy        restartPolicy
	proc          *process
	gen           int
	phase         dfmapi.ComponentState
	wantRunning   bool
	failed        bool
	spawned       int
	upSince       time.Time
	reportedUp    bool // component_up was sent and no component_down since
	pendingReload bool // SIGHUP to send once the starting process is ready
	afterStop     stopAction
	crashReason   string // reason to report when the current stop ends as a crash
	stopWaiters   []chan error
	cancelProbe   context.CancelFunc
	backoffTimer  *time.Timer
	startTimer    *time.Timer
	killTimer     *time.Timer

	mu     sync.Mutex
	status dfmapi.ComponentStatus
}

// run handles commands and process events until ctx ends, then kills the
// process group and returns once every goroutine it started has returned.
func (s *supervisor) run(ctx context.Context) {
	defer close(s.done)
	s.ctx = ctx
	for {
		select {
		case <-ctx.Done():
			s.terminate()
			return
		case c := <-s.cmds:
			if c.kind == cmdStop {
				s.handleStop(c.reply)
				continue
			}
			c.reply <- s.handleCommand(c)
		case e := <-s.exits:
			s.handleExit(e)
		case r := <-s.probes:
			s.handleProbe(r)
		case <-timerC(s.backoffTimer):
			s.backoffTimer = nil
			s.spawn()
		case <-timerC(s.startTimer):
			s.startTimer = nil
			s.handleStartTimeout()
		case <-timerC(s.killTimer):
			s.killTimer = nil
			s.kill()
		}
	}
}

// send delivers a command to run and waits for its reply.
func (s *supervisor) send(ctx context.Context, kind commandKind, tenants []string) error {
	c := command{kind: kind, tenants: tenants, reply: make(chan error, 1)}
	select {
	case s.cmds <- c:
	case <-s.done:
		return errors.New("component supervisor has stopped")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-c.reply:
		return err
	case <-s.done:
		return errors.New("component supervisor has stopped")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// handleCommand applies every command but cmdStop.
func (s *supervisor) handleCommand(c command) error {
	switch c.kind {
	case cmdStart:
		if s.failed {
			return s.failedConflict("start")
		}
		if c.tenants != nil {
			if err := s.setTenants(c.tenants); err != nil {
				return err
			}
		}
		s.wantRunning = true
		if s.proc == nil && s.backoffTimer == nil {
			s.spawn()
		}
	case cmdSetTenants:
		return s.setTenants(c.tenants)
	case cmdRestart:
		if s.failed {
			return s.failedConflict("restart")
		}
		s.restartNow()
	case cmdReset:
		s.policy.reset()
		s.failed = false
		s.logger.Info("component reset; starting it")
		s.restartNow()
	}
	return nil
}

// handleStop stops the component for good. reply gets nil once no process
// runs, which may be after the grace period.
func (s *supervisor) handleStop(reply chan error) {
	s.wantRunning = false
	s.stopTimer(&s.backoffTimer)
	if s.proc == nil {
		if !s.failed {
			s.setPhase(dfmapi.ComponentStopped)
		}
		reply <- nil
		return
	}
	s.stopWaiters = append(s.stopWaiters, reply)
	if s.phase == dfmapi.ComponentStopping {
		s.afterStop = afterStopIdle
		return
	}
	s.stop(afterStopIdle)
}

// restartNow stops the running process and spawns a new one, or spawns at
// once when none runs. A restart is not a crash.
func (s *supervisor) restartNow() {
	s.wantRunning = true
	switch {
	case s.proc == nil:
		s.spawn()
	case s.phase == dfmapi.ComponentStopping:
		s.afterStop = afterStopRespawn
	default:
		s.stop(afterStopRespawn)
	}
}

func (s *supervisor) failedConflict(action string) error {
	return &ConflictError{msg: fmt.Sprintf("cannot %s component %q: it failed and DFM no longer restarts it; clear the state with POST %s",
		action, s.cfg.Name, dfmapi.ResetPath(s.cfg.Name))}
}

// setTenants rewrites the tenants file and makes the running process load it.
func (s *supervisor) setTenants(tenants []string) error {
	if err := writeTenantsFile(s.tenantsPath, tenants); err != nil {
		s.logger.Error("tenant set not applied", "error", err)
		return err
	}
	s.mu.Lock()
	s.status.Tenants = slices.Clone(tenants)
	s.mu.Unlock()
	s.logger.Info("tenant set written", "tenants", len(tenants), "file", s.tenantsPath)

	if s.proc == nil || s.phase == dfmapi.ComponentStopping {
		return nil
	}
	if s.cfg.TenantsReload == ReloadRestart {
		s.logger.Info("restarting component to load the new tenant set", "pid", s.proc.pid)
		s.stop(afterStopRespawn)
		return nil
	}
	if s.phase == dfmapi.ComponentStarting {
		// A process that has not installed its SIGHUP handler yet would die
		// from the signal, so it gets the signal once it is ready.
		s.pendingReload = true
		return nil
	}
	s.sendReload()
	return nil
}

// sendReload sends SIGHUP to the component's main process only, because
// other processes of its group may not handle it and would die.
func (s *supervisor) sendReload() {
	s.pendingReload = false
	if err := syscall.Kill(s.proc.pid, syscall.SIGHUP); err != nil {
		s.logger.Error("tenant reload signal failed", "pid", s.proc.pid, "error", err)
		return
	}
	s.logger.Info("sent SIGHUP to reload the tenant set", "pid", s.proc.pid)
}

// snapshot returns a copy of the component's status.
func (s *supervisor) snapshot() dfmapi.ComponentStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	st.Tenants = slices.Clone(s.status.Tenants)
	return st
}

// setUsage stores the CPU and memory of the process group, from the load
// sampler.
func (s *supervisor) setUsage(cpu float64, rss int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status.CPU = cpu
	s.status.RSSBytes = rss
}

func (s *supervisor) setPhase(phase dfmapi.ComponentState) {
	s.phase = phase
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status.State = phase
	if phase != dfmapi.ComponentStarting && phase != dfmapi.ComponentUp &&
		phase != dfmapi.ComponentUnhealthy && phase != dfmapi.ComponentStopping {
		s.status.CPU = 0
		s.status.RSSBytes = 0
	}
}

func (s *supervisor) stopTimer(t **time.Timer) {
	if *t != nil {
		(*t).Stop()
		*t = nil
	}
}

// timerC returns the channel of t, or nil when no timer is set. A nil
// channel blocks forever in a select.
func timerC(t *time.Timer) <-chan time.Time {
	if t == nil {
		return nil
	}
	return t.C
}
