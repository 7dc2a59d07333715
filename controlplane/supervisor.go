package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/dflb/dflb/balancer"
	"github.com/dflb/dflb/dfmapi"
	"github.com/dflb/dflb/provider"
)

// Supervisor polls every instance's DFM and keeps the pool's backend
// health in step with it. Polling recovers from component notifications
// that were lost, and it finds instances that hang and post nothing.
// An unresponsive instance leaves rotation and is restarted through the
// provider, up to MaxRestarts times until it responds again.
//
// When most instances stop responding at once, the fault is more likely
// in the checks (DFLB's network, or the secret) than in the instances, so
// the supervisor then changes nothing and logs an alert.
type Supervisor struct {
	Provider provider.Provider
	Pool     *balancer.Pool
	// Secret is the bearer secret of every DFM.
	Secret string
	// Interval is the time between two polls. Default 1 s.
	Interval time.Duration
	// Timeout bounds one status request, with no retry, so that a hung DFM
	// counts as one failed poll within Timeout. Default 1 s.
	//
	// NOTE: a pass also waits for Provider.List, and the local provider's
	// List probes every DFM's /healthz, so there a hung instance adds the
	// provider's HealthTimeout to every pass.
	Timeout time.Duration
	// Failures is the number of consecutive failed polls that make an
	// instance unresponsive. Default 3.
	Failures int
	// Hold is how long a backend marked down stays out of rotation when no
	// later poll or notification brings it back. Default 30 s.
	Hold time.Duration
	// MaxRestarts is the number of restarts of an instance that does not
	// respond again, after which the supervisor logs an alert and stops
	// restarting it. Default 3.
	MaxRestarts int
	// Observe, when set, is called with the outcome of every poll.
	Observe func(name string, status dfmapi.Status, err error)
	// Abandon, when set, is called once when an instance has used up its
	// restarts, so that the control plane replaces it.
	Abandon func(name string)
	// Supervised, when set, reports which listed instances to poll: the
	// control plane excludes those it is creating or removing.
	Supervised func(name string) bool
	Logger     *slog.Logger

	initOnce sync.Once
	http     *retryablehttp.Client

	// restarts tracks the restart goroutines, so that Run returns only
	// after they ended.
	restarts sync.WaitGroup

	mu           sync.Mutex
	instances    map[string]*instanceHealth // by provider instance ID
	suspect      bool
	listFailures int // consecutive failed List calls
}

// instanceHealth is the state that the supervisor keeps about one instance
// between polls. Supervisor.mu guards it.
type instanceHealth struct {
	// failures counts consecutive failed polls. Polls during a restart are
	// not counted, and a finished restart resets the count, so that the new
	// DFM gets Failures polls before the next restart.
	failures int
	lastErr  error
	// down is set once the supervisor took the instance out of rotation,
	// and cleared by the next successful poll.
	down       bool
	restarts   int // restarts since the instance last responded
	restarting bool
	abandoned  bool // MaxRestarts reached and the alert logged
	rejected   bool // DFM rejected the status request and this was logged
}

// pollResult is the outcome of one status request.
type pollResult struct {
	inst   provider.Instance
	status dfmapi.Status
	err    error
}

