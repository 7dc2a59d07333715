package alert

import (
	"encoding/json"
	"strings"
	"time"
)

// alertmanagerPath is the Alertmanager v2 endpoint that takes alerts,
// appended to the sink's URL.
const alertmanagerPath = "/api/v2/alerts"

// postableAlert is one element of the body of POST /api/v2/alerts, the
// postableAlert of Alertmanager's OpenAPI specification (api/v2/openapi.yaml):
// labels is required, and the other fields are optional.
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// resendsBeforeExpiry is how many resends a firing alert may miss before
// Alertmanager resolves it by itself. The endsAt of a firing alert is that many
// resend intervals ahead, so an alert whose resends stop, for example because
// DFLB stopped, does not fire forever.
const resendsBeforeExpiry = 4

// alertmanagerEncoder returns the encoder for an Alertmanager sink with the
// given generatorURL and resend interval.
func alertmanagerEncoder(generatorURL string, resendInterval time.Duration) encoder {
	return func(ns []Notification, now time.Time) ([]byte, error) {
		alerts := make([]postableAlert, 0, len(ns))
		for _, n := range ns {
			a := postableAlert{
				Labels:       alertmanagerLabels(n),
				Annotations:  map[string]string{},
				StartsAt:     n.StartsAt,
				EndsAt:       n.EndsAt,
				GeneratorURL: generatorURL,
			}
			if n.Summary != "" {
				a.Annotations["summary"] = n.Summary
			}
			if n.Description != "" {
				a.Annotations["description"] = n.Description
			}
			if n.Status == StatusFiring {
				a.EndsAt = now.Add(resendsBeforeExpiry * resendInterval).UTC()
			}
			alerts = append(alerts, a)
		}

		return json.Marshal(alerts)
	}
}

// alertmanagerLabels returns the labels of n with alertname, severity and key
// added. Names are made valid Prometheus label names, and empty values are
// left out because Alertmanager treats an empty label as a missing one.
func alertmanagerLabels(n Notification) map[string]string {
	labels := make(map[string]string, len(n.Labels)+3)
	for name, value := range n.Labels {
		if value != "" {
			labels[labelName(name)] = value
		}
	}

	labels["alertname"] = string(n.Rule)
	labels["severity"] = n.Severity
	if n.Key != "" {
		labels["key"] = n.Key
	}
	return labels
}

// labelName replaces every character that a Prometheus label name may not
// contain, [a-zA-Z_][a-zA-Z0-9_]*, with an underscore.
func labelName(name string) string {
	if name == "" {
		return "_"
	}

	var b strings.Builder
	for i, r := range name {
		valid := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')
		if valid {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
