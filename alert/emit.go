package alert

import (
	"context"
	"log/slog"
)

// outgoing is one decision of the Manager waiting in the outbox: a
// notification for the log, the notify hook and every sink, or a resend of the
// firing alerts for one Alertmanager sink.
type outgoing struct {
	notification Notification
	resend       []Notification
	sink         *sink // the sink of a resend, nil for a notification
}

// emitOutbox logs, hooks and queues everything in the outbox, in the order it
// was decided. Only one goroutine emits at a time. Another caller returns at
// once because the emitting goroutine also takes what it appended, so a hook
// may call Set without deadlocking.
func (m *Manager) emitOutbox() {
	m.mu.Lock()
	if m.emitting {
		m.mu.Unlock()
		return
	}
	m.emitting = true

	// A panicking hook must not leave emitting set, which would stop every
	// later notification.
	finished := false
	defer func() {
		if !finished {
			m.mu.Lock()
			m.emitting = false
			m.emitted.Broadcast()
			m.mu.Unlock()
		}
	}()

	for len(m.outbox) > 0 {
		batch := m.outbox
		m.outbox = nil
		m.mu.Unlock()

		for _, o := range batch {
			m.emit(o)
		}

		m.mu.Lock()
	}
	m.emitting = false
	m.emitted.Broadcast()
	finished = true
	m.mu.Unlock()
}

// waitEmitted returns once the outbox is empty and no goroutine is
// emitting, or when ctx ends. A notification that Fire or Resolve decided
// while another goroutine was emitting is queued by that goroutine, after
// the call has returned, so a Flush that did not wait could miss it.
func (m *Manager) waitEmitted(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.emitted.Broadcast()
	})
	defer stop()

	for {
		// Emits what was decided but not yet emitted, unless another
		// goroutine is emitting, which then emits it.
		m.emitOutbox()

		m.mu.Lock()
		if (!m.emitting && len(m.outbox) == 0) || ctx.Err() != nil {
			m.mu.Unlock()
			return
		}
		if m.emitting {
			m.emitted.Wait()
		}
		m.mu.Unlock()
	}
}

func (m *Manager) emit(o outgoing) {
	if o.sink != nil {
		o.sink.enqueue(message{resend: o.resend})
		return
	}

	n := o.notification
	m.logNotification(n)
	if m.onNotify != nil {
		m.onNotify(n)
	}
	for _, s := range m.sinks {
		s.enqueue(message{notification: n})
	}
}

// logNotification logs a firing alert at the level of its severity and a
// resolved one at info.
func (m *Manager) logNotification(n Notification) {
	attrs := []slog.Attr{
		slog.String("rule", string(n.Rule)),
		slog.String("key", n.Key),
		slog.String("severity", n.Severity),
		slog.String("summary", n.Summary),
		slog.String("description", n.Description),
		slog.Any("labels", n.Labels),
		slog.String("fingerprint", n.Fingerprint),
		slog.Time("starts_at", n.StartsAt),
	}

	switch {
	case n.Status == StatusResolved:
		attrs = append(attrs, slog.Time("ends_at", n.EndsAt))
		m.log.LogAttrs(context.Background(), slog.LevelInfo, "alert resolved", attrs...)
	case n.Repeat:
		m.log.LogAttrs(context.Background(), severityLevel(n.Severity), "alert still firing", attrs...)
	default:
		m.log.LogAttrs(context.Background(), severityLevel(n.Severity), "alert firing", attrs...)
	}
}

func severityLevel(severity string) slog.Level {
	switch severity {
	case SeverityCritical:
		return slog.LevelError
	case SeverityWarning:
		return slog.LevelWarn
	default:
		return slog.LevelInfo
	}
}
