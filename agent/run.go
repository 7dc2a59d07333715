package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/dflb/dflb/dfmapi"
)

// Run prepares the state directory, starts the API and the components, and
// returns after a graceful shutdown, which Shutdown, POST /v1/shutdown or the
// end of ctx starts. It returns an error without starting any component when
// the state directory, a component port or the listen address is unusable.
// Call Run once per Agent.
func (a *Agent) Run(ctx context.Context) error {
	ln, err := a.prepare()
	if err != nil {
		a.setState(dfmapi.InstanceStopped)
		return err
	}
	a.mu.Lock()
	a.addr = ln.Addr()
	a.mu.Unlock()
	close(a.listening)

	server := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slogErrorLog(a.logger),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- server.Serve(ln) }()
	a.logger.Info("DFM started", "listen", ln.Addr().String(), "state_dir", a.cfg.StateDir,
		"components", len(a.supervisors), "notify_url", a.cfg.Notify.URL)

	// Components and the load sampler stop with componentsCtx. The notifier
	// outlives them so that it can send shutdown_complete.
	componentsCtx, stopComponents := context.WithCancel(context.Background())
	defer stopComponents()
	notifyCtx, stopNotifier := context.WithCancel(context.Background())
	defer stopNotifier()

	var wg sync.WaitGroup
	wg.Go(func() { a.notifier.run(notifyCtx) })
	var componentsWG sync.WaitGroup
	for _, s := range a.supervisors {
		componentsWG.Go(func() { s.run(componentsCtx) })
	}
	componentsWG.Go(func() { a.sampleLoad(componentsCtx) })
	a.autostart(componentsCtx)

	var deadline time.Duration
	select {
	case deadline = <-a.shutdownReq:
		a.logger.Info("shutdown requested")
	case <-ctx.Done():
		a.logger.Info("shutdown requested", "cause", context.Cause(ctx).Error())
	case err := <-serveErr:
		a.logger.Error("API server failed; shutting down", "error", err)
	}
	a.setState(dfmapi.InstanceShuttingDown)
	if deadline <= 0 {
		deadline = a.defaultShutdownDeadline()
	}

	a.stopComponents(deadline)
	stopComponents()
	componentsWG.Wait()

	a.notify(dfmapi.KindShutdownComplete, "", "")
	flushCtx, cancelFlush := context.WithTimeout(context.Background(), shutdownFlushTimeout)
	if left := a.notifier.flush(flushCtx); left > 0 {
		a.logger.Error("notifications not delivered before exit", "undelivered", left, "waited", shutdownFlushTimeout.String())
	}
	cancelFlush()
	stopNotifier()
	wg.Wait()

	a.setState(dfmapi.InstanceStopped)
	httpCtx, cancelHTTP := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelHTTP()
	if err := server.Shutdown(httpCtx); err != nil {
		a.logger.Warn("API requests cut off at exit", "error", err)
	}
	a.logger.Info("shutdown complete")
	return nil
}

// prepare does every check and side effect that must succeed before the
// first component starts, so that DFM never runs half-configured.
func (a *Agent) prepare() (net.Listener, error) {
	for _, dir := range []string{a.cfg.StateDir, filepath.Join(a.cfg.StateDir, "components"), filepath.Join(a.cfg.StateDir, "tenants")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create state directory (state_dir): %w", err)
		}
	}
	killed := a.killLeftovers()

	errs := a.checkPorts(killed)
	for _, s := range a.supervisors {
		tenants, err := readTenantsFile(s.tenantsPath)
		if err == nil {
			err = writeTenantsFile(s.tenantsPath, tenants)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("component %q: %w", s.cfg.Name, err))
			continue
		}
		s.mu.Lock()
		s.status.Tenants = tenants
		s.mu.Unlock()
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	ln, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w; stop the program that uses the address, such as an earlier DFM, or set another listen address", a.cfg.Listen, err)
	}
	return ln, nil
}

// checkPorts returns an error naming the component for each component port
// that is in use. After leftovers were killed it waits up to leftoverWait
// for their ports, because the kernel closes a killed process's sockets
// while it exits, which may end just after the process looks gone.
func (a *Agent) checkPorts(leftoversKilled bool) []error {
	var errs []error
	for i, cc := range a.cfg.Components {
		if cc.Port == 0 {
			continue
		}
		err := checkPortFree(a.cfg.Address(), cc.Port)
		for wait := leftoverWait; err != nil && leftoversKilled && wait > 0; wait -= 50 * time.Millisecond {
			time.Sleep(50 * time.Millisecond)
			err = checkPortFree(a.cfg.Address(), cc.Port)
		}
		if err != nil {
			errs = append(errs, a.cfg.componentErrorf(i, "port", "%w", err))
		}
	}
	return errs
}

func (a *Agent) autostart(ctx context.Context) {
	for _, s := range a.supervisors {
		if !s.cfg.Autostart {
			continue
		}
		if err := s.send(ctx, cmdStart, nil); err != nil {
			s.logger.Error("component not started", "error", err)
		}
	}
}

// stopComponents stops every component in parallel, each with its stop
// signal and grace period. Components still running at the deadline are
// killed when the caller cancels their context.
func (a *Agent) stopComponents(deadline time.Duration) {
	a.logger.Info("stopping components", "deadline", deadline.String())
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range a.supervisors {
		wg.Go(func() {
			if err := s.send(ctx, cmdStop, nil); err != nil {
				s.logger.Warn("component not stopped within the shutdown deadline; killing it", "deadline", deadline.String(), "error", err)
			}
		})
	}
	wg.Wait()
}

// sampleLoad samples load every interval until ctx ends and sends overload
// and low_usage notifications.
func (a *Agent) sampleLoad(ctx context.Context) {
	ticker := time.NewTicker(a.cfg.Load.Interval)
	defer ticker.Stop()
	for {
		events := a.sampler.sample(a.now(), a.supervisors)
		load := a.sampler.load()
		if events.overloaded {
			a.logger.Warn("instance overloaded", "cpu", load.CPU, "threshold", a.cfg.Load.OverloadCPU, "window", a.cfg.Load.OverloadWindow.String())
			a.notify(dfmapi.KindOverload, "", fmt.Sprintf("host CPU %.2f at or above %.2f for %s", load.CPU, a.cfg.Load.OverloadCPU, a.cfg.Load.OverloadWindow))
		}
		if events.low {
			a.logger.Info("instance has low usage", "cpu", load.CPU, "threshold", a.cfg.Load.LowCPU, "window", a.cfg.Load.LowWindow.String())
			a.notify(dfmapi.KindLowUsage, "", fmt.Sprintf("host CPU %.2f at or below %.2f for %s", load.CPU, a.cfg.Load.LowCPU, a.cfg.Load.LowWindow))
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
