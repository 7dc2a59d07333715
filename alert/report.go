package alert

import (
	"errors"
	"fmt"
	"net/http"
)

// report logs the outcome of msg, passes it to the delivery hook and raises
// or resolves notification_undeliverable for s. It runs without s.mu.
func (s *sink) report(msg message, res result) {
	if msg.isResend() {
		s.reportResend(msg, res)
		return
	}

	n := msg.notification
	if res.delivered {
		s.log.Debug("alert notification delivered", "rule", n.Rule, "key", n.Key, "status", n.Status,
			"fingerprint", n.Fingerprint, "attempts", res.attempts)
	} else {
		s.log.Error("alert notification not delivered; dropped", "rule", n.Rule, "key", n.Key, "status", n.Status,
			"fingerprint", n.Fingerprint, "attempts", res.attempts, "error", res.err, "fix", s.fix(res))
	}

	if hook := s.manager.onDelivery; hook != nil {
		hook(Delivery{
			Sink:         s.name,
			Kind:         s.kind,
			Notification: n,
			Delivered:    res.delivered,
			Attempts:     res.attempts,
			Err:          res.err,
		})
	}
	s.updateHealth(res)
}

// reportResend logs the outcome of a resend to Alertmanager. A resend
// dropped from a full queue is no failure of the receiver, because the next
// resend lists the same alerts.
func (s *sink) reportResend(msg message, res result) {
	switch {
	case res.delivered:
		s.log.Debug("firing alerts resent", "alerts", len(msg.resend), "attempts", res.attempts)
	case errors.Is(res.err, errQueueFull):
		s.log.Debug("resend of firing alerts dropped from the full queue", "alerts", len(msg.resend))
		return
	default:
		s.log.Error("resend of firing alerts not delivered; dropped", "alerts", len(msg.resend),
			"attempts", res.attempts, "error", res.err, "fix", s.fix(res))
	}
	s.updateHealth(res)
}

// updateHealth fires notification_undeliverable for s when a message was
// dropped and resolves it at the next delivered one.
func (s *sink) updateHealth(res result) {
	s.mu.Lock()
	wasFailing := s.failing
	s.failing = !res.delivered
	s.mu.Unlock()

	if res.delivered {
		if wasFailing {
			s.manager.Resolve(NotificationUndeliverable, s.name)
		}
		return
	}

	s.manager.Fire(NotificationUndeliverable, s.name, Info{
		Summary: fmt.Sprintf("alert sink %s drops notifications", s.name),
		Description: fmt.Sprintf("The %s sink %s at %s dropped a notification: %v. %s.",
			s.kind, s.name, s.safeURL, res.err, s.fix(res)),
		Labels: map[string]string{"sink": s.name, "sink_kind": s.kind},
	})
}

// fix suggests what to do about a dropped message.
func (s *sink) fix(res result) string {
	switch {
	case errors.Is(res.err, errQueueFull):
		return "raise queue_size, or check why the receiver is slow or down"
	case res.status == http.StatusUnauthorized || res.status == http.StatusForbidden:
		return "check the secret in the variable named by auth.secret_env"
	case res.status >= 300 && res.status <= 499 && res.status != http.StatusTooManyRequests:
		return "check that url and kind of the sink match the receiver"
	default:
		return "check that the receiver is up; raise max_attempts or retry_wait_max to retry for longer"
	}
}
