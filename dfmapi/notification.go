package dfmapi

import (
	"errors"
	"fmt"
	"time"
)

// Kind is the event that a notification reports.
type Kind string

const (
	// KindOverload reports that host CPU stayed above load.overload_cpu for
	// load.overload_window.
	KindOverload Kind = "overload"
	// KindLowUsage reports that host CPU stayed below load.low_cpu for
	// load.low_window.
	KindLowUsage Kind = "low_usage"
	// KindComponentDown reports that a component that was up exited or
	// became unhealthy.
	KindComponentDown Kind = "component_down"
	// KindComponentUp reports that a component passed its readiness check.
	KindComponentUp Kind = "component_up"
	// KindComponentFailed reports that DFM gave up restarting a component.
	KindComponentFailed Kind = "component_failed"
	// KindShutdownComplete reports that DFM stopped every component and is
	// about to exit.
	KindShutdownComplete Kind = "shutdown_complete"
)

// Kinds lists every notification kind.
func Kinds() []Kind {
	return []Kind{KindOverload, KindLowUsage, KindComponentDown, KindComponentUp, KindComponentFailed, KindShutdownComplete}
}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool {
	for _, known := range Kinds() {
		if k == known {
			return true
		}
	}
	return false
}

// Notification is the body that DFM posts to notify.url. Seq starts at 1 when
// DFM starts and grows by one per notification, and notifications are sent
// in Seq order. A gap means that DFM dropped notifications because its queue
// was full, and a Seq lower than the last one means that DFM restarted.
type Notification struct {
	Instance     string       `json:"instance"`
	Seq          uint64       `json:"seq"`
	Time         time.Time    `json:"time"`
	Kind         Kind         `json:"kind"`
	Component    string       `json:"component,omitempty"`
	Reason       string       `json:"reason,omitempty"`
	Measurements Measurements `json:"measurements"`
}

// Measurements is the load of the instance, and of the component the
// notification is about, when the notification was created.
type Measurements struct {
	CPU               float64 `json:"cpu"`
	MemUsedFraction   float64 `json:"mem_used_fraction"`
	Load1             float64 `json:"load1"`
	ComponentCPU      float64 `json:"component_cpu"`
	ComponentRSSBytes int64   `json:"component_rss_bytes"`
}

// Validate checks the fields that a receiver relies on. Each error names the
// JSON field.
func (n *Notification) Validate() error {
	var errs []error
	if n.Instance == "" {
		errs = append(errs, errors.New("field instance: missing instance ID"))
	}
	if n.Seq == 0 {
		errs = append(errs, errors.New("field seq: missing; sequence numbers start at 1"))
	}
	if n.Time.IsZero() {
		errs = append(errs, errors.New("field time: missing; write an RFC 3339 time"))
	}
	if !n.Kind.Valid() {
		errs = append(errs, fmt.Errorf("field kind: unknown kind %q; valid kinds are %v", n.Kind, Kinds()))
	}
	switch n.Kind {
	case KindComponentDown, KindComponentUp, KindComponentFailed:
		if n.Component == "" {
			errs = append(errs, fmt.Errorf("field component: missing; kind %s names a component", n.Kind))
		}
	}
	return errors.Join(errs...)
}
