package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/dflb/dflb/dfmapi"
)

// terminateWait bounds the wait for a process after SIGKILL when DFM stops.
const terminateWait = 5 * time.Second

// spawn starts a new process. A port in use or a failed start counts as a
// crash, so it goes through the same backoff and crash-loop limit as an exit.
func (s *supervisor) spawn() {
	s.stopTimer(&s.backoffTimer)
	if s.cfg.Port != 0 {
		if err := checkPortFree(s.host, s.cfg.Port); err != nil {
			s.logger.Error("component not started", "error", err)
			s.handleCrash(err.Error(), -1, time.Time{})
			return
		}
	}

	proc, err := startProcess(s.spec, s.now())
	if err != nil {
		s.logger.Error("component not started", "error", err)
		s.handleCrash(err.Error(), -1, time.Time{})
		return
	}
	s.gen++
	s.proc = proc
	s.spawned++
	s.mu.Lock()
	s.status.PID = proc.pid
	if s.spawned > 1 {
		s.status.Restarts++
	}
	s.mu.Unlock()
	if s.spawned > 1 {
		s.metrics.restarts.Inc()
	}
	s.setPhase(dfmapi.ComponentStarting)
	s.logger.Info("component started", "pid", proc.pid, "spawn", s.spawned, "command", s.spec.command)
	if err := writePIDFile(s.pidPath, proc.pid); err != nil {
		s.logger.Error("pid file not written", "pid", proc.pid, "error", err)
	}

	gen := s.gen
	s.wg.Go(func() {
		status := proc.wait()
		// run reads exits until the process it started has exited, even
		// while it terminates, so this send does not block for ever.
		s.exits <- exitEvent{gen: gen, status: status}
	})
	probeCtx, cancel := context.WithCancel(s.ctx)
	s.cancelProbe = cancel
	s.wg.Go(func() {
		s.checker.probe(probeCtx, gen, func(r probeResult) {
			select {
			case s.probes <- r:
			case <-probeCtx.Done():
			}
		})
	})
	s.startTimer = time.NewTimer(s.cfg.StartTimeout)
}

// handleExit processes the end of the current process.
func (s *supervisor) handleExit(e exitEvent) {
	if s.proc == nil || e.gen != s.gen {
		return
	}
	proc := s.proc
	s.proc = nil
	s.stopProbe()
	s.stopTimer(&s.startTimer)
	s.stopTimer(&s.killTimer)
	// Children of the component that outlive it would keep its port or its
	// files, so the rest of the group goes too.
	if err := signalGroup(proc.pid, syscall.SIGKILL); err != nil {
		s.logger.Warn("leftover processes of the component not killed", "pid", proc.pid, "error", err)
	}
	s.removePIDFile()
	s.mu.Lock()
	s.status.PID = 0
	s.status.LastExit = e.status.String()
	s.mu.Unlock()

	upSince := s.upSince
	s.upSince = time.Time{}
	if s.phase == dfmapi.ComponentStopping {
		s.logger.Info("component stopped", "pid", proc.pid, "exit", e.status.String())
		switch {
		case s.afterStop == afterStopCrash && s.wantRunning:
			s.handleCrash(s.crashReason, -1, upSince)
		case s.afterStop == afterStopRespawn && s.wantRunning:
			s.spawn()
		default:
			s.becomeIdle()
		}
		return
	}

	s.logger.Warn("component exited", "pid", proc.pid, "exit", e.status.String(),
		"uptime", s.now().Sub(proc.started).Round(time.Millisecond).String())
	if s.reportedUp {
		s.reportedUp = false
		s.notify(dfmapi.KindComponentDown, s.cfg.Name, e.status.String())
	}
	s.handleCrash(e.status.String(), e.status.code, upSince)
}

// handleCrash decides between a restart after backoff and the failed state.
func (s *supervisor) handleCrash(reason string, exitCode int, upSince time.Time) {
	s.metrics.crashes.Inc()
	if !s.wantRunning {
		s.becomeIdle()
		return
	}
	verdict := s.policy.crash(s.now(), upSince, exitCode)
	if verdict.failed {
		s.failed = true
		s.setPhase(dfmapi.ComponentFailed)
		s.logger.Error("component failed; DFM no longer restarts it", "reason", verdict.reason, "last_exit", reason,
			"fix", "read the component log, then POST "+dfmapi.ResetPath(s.cfg.Name))
		s.notify(dfmapi.KindComponentFailed, s.cfg.Name, verdict.reason+"; last exit: "+reason)
		s.replyStopWaiters()
		return
	}
	s.setPhase(dfmapi.ComponentBackoff)
	s.backoffTimer = time.NewTimer(verdict.delay)
	s.logger.Warn("component will restart after backoff", "reason", reason, "backoff", verdict.delay.Round(time.Millisecond).String())
}

// becomeIdle enters stopped, or keeps failed, and releases stop requests.
func (s *supervisor) becomeIdle() {
	if !s.failed {
		s.setPhase(dfmapi.ComponentStopped)
	}
	s.replyStopWaiters()
}

func (s *supervisor) replyStopWaiters() {
	for _, reply := range s.stopWaiters {
		reply <- nil
	}
	s.stopWaiters = nil
}

