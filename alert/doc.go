// Package alert decides when DFLB notifies about an alert condition and
// delivers the notifications to sinks.
//
// Conditions are level-triggered. A control loop reports the current state of
// each condition with Manager.Set (or Fire, Resolve and Sync) every time it
// evaluates, and the Manager turns those levels into notifications:
//
//   - an alert, identified by its rule and a key such as an instance or
//     tenant ID, fires once after its condition has held for the rule's
//     `for` duration,
//   - it repeats every repeat_interval while the condition holds,
//   - and one resolved notification follows when the condition stops.
//
// A condition that stops before `for` has passed never notifies.
//
// Every notification is logged with log/slog, passed to the hook set by
// WithNotifyHook and queued for every configured sink: a generic JSON webhook,
// a Slack-compatible incoming webhook or the Prometheus Alertmanager v2 API.
// Each sink has a bounded queue that one goroutine delivers in order, with
// bounded retries and exponential backoff through go-retryablehttp. A
// notification that a sink does not accept within its retry budget is dropped
// and raises the notification_undeliverable alert for that sink.
//
// Typical use:
//
//	m, err := alert.New(cfg, alert.WithLogger(logger))
//	if err != nil { ... }
//	go m.Run(ctx)
//	...
//	m.Set(alert.InstanceDown, "i2", !healthy, alert.Info{
//		Summary: "instance i2 is down",
//		Labels:  map[string]string{"instance": "i2"},
//	})
package alert
