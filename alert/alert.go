package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"time"
)

// Info describes one alert. The Manager keeps the Info of the latest report,
// so a repeat or resolved notification carries the latest summary.
type Info struct {
	// Summary is one line for people, such as "instance i2 is down".
	Summary string
	// Description gives detail and what to do.
	Description string
	// Labels identify the alert's subject, such as instance=i2. The
	// Alertmanager sink adds alertname, severity and a non-empty key, which
	// replace labels of the same name.
	Labels map[string]string
}

// clone copies the labels, so that the caller may reuse its map.
func (i Info) clone() Info {
	labels := make(map[string]string, len(i.Labels))
	maps.Copy(labels, i.Labels)
	i.Labels = labels
	return i
}

// State is the state of an active alert.
type State string

// States of an active alert.
const (
	// StatePending is a condition that holds but not yet for the rule's `for`.
	StatePending State = "pending"
	// StateFiring is an alert that has notified.
	StateFiring State = "firing"
)

// Alert is one active alert, as Manager.Active returns it for the admin API.
type Alert struct {
	Rule        Rule              `json:"rule"`
	Key         string            `json:"key"`
	Severity    string            `json:"severity"`
	State       State             `json:"state"`
	Summary     string            `json:"summary"`
	Description string            `json:"description"`
	Labels      map[string]string `json:"labels"`
	// ActiveSince is when the condition started to hold.
	ActiveSince time.Time `json:"active_since"`
	// StartsAt is when the alert fired. It is zero while pending.
	StartsAt time.Time `json:"starts_at,omitzero"`
	// LastNotified is the time of the latest notification. It is zero while
	// pending.
	LastNotified time.Time `json:"last_notified,omitzero"`
	// Notifications counts the notifications sent since it fired.
	Notifications int    `json:"notifications"`
	Fingerprint   string `json:"fingerprint"`
}

// Status is the status of a notification.
type Status string

// Statuses of a notification.
const (
	StatusFiring   Status = "firing"
	StatusResolved Status = "resolved"
)

// Notification is one message about one alert: it fired, it still fires, or
// it resolved. Its JSON form is the body of the webhook sink:
//
//	{
//	  "status":      "firing" | "resolved",
//	  "rule":        "instance_down",
//	  "key":         "i2",
//	  "severity":    "critical" | "warning" | "info",
//	  "summary":     "instance i2 is down",
//	  "description": "...",
//	  "labels":      {"instance": "i2"},
//	  "starts_at":   "2026-05-04T21:00:00Z",
//	  "ends_at":     "2026-05-04T21:07:00Z",
//	  "fingerprint": "3f2a9c0d4b1e8a77"
//	}
//
// Times are RFC 3339 in UTC. ends_at is present only when resolved. labels is
// an object, empty when there are none. fingerprint is the same for every
// notification of one rule and key, also across restarts of DFLB, so a
// receiver can match a resolution to its alert and drop duplicates.
type Notification struct {
	Status      Status            `json:"status"`
	Rule        Rule              `json:"rule"`
	Key         string            `json:"key"`
	Severity    string            `json:"severity"`
	Summary     string            `json:"summary"`
	Description string            `json:"description"`
	Labels      map[string]string `json:"labels"`
	StartsAt    time.Time         `json:"starts_at"`
	EndsAt      time.Time         `json:"ends_at,omitzero"`
	Fingerprint string            `json:"fingerprint"`
	// Repeat is true for a notification of an alert that had already fired.
	// The webhook body leaves it out.
	Repeat bool `json:"-"`
}

// fingerprint identifies an alert by rule and key: the first 8 bytes of a
// SHA-256 in hex, the length of Alertmanager's fingerprints.
func fingerprint(rule Rule, key string) string {
	sum := sha256.Sum256([]byte(string(rule) + "\x00" + key))
	return hex.EncodeToString(sum[:8])
}
