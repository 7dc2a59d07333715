package alert

import (
	"maps"
	"time"
)

// active is the state of one pending or firing alert. The Manager's mu
// guards it.
type active struct {
	id            alertID
	cfg           RuleConfig
	fingerprint   string
	info          Info
	state         State
	activeSince   time.Time // the first report of the condition
	startsAt      time.Time // when it fired, zero while pending
	lastNotified  time.Time
	notifications int
}

// apply records one report and appends the notification it causes, if any,
// to the outbox. The caller holds m.mu.
func (m *Manager) apply(now time.Time, rule Rule, key string, firing bool, info Info) {
	cfg, known := m.cfg.Rules.Rule(rule)
	if !known {
		if !m.unknown[rule] {
			m.unknown[rule] = true
			m.log.Error("report for an unknown alert rule ignored", "rule", rule, "key", key,
				"fix", "use one of the rule constants of package alert")
		}
		return
	}
	if !cfg.Enabled {
		return
	}

	id := alertID{rule: rule, key: key}
	a, exists := m.alerts[id]
	if !firing {
		if !exists {
			return
		}
		m.clear(now, a, info)
		return
	}

	if !exists {
		a = &active{
			id:          id,
			cfg:         cfg,
			fingerprint: fingerprint(rule, key),
			state:       StatePending,
			activeSince: now,
		}
		m.alerts[id] = a
		m.log.Debug("alert pending", "rule", rule, "key", key, "for", cfg.For)
	}
	a.info = info.clone()

	if n, ok := a.advance(now); ok {
		m.outbox = append(m.outbox, outgoing{notification: n})
	}
}

// clear removes a whose condition stopped. A firing alert sends its resolved
// notification. The caller holds m.mu.
func (m *Manager) clear(now time.Time, a *active, info Info) {
	delete(m.alerts, a.id)

	if a.state == StatePending {
		m.log.Debug("alert condition cleared before it fired", "rule", a.id.rule, "key", a.id.key,
			"held", now.Sub(a.activeSince), "for", a.cfg.For)
		return
	}

	if info.Summary != "" {
		a.info = info.clone()
	}
	n := a.notification(StatusResolved)
	n.EndsAt = now.UTC()
	m.outbox = append(m.outbox, outgoing{notification: n})
}

// advance fires a pending alert whose condition has held for `for`, or
// repeats a firing alert whose repeat_interval has passed since the last
// notification. It returns the notification to send.
func (a *active) advance(now time.Time) (Notification, bool) {
	switch a.state {
	case StatePending:
		if now.Sub(a.activeSince) < a.cfg.For {
			return Notification{}, false
		}
		a.state = StateFiring
		a.startsAt = now

	case StateFiring:
		if now.Sub(a.lastNotified) < a.cfg.RepeatInterval {
			return Notification{}, false
		}
	}

	n := a.notification(StatusFiring)
	n.Repeat = a.notifications > 0
	a.lastNotified = now
	a.notifications++
	return n, true
}

// notification returns a notification about a with the given status and no
// end time.
func (a *active) notification(status Status) Notification {
	return Notification{
		Status:      status,
		Rule:        a.id.rule,
		Key:         a.id.key,
		Severity:    a.cfg.Severity,
		Summary:     a.info.Summary,
		Description: a.info.Description,
		Labels:      maps.Clone(a.info.Labels),
		StartsAt:    a.startsAt.UTC(),
		Fingerprint: a.fingerprint,
	}
}

func (a *active) snapshot() Alert {
	return Alert{
		Rule:          a.id.rule,
		Key:           a.id.key,
		Severity:      a.cfg.Severity,
		State:         a.state,
		Summary:       a.info.Summary,
		Description:   a.info.Description,
		Labels:        maps.Clone(a.info.Labels),
		ActiveSince:   a.activeSince.UTC(),
		StartsAt:      utcOrZero(a.startsAt),
		LastNotified:  utcOrZero(a.lastNotified),
		Notifications: a.notifications,
		Fingerprint:   a.fingerprint,
	}
}

// queueResends appends a resend of every firing alert for each Alertmanager
// sink whose resend_interval has passed. The caller holds m.mu.
func (m *Manager) queueResends(now time.Time) {
	for _, s := range m.sinks {
		if s.resendInterval <= 0 || now.Before(s.nextResend) {
			continue
		}
		s.nextResend = now.Add(s.resendInterval)

		var firing []Notification
		for _, a := range m.sortedAlerts() {
			if a.state == StateFiring {
				firing = append(firing, a.notification(StatusFiring))
			}
		}
		if len(firing) > 0 {
			m.outbox = append(m.outbox, outgoing{resend: firing, sink: s})
		}
	}
}

func utcOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}
