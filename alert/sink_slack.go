package alert

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// slackMessage is the body of a Slack incoming webhook. Text is the whole
// message for clients that ignore attachments, such as notifications on a
// phone, and the attachment adds color and fields.
type slackMessage struct {
	Text        string            `json:"text"`
	Attachments []slackAttachment `json:"attachments"`
}

type slackAttachment struct {
	Fallback string       `json:"fallback"`
	Color    string       `json:"color"`
	Title    string       `json:"title"`
	Text     string       `json:"text,omitempty"`
	Fields   []slackField `json:"fields"`
	Footer   string       `json:"footer"`
	// Ts is the Unix time in seconds of the event: when the alert fired or
	// resolved.
	Ts int64 `json:"ts"`
}

type slackField struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

// Attachment colors: Slack's named colors and a blue for info.
const (
	slackColorResolved = "good"
	slackColorCritical = "danger"
	slackColorWarning  = "warning"
	slackColorInfo     = "#439FE0"
)

// encodeSlack returns the body of a Slack incoming webhook for one
// notification.
func encodeSlack(ns []Notification, _ time.Time) ([]byte, error) {
	if len(ns) != 1 {
		return nil, fmt.Errorf("slack body needs exactly 1 notification, got %d", len(ns))
	}
	n := ns[0]

	text := slackText(n)
	attachment := slackAttachment{
		Fallback: text,
		Color:    slackColor(n),
		Title:    slackEscape(n.Summary),
		Text:     slackEscape(n.Description),
		Footer:   "DFLB alert " + n.Fingerprint,
		Ts:       n.StartsAt.Unix(),
	}

	attachment.Fields = append(attachment.Fields,
		slackField{Title: "Severity", Value: n.Severity, Short: true},
		slackField{Title: "Started", Value: n.StartsAt.Format(time.RFC3339), Short: true},
	)
	if n.Status == StatusResolved {
		attachment.Fields = append(attachment.Fields, slackField{Title: "Resolved", Value: n.EndsAt.Format(time.RFC3339), Short: true})
		attachment.Ts = n.EndsAt.Unix()
	}
	for _, name := range slices.Sorted(maps.Keys(n.Labels)) {
		attachment.Fields = append(attachment.Fields, slackField{Title: slackEscape(name), Value: slackEscape(n.Labels[name]), Short: true})
	}

	return json.Marshal(slackMessage{Text: text, Attachments: []slackAttachment{attachment}})
}

// slackText returns one line such as
// "[FIRING:critical] instance_down i2: instance i2 is down".
func slackText(n Notification) string {
	var b strings.Builder

	switch {
	case n.Status == StatusResolved:
		b.WriteString("[RESOLVED] ")
	case n.Repeat:
		fmt.Fprintf(&b, "[STILL FIRING:%s] ", n.Severity)
	default:
		fmt.Fprintf(&b, "[FIRING:%s] ", n.Severity)
	}

	b.WriteString(string(n.Rule))
	if n.Key != "" {
		b.WriteString(" " + n.Key)
	}
	if n.Summary != "" {
		b.WriteString(": " + n.Summary)
	}
	return slackEscape(b.String())
}

func slackColor(n Notification) string {
	if n.Status == StatusResolved {
		return slackColorResolved
	}

	switch n.Severity {
	case SeverityCritical:
		return slackColorCritical
	case SeverityWarning:
		return slackColorWarning
	default:
		return slackColorInfo
	}
}

// slackEscape escapes the three characters that Slack's message formatting
// reserves for links and mentions.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