// handleProbe processes a readiness or health result of the current process.
func (s *supervisor) handleProbe(r probeResult) {
	if s.proc == nil || r.gen != s.gen || s.phase == dfmapi.ComponentStopping {
		return
	}
	if r.ready {
		if s.phase != dfmapi.ComponentStarting {
			return
		}
		s.stopTimer(&s.startTimer)
		s.upSince = s.now()
		s.setPhase(dfmapi.ComponentUp)
		s.reportedUp = true
		s.logger.Info("component up", "pid", s.proc.pid,
			"startup", s.upSince.Sub(s.proc.started).Round(time.Millisecond).String())
		s.notify(dfmapi.KindComponentUp, s.cfg.Name, "")
		if s.pendingReload {
			s.sendReload()
		}
		return
	}

	reason := fmt.Sprintf("health check failed %d times in a row: %v", r.fails, r.lastErr)
	s.setPhase(dfmapi.ComponentUnhealthy)
	s.logger.Warn("component unhealthy; restarting it", "pid", s.proc.pid, "error", r.lastErr, "failures", r.fails)
	if s.reportedUp {
		s.reportedUp = false
		s.notify(dfmapi.KindComponentDown, s.cfg.Name, reason)
	}
	s.crashReason = reason
	s.stop(afterStopCrash)
}

func (s *supervisor) handleStartTimeout() {
	if s.proc == nil || s.phase != dfmapi.ComponentStarting {
		return
	}
	s.crashReason = fmt.Sprintf("not ready within start_timeout %s", s.cfg.StartTimeout)
	s.logger.Warn("component not ready in time; stopping it", "pid", s.proc.pid, "start_timeout", s.cfg.StartTimeout.String())
	s.stop(afterStopCrash)
}

// stop sends the stop signal to the process group and arms the SIGKILL
// timer. then is the step after the process has exited.
func (s *supervisor) stop(then stopAction) {
	s.afterStop = then
	s.setPhase(dfmapi.ComponentStopping)
	s.stopTimer(&s.startTimer)
	s.stopProbe()
	s.pendingReload = false

	sig := s.cfg.stopSignal
	if sig == syscall.SIGKILL || s.cfg.Grace == 0 {
		s.kill()
		return
	}
	s.logger.Info("stopping component", "pid", s.proc.pid, "signal", signalName(sig), "grace", s.cfg.Grace.String())
	if err := s.proc.signalGroup(sig); err != nil {
		s.logger.Error("stop signal not sent; killing the process group", "pid", s.proc.pid, "error", err)
		s.kill()
		return
	}
	s.killTimer = time.NewTimer(s.cfg.Grace)
}

// kill sends SIGKILL to the process group of a process that did not stop.
func (s *supervisor) kill() {
	if s.proc == nil {
		return
	}
	s.logger.Warn("component did not stop within its grace period; sending SIGKILL to its process group",
		"pid", s.proc.pid, "grace", s.cfg.Grace.String())
	if err := s.proc.signalGroup(syscall.SIGKILL); err != nil {
		s.logger.Error("SIGKILL not sent", "pid", s.proc.pid, "error", err)
	}
}

// terminate kills the process group when DFM stops without a graceful
// shutdown, and reaps the process.
func (s *supervisor) terminate() {
	s.stopTimer(&s.backoffTimer)
	s.stopTimer(&s.startTimer)
	s.stopTimer(&s.killTimer)
	s.stopProbe()
	if s.proc != nil {
		s.logger.Warn("killing component because DFM is stopping", "pid", s.proc.pid)
		if err := s.proc.signalGroup(syscall.SIGKILL); err != nil {
			s.logger.Error("SIGKILL not sent", "pid", s.proc.pid, "error", err)
		}
		timeout := time.NewTimer(terminateWait)
		defer timeout.Stop()
		for s.proc != nil {
			select {
			case e := <-s.exits:
				if e.gen == s.gen {
					s.proc = nil
				}
			case <-timeout.C:
				// NOTE: a process in uninterruptible sleep ignores SIGKILL
				// for a while. Its waiter goroutine then outlives run.
				s.logger.Error("component did not exit after SIGKILL", "pid", s.proc.pid, "waited", terminateWait.String())
				s.removePIDFile()
				s.replyStopWaiters()
				return
			}
		}
		s.removePIDFile()
	}
	if !s.failed {
		s.setPhase(dfmapi.ComponentStopped)
	}
	s.mu.Lock()
	s.status.PID = 0
	s.mu.Unlock()
	s.replyStopWaiters()
	s.wg.Wait()
}

func (s *supervisor) stopProbe() {
	if s.cancelProbe != nil {
		s.cancelProbe()
		s.cancelProbe = nil
	}
}

func (s *supervisor) removePIDFile() {
	if err := os.Remove(s.pidPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.logger.Warn("pid file not removed", "file", s.pidPath, "error", err)
	}
}

// checkPortFree returns an error when another process listens on host:port.
func checkPortFree(host string, port int) error {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("port %d on %s is already in use; stop the process listening there or set another port: %w", port, host, err)
	}
	return ln.Close()
}
