package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Manager tracks alert conditions, decides when to notify and queues the
// notifications for the sinks. Its methods are safe for concurrent use.
type Manager struct {
	cfg        Config
	log        *slog.Logger
	clock      Clock
	onNotify   func(Notification)
	onDelivery func(Delivery)
	lookupEnv  func(string) (string, bool)
	sinks      []*sink

	mu       sync.Mutex
	alerts   map[alertID]*active
	unknown  map[Rule]bool // unknown rules already logged, so each is logged once
	outbox   []outgoing    // decided but not yet emitted, in decision order
	emitting bool          // a goroutine is emitting the outbox
	emitted  sync.Cond     // on mu, broadcast when emitting turns false
	running  bool          // Run has been called
}

type alertID struct {
	rule Rule
	key  string
}

// New validates cfg, reads the sinks' URLs and secrets from the environment
// and returns a Manager. Call Run to deliver notifications.
func New(cfg Config, opts ...Option) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("alert: invalid configuration: %w", err)
	}

	m := &Manager{
		cfg:     cfg,
		alerts:  map[alertID]*active{},
		unknown: map[Rule]bool{},
	}
	m.emitted.L = &m.mu
	defaultOptions(m)
	for _, opt := range opts {
		opt(m)
	}
	m.log = m.log.With("logger", "alert")

	var errs []error
	now := m.clock.Now()
	for i, sc := range cfg.Sinks {
		s, err := newSink(sc, fmt.Sprintf("sinks[%d]", i), m, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		m.sinks = append(m.sinks, s)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("alert: %w", errors.Join(errs...))
	}
	return m, nil
}

// Set reports the current level of the condition of rule for key: firing
// when it holds. Call it on every evaluation. The alert fires once the
// condition has held for the rule's `for`, repeats every repeat_interval and
// resolves at the first report with firing false. A condition that stops
// before `for` has passed never notifies.
//
// While firing, info replaces the stored Info. On the resolving report, an
// info with a Summary replaces it too, and an empty one keeps the last.
// Reports for a disabled rule are ignored, and an unknown rule is logged as
// an error once and ignored.
func (m *Manager) Set(rule Rule, key string, firing bool, info Info) {
	m.mu.Lock()
	now := m.clock.Now()
	m.apply(now, rule, key, firing, info)
	m.mu.Unlock()

	m.emitOutbox()
}

// Fire reports that the condition of rule for key holds. It is Set with
// firing true.
func (m *Manager) Fire(rule Rule, key string, info Info) {
	m.Set(rule, key, true, info)
}

// Resolve reports that the condition of rule for key no longer holds. It is
// Set with firing false and an empty Info.
func (m *Manager) Resolve(rule Rule, key string) {
	m.Set(rule, key, false, Info{})
}

// Sync reports the complete set of keys of rule whose condition holds now,
// with their Info. Every other active alert of rule resolves. It suits a
// control loop that evaluates all tenants or instances at once, because keys
// that disappeared resolve without a separate report.
func (m *Manager) Sync(rule Rule, firing map[string]Info) {
	m.mu.Lock()
	now := m.clock.Now()
	var stale []string
	for id := range m.alerts {
		if _, ok := firing[id.key]; id.rule == rule && !ok {
			stale = append(stale, id.key)
		}
	}
	slices.Sort(stale)
	for _, key := range stale {
		m.apply(now, rule, key, false, Info{})
	}

	keys := make([]string, 0, len(firing))
	for key := range firing {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	for _, key := range keys {
		m.apply(now, rule, key, true, firing[key])
	}
	m.mu.Unlock()

	m.emitOutbox()
}

// Active returns the pending and firing alerts, sorted by rule and key.
func (m *Manager) Active() []Alert {
	m.mu.Lock()
	defer m.mu.Unlock()

	list := make([]Alert, 0, len(m.alerts))
	for _, a := range m.alerts {
		list = append(list, a.snapshot())
	}
	slices.SortFunc(list, func(x, y Alert) int {
		if c := strings.Compare(string(x.Rule), string(y.Rule)); c != 0 {
			return c
		}
		return strings.Compare(x.Key, y.Key)
	})
	return list
}

// Run checks `for`, repeats and resends every check_interval and delivers
// queued notifications to the sinks until ctx ends. Notifications still
// queued then are lost. Call Flush first to deliver them. Run may be called
// only once.
func (m *Manager) Run(ctx context.Context) {
	m.mu.Lock()
	if m.running {
		m.mu.Unlock()
		panic("alert: Manager.Run called twice")
	}
	m.running = true
	m.mu.Unlock()

	var workers sync.WaitGroup
	for _, s := range m.sinks {
		workers.Go(func() { s.run(ctx) })
	}
	defer workers.Wait()

	ticker := time.NewTicker(m.cfg.CheckInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			m.tick()
		}
	}
}

// Flush waits until every notification decided so far is queued and every
// sink has delivered or dropped its queue, or until ctx ends. It returns
// the number still queued. Only a running Manager delivers, so call it
// while Run runs. A hook that calls Flush waits until ctx ends, because
// its own emission is still in progress.
func (m *Manager) Flush(ctx context.Context) int {
	m.waitEmitted(ctx)

	left := 0
	for _, s := range m.sinks {
		left += s.flush(ctx)
	}
	return left
}

// tick fires pending alerts whose `for` has passed, repeats due alerts and
// queues resends to Alertmanager sinks.
func (m *Manager) tick() {
	m.mu.Lock()
	now := m.clock.Now()
	for _, a := range m.sortedAlerts() {
		if n, ok := a.advance(now); ok {
			m.outbox = append(m.outbox, outgoing{notification: n})
		}
	}
	m.queueResends(now)
	m.mu.Unlock()

	m.emitOutbox()
}

// sortedAlerts returns the alerts in rule and key order, so that one tick
// emits its notifications in a fixed order. The caller holds m.mu.
func (m *Manager) sortedAlerts() []*active {
	list := make([]*active, 0, len(m.alerts))
	for _, a := range m.alerts {
		list = append(list, a)
	}
	slices.SortFunc(list, func(x, y *active) int {
		if c := strings.Compare(string(x.id.rule), string(y.id.rule)); c != 0 {
			return c
		}
		return strings.Compare(x.id.key, y.id.key)
	})
	return list
}
