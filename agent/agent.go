// Package agent is DFM, the agent that runs on each instance. It supervises
// the instance's components as child processes, gives them their tenant
// sets, measures host and component load, serves an HTTP API to DFLB and
// posts notifications about what changed.
//
// Each component runs in its own process group with PR_SET_PDEATHSIG set to
// SIGKILL, so the kernel kills it when DFM dies. When DFM starts and finds a
// pid file of a component that is still running, it kills that component's
// process group instead of adopting it. The reason is that DFM cannot wait
// for a process that is not its child, so it could neither get the exit
// status nor reap it.
//
// Package dfmapi has the wire types of the API and the notifications.
package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/dflb/dflb/dfmapi"
)

// Defaults of Options.
const (
	defaultNotifyWaitMin = 500 * time.Millisecond
	defaultNotifyWaitMax = 10 * time.Second
	// shutdownFlushTimeout bounds the wait for shutdown_complete and the
	// notifications before it to reach the receiver, so that DFM exits
	// even while the receiver is down.
	shutdownFlushTimeout = 5 * time.Second
)

// Options are the run-time settings of an Agent that are not in its
// configuration file.
type Options struct {
	// Token is the bearer secret for the API and notifications. Required.
	Token string
	// Logger receives DFM's logs. Nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// ProcRoot is the proc file system for load sampling. Empty means /proc.
	ProcRoot string
	// NotifyRetryMin and NotifyRetryMax bound the backoff between delivery
	// rounds while the receiver is down. Zero means 500ms and 10s.
	NotifyRetryMin time.Duration
	NotifyRetryMax time.Duration
}

// Agent is one DFM. Create it with New and start it with Run.
type Agent struct {
	cfg         *Config
	token       []byte
	logger      *slog.Logger
	now         func() time.Time
	proc        procFS
	supervisors []*supervisor
	byName      map[string]*supervisor
	notifier    *notifier
	sampler     *loadSampler
	metrics     *metrics.Set

	shutdownOnce sync.Once
	shutdownReq  chan time.Duration // buffered 1: the deadline of a requested shutdown
	listening    chan struct{}      // closed once the API listens

	mu    sync.Mutex
	state dfmapi.InstanceState
	addr  net.Addr
}

