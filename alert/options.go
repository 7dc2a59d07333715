package alert

import (
	"log/slog"
	"os"
	"time"
)

// Clock is the source of the current time. Tests replace it to control `for`
// and repeat_interval without sleeping.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Option configures a Manager.
type Option func(*Manager)

// WithLogger sets the logger for alerts and deliveries. Default: slog.Default().
func WithLogger(logger *slog.Logger) Option {
	return func(m *Manager) { m.log = logger }
}

// WithClock sets the clock that times `for`, repeats and resends. Retry
// waits between HTTP attempts use real time regardless. Default: the system
// clock.
func WithClock(clock Clock) Option {
	return func(m *Manager) { m.clock = clock }
}

// WithNotifyHook sets a function that receives every notification once, in
// the order the Manager decides them, before sinks deliver it. It runs on the
// goroutine that is emitting: one that called Set, Fire, Resolve or Sync,
// Run's, or a sink's delivery goroutine, so it must return quickly. It may call the Manager's methods. The sinks share the
// notification's Labels map, so the hook must not modify it.
func WithNotifyHook(hook func(Notification)) Option {
	return func(m *Manager) { m.onNotify = hook }
}

// WithDeliveryHook sets a function that receives the outcome of every
// notification at every sink: delivered, or dropped with the reason. Resends
// to Alertmanager are not reported. It runs on the sink's delivery goroutine,
// so a slow hook delays that sink. A notification dropped from a full queue
// is reported on the goroutine that queued the newer one.
func WithDeliveryHook(hook func(Delivery)) Option {
	return func(m *Manager) { m.onDelivery = hook }
}

// WithLookupEnv sets the function that reads the environment variables named
// by url_env and secret_env. Default: os.LookupEnv.
func WithLookupEnv(lookup func(string) (string, bool)) Option {
	return func(m *Manager) { m.lookupEnv = lookup }
}

func defaultOptions(m *Manager) {
	m.log = slog.Default()
	m.clock = systemClock{}
	m.lookupEnv = os.LookupEnv
}