// Run polls at once and then every Interval until ctx ends. It returns
// after the restarts it started have ended, which they do with ctx.
func (s *Supervisor) Run(ctx context.Context) {
	defer s.restarts.Wait()

	ticker := time.NewTicker(s.interval())
	defer ticker.Stop()
	for {
		s.Poll(ctx)

		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// Poll requests the status of every instance that the provider lists and
// applies it to the pool. It does not wait for the restarts that it
// starts, which end with ctx.
func (s *Supervisor) Poll(ctx context.Context) {
	s.init()

	instances, err := s.Provider.List(ctx)
	if err != nil && ctx.Err() != nil {
		return
	}
	if err != nil {
		s.listFailed(err)
		return
	}

	if s.Supervised != nil {
		instances = slices.DeleteFunc(instances, func(inst provider.Instance) bool { return !s.Supervised(inst.Name) })
	}
	results := s.pollAll(ctx, instances)
	if ctx.Err() != nil {
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listFailures > 0 {
		s.logger().Info("listing instances works again", "failures", s.listFailures)
		s.listFailures = 0
	}
	s.apply(ctx, results, time.Now())
}

// listFailed logs the first failed List at Warn and the repeats at Debug,
// because a provider outage would otherwise log once per Interval.
func (s *Supervisor) listFailed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	s.listFailures++
	level := slog.LevelDebug
	if s.listFailures == 1 {
		level = slog.LevelWarn
	}
	s.logger().Log(context.Background(), level, "listing instances failed, so backend health stays as it is",
		"failures", s.listFailures, "error", err)
}

// pollAll requests every status at once, so that hung instances cost one
// Timeout per pass instead of one each.
func (s *Supervisor) pollAll(ctx context.Context, instances []provider.Instance) []pollResult {
	results := make([]pollResult, len(instances))
	var wg sync.WaitGroup
	for i, inst := range instances {
		wg.Go(func() {
			results[i] = s.pollOne(ctx, inst)
		})
	}
	wg.Wait()
	return results
}

func (s *Supervisor) pollOne(ctx context.Context, inst provider.Instance) pollResult {
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()

	client := &dfmapi.Client{BaseURL: inst.DFMURL, Token: s.Secret, HTTP: s.http}
	status, err := client.Status(ctx)
	if err != nil {
		err = fmt.Errorf("requesting status of instance %s: %w", inst.Name, err)
	}
	if s.Observe != nil && !isRejected(err) {
		s.Observe(inst.Name, status, err)
	}
	return pollResult{inst: inst, status: status, err: err}
}

// apply records one pass and acts on it. The caller holds s.mu.
func (s *Supervisor) apply(ctx context.Context, results []pollResult, now time.Time) {
	listed := make(map[string]*instanceHealth, len(results))
	var unresponsive []pollResult
	for _, r := range results {
		h := s.health(r.inst.ID)
		listed[r.inst.ID] = h

		switch {
		case h.restarting:
			// The old DFM may still respond while it shuts down, and the new
			// one does not respond yet, so neither outcome is counted.
		case r.err == nil:
			s.responded(r.inst, h, r.status, now)
		case isRejected(r.err):
			s.rejected(r.inst, h, r.err)
		default:
			h.failures++
			h.lastErr = r.err
			s.logger().Debug("status request failed", "instance", r.inst.Name, "failures", h.failures, "error", r.err)
		}

		if h.failures >= s.failureLimit() {
			unresponsive = append(unresponsive, r)
		}
	}
	s.instances = listed

	if s.checksSuspect(len(unresponsive), len(results)) {
		return
	}
	for _, r := range unresponsive {
		s.unresponsive(ctx, r.inst, listed[r.inst.ID], now)
	}
}

// health returns the state of the instance with the given ID, or a new one.
// Instances no longer listed are forgotten by apply.
func (s *Supervisor) health(id string) *instanceHealth {
	if h, ok := s.instances[id]; ok {
		return h
	}
	return &instanceHealth{}
}

// isRejected reports whether DFM responded to the status request with a
// 4xx, such as 401 for a wrong secret. DFM runs then, so a restart would
// not help.
func isRejected(err error) bool {
	var apiErr *dfmapi.APIError
	return errors.As(err, &apiErr) && apiErr.StatusCode >= 400 && apiErr.StatusCode < 500
}

func (s *Supervisor) rejected(inst provider.Instance, h *instanceHealth, err error) {
	h.failures = 0
	if h.rejected {
		return
	}
	h.rejected = true
	s.logger().Error("DFM rejected the status request, so backend health stays as it is until DFM accepts it",
		"instance", inst.Name, "error", err, "fix", "check that DFLB and DFM share the same secret")
}

// responded applies a status that DFM returned: the state of each
// component decides whether its backends are in rotation.
func (s *Supervisor) responded(inst provider.Instance, h *instanceHealth, status dfmapi.Status, now time.Time) {
	if h.down {
		s.logger().Info("instance responsive again", "instance", inst.Name, "restarts", h.restarts)
	}
	*h = instanceHealth{restarting: h.restarting}

	for _, comp := range status.Components {
		if comp.State == dfmapi.ComponentUp {
			s.markUp(inst.Name, comp.Name)
		} else {
			s.markDown(inst.Name, comp.Name, "component "+string(comp.State), now)
		}
	}
}

// checksSuspect reports whether so many instances are unresponsive at once
// that the checks themselves are more likely broken. It logs the alert
// when this starts and a notice when it ends.
func (s *Supervisor) checksSuspect(unresponsive, listed int) bool {
	suspect := unresponsive >= 2 && 2*unresponsive > listed
	if suspect == s.suspect {
		return suspect
	}

	s.suspect = suspect
	if suspect {
		s.logger().Error("health checks are suspect: more than half of the instances are unresponsive at once, so routes stay as they are and no instance is restarted",
			"unresponsive", unresponsive, "instances", listed,
			"fix", "check DFLB's network to the instances and the DFM secret")
	} else {
		s.logger().Info("health checks no longer suspect", "unresponsive", unresponsive, "instances", listed)
	}
	return suspect
}

// unresponsive takes the instance out of rotation and restarts it. Every
// pass marks the backends down again, so that Hold does not end while the
// instance stays unresponsive.
func (s *Supervisor) unresponsive(ctx context.Context, inst provider.Instance, h *instanceHealth, now time.Time) {
	s.markDown(inst.Name, "", "instance unresponsive", now)
	if !h.down {
		h.down = true
		s.logger().Warn("instance unresponsive, backends taken out of rotation", "instance", inst.Name,
			"failures", h.failures, "error", h.lastErr)
	}

	if h.restarting {
		return
	}
	if h.restarts >= s.maxRestarts() {
		s.abandon(inst, h)
		return
	}
	h.restarts++
	h.restarting = true
	s.restarts.Go(func() {
		s.restart(ctx, inst, h)
	})
}

func (s *Supervisor) abandon(inst provider.Instance, h *instanceHealth) {
	if h.abandoned {
		return
	}
	h.abandoned = true
	s.logger().Error("alert: instance does not recover after its restarts", "instance", inst.Name, "restarts", h.restarts,
		"error", h.lastErr)
	if s.Abandon != nil {
		s.Abandon(inst.Name)
	}
}

func (s *Supervisor) restart(ctx context.Context, inst provider.Instance, h *instanceHealth) {
	s.mu.Lock()
	attempt := h.restarts
	s.mu.Unlock()

	s.logger().Info("restarting instance", "instance", inst.Name, "attempt", attempt, "max_restarts", s.maxRestarts())
	started := time.Now()
	err := s.Provider.Restart(ctx, inst.ID)

	s.mu.Lock()
	h.restarting = false
	h.failures = 0
	s.mu.Unlock()

	took := time.Since(started).Round(time.Millisecond).String()
	if err != nil && ctx.Err() != nil {
		s.logger().Info("restart of instance ended by shutdown", "instance", inst.Name, "attempt", attempt, "took", took)
		return
	}
	if err != nil {
		s.logger().Warn("restarting instance failed", "instance", inst.Name, "attempt", attempt, "took", took,
			"error", err)
		return
	}
	s.logger().Info("instance restarted", "instance", inst.Name, "attempt", attempt, "took", took)
}

// markUp clears the down mark of the component's backends. This brings a
// backend back when DFM's component_up notification was lost.
func (s *Supervisor) markUp(instance, component string) {
	markUp(s.Pool, s.logger(), instance, component, "polled from DFM")
}

// markDown takes the backends of the instance out of rotation for Hold,
// those of one component or, for an empty component, all of them.
func (s *Supervisor) markDown(instance, component, reason string, now time.Time) {
	markDown(s.Pool, s.logger(), instance, component, now.Add(s.hold()), "polled from DFM", reason)
}

func (s *Supervisor) init() {
	s.initOnce.Do(func() {
		c := retryablehttp.NewClient()
		c.RetryMax = 0
		c.HTTPClient.Timeout = s.timeout()
		c.ErrorHandler = retryablehttp.PassthroughErrorHandler
		c.Logger = nil
		s.http = c
	})
}

func (s *Supervisor) interval() time.Duration {
	return positiveOr(s.Interval, time.Second)
}

func (s *Supervisor) timeout() time.Duration {
	return positiveOr(s.Timeout, time.Second)
}

func (s *Supervisor) hold() time.Duration {
	return positiveOr(s.Hold, 30*time.Second)
}

func (s *Supervisor) failureLimit() int {
	return positiveOr(s.Failures, 3)
}

func (s *Supervisor) maxRestarts() int {
	return positiveOr(s.MaxRestarts, 3)
}

func (s *Supervisor) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

func positiveOr[T int | time.Duration](v, fallback T) T {
	if v > 0 {
		return v
	}
	return fallback
}