// New validates cfg and opts and returns an agent that has not started
// anything yet. Each component's command must exist and be executable.
func New(cfg *Config, opts Options) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Token == "" {
		return nil, fmt.Errorf("missing bearer token: set the environment variable %s to the secret shared with DFLB", cfg.TokenEnv)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ProcRoot == "" {
		opts.ProcRoot = "/proc"
	}
	if opts.NotifyRetryMin <= 0 {
		opts.NotifyRetryMin = defaultNotifyWaitMin
	}
	if opts.NotifyRetryMax < opts.NotifyRetryMin {
		opts.NotifyRetryMax = max(defaultNotifyWaitMax, opts.NotifyRetryMin)
	}

	logger := opts.Logger.With("instance", cfg.Instance)
	a := &Agent{
		cfg:         cfg,
		token:       []byte(opts.Token),
		logger:      logger,
		now:         opts.Now,
		proc:        procFS{root: opts.ProcRoot, pageSize: int64(os.Getpagesize())},
		byName:      map[string]*supervisor{},
		metrics:     metrics.NewSet(),
		shutdownReq: make(chan time.Duration, 1),
		listening:   make(chan struct{}),
		state:       dfmapi.InstanceRunning,
	}
	a.sampler = newLoadSampler(a.proc, cfg.Load, logger)
	a.notifier = &notifier{
		url:      cfg.Notify.URL,
		token:    opts.Token,
		instance: cfg.Instance,
		max:      cfg.Notify.Queue,
		client:   newNotifyClient(),
		logger:   logger.With("logger", "notify"),
		now:      opts.Now,
		waitMin:  opts.NotifyRetryMin,
		waitMax:  opts.NotifyRetryMax,
		wake:     make(chan struct{}, 1),
	}
	a.notifier.empty = sync.NewCond(&a.notifier.mu)

	var errs []error
	env := componentEnv(os.Environ(), cfg.TokenEnv)
	for i := range cfg.Components {
		cc := cfg.Components[i]
		program, err := exec.LookPath(cc.Command)
		if err != nil {
			errs = append(errs, cfg.componentErrorf(i, "command", "command %q is not an executable file; set the absolute path of the program: %w", cc.Command, err))
			continue
		}
		s := a.newSupervisor(cc, program, env)
		a.supervisors = append(a.supervisors, s)
		a.byName[cc.Name] = s
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	a.registerMetrics()
	return a, nil
}

func (a *Agent) newSupervisor(cc ComponentConfig, program string, env []string) *supervisor {
	args := make([]string, len(cc.Args))
	for i, arg := range cc.Args {
		args[i] = strings.ReplaceAll(arg, TenantsFilePlaceholder, a.cfg.TenantsFile(cc.Name))
	}
	componentEnv := append([]string(nil), env...)
	for k, v := range cc.Env {
		componentEnv = append(componentEnv, k+"="+v)
	}
	s := &supervisor{
		cfg:         cc,
		spec:        spawnSpec{command: program, args: args, env: componentEnv, logFile: a.cfg.LogFile(cc.Name)},
		host:        a.cfg.Address(),
		tenantsPath: a.cfg.TenantsFile(cc.Name),
		pidPath:     a.cfg.PIDFile(cc.Name),
		logger:      a.logger.With("component", cc.Name),
		notify:      a.notify,
		now:         a.now,
		checker:     newHealthChecker(cc.Health, a.cfg.Address(), cc.Port),
		metrics:     a.newComponentMetrics(cc.Name),
		cmds:        make(chan command),
		exits:       make(chan exitEvent, 1),
		probes:      make(chan probeResult),
		done:        make(chan struct{}),
		policy:      restartPolicy{cfg: cc.Restart, random: rand.Float64},
		phase:       dfmapi.ComponentStopped,
	}
	s.status = dfmapi.ComponentStatus{Name: cc.Name, State: dfmapi.ComponentStopped, Port: cc.Port, Tenants: []string{}}
	return s
}

// componentEnv returns DFM's environment without the bearer secret, which
// components have no use for.
func componentEnv(environ []string, tokenEnv string) []string {
	env := make([]string, 0, len(environ))
	for _, kv := range environ {
		if strings.HasPrefix(kv, tokenEnv+"=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// Status returns the state of DFM, its components and the host load.
func (a *Agent) Status() dfmapi.Status {
	a.mu.Lock()
	state := a.state
	a.mu.Unlock()
	st := dfmapi.Status{
		Instance:   a.cfg.Instance,
		Address:    a.cfg.Address(),
		State:      state,
		Components: make([]dfmapi.ComponentStatus, 0, len(a.supervisors)),
		Load:       a.sampler.load(),
	}
	for _, s := range a.supervisors {
		st.Components = append(st.Components, s.snapshot())
	}
	return st
}

// Addr returns the address the API listens on, once Run has started it, and
// nil before.
func (a *Agent) Addr() net.Addr {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addr
}

// Listening returns a channel that is closed once the API listens.
func (a *Agent) Listening() <-chan struct{} { return a.listening }

// Shutdown starts a graceful shutdown, as POST /v1/shutdown does: each
// component gets its stop signal and grace period, all within deadline, then
// shutdown_complete is sent and Run returns. A deadline of 0 means the
// longest grace period plus 5s. Later calls do nothing.
func (a *Agent) Shutdown(deadline time.Duration) {
	a.shutdownOnce.Do(func() {
		a.setState(dfmapi.InstanceShuttingDown)
		a.shutdownReq <- deadline
	})
}

func (a *Agent) setState(state dfmapi.InstanceState) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.state = state
}

func (a *Agent) instanceState() dfmapi.InstanceState {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state
}

// notify queues a notification with the current measurements.
func (a *Agent) notify(kind dfmapi.Kind, component, reason string) {
	load := a.sampler.load()
	m := dfmapi.Measurements{CPU: load.CPU, MemUsedFraction: load.MemUsedFraction, Load1: load.Load1}
	if s, ok := a.byName[component]; ok {
		st := s.snapshot()
		m.ComponentCPU, m.ComponentRSSBytes = st.CPU, st.RSSBytes
	}
	n := a.notifier.enqueue(dfmapi.Notification{Kind: kind, Component: component, Reason: reason, Measurements: m})
	if a.cfg.Notify.URL == "" {
		a.logger.Debug("notification not sent because notify.url is empty", "seq", n.Seq, "kind", kind, "component", component)
		return
	}
	a.logger.Info("notification queued", "seq", n.Seq, "kind", kind, "component", component, "reason", reason)
}

// defaultShutdownDeadline is the longest grace period plus 5s, which leaves
// time for SIGKILL and reaping after the slowest component.
func (a *Agent) defaultShutdownDeadline() time.Duration {
	longest := time.Duration(0)
	for _, cc := range a.cfg.Components {
		longest = max(longest, cc.Grace)
	}
	return longest + 5*time.Second
}
