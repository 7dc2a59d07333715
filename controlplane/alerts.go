package controlplane

import (
	"fmt"
	"time"

	"github.com/dflb/dflb/alert"
	"github.com/dflb/dflb/dfmapi"
)

// Alerter receives the alert conditions after every pass. *alert.Manager
// implements it.
type Alerter interface {
	Sync(rule alert.Rule, firing map[string]alert.Info)
}

// alertConditions returns, for every rule that the control plane
// evaluates, the keys that hold now. The caller holds c.mu.
func (c *Controller) alertConditions(now time.Time) map[alert.Rule]map[string]alert.Info {
	out := map[alert.Rule]map[string]alert.Info{
		alert.InstanceDown:             {},
		alert.ComponentCrashLoop:       {},
		alert.ScaleOutFailed:           {},
		alert.AtMaxInstancesOverloaded: {},
		alert.TenantErrorRate:          {},
	}

	for _, name := range c.state.names() {
		r := c.state.Instances[name]
		o := c.observed[name]
		if r.Phase != PhaseReady || o == nil {
			continue
		}
		if o.unresponsive {
			out[alert.InstanceDown][name] = alert.Info{
				Summary:     fmt.Sprintf("instance %s is down", name),
				Description: o.brokenReason + "; its tenants are served elsewhere when another instance can take them",
				Labels:      map[string]string{"instance": name},
			}
		}
		for _, comp := range o.status.Components {
			if comp.State == dfmapi.ComponentFailed {
				out[alert.ComponentCrashLoop][name+"/"+comp.Name] = alert.Info{
					Summary:     fmt.Sprintf("component %s of instance %s is in a crash loop", comp.Name, name),
					Description: "DFM no longer restarts it (last exit: " + comp.LastExit + "); read its log, then POST /v1/components/" + comp.Name + "/reset to DFM",
					Labels:      map[string]string{"instance": name, "component": comp.Name},
				}
			}
		}
	}

	if c.scaleOutFailed != "" {
		out[alert.ScaleOutFailed]["scale_out"] = alert.Info{
			Summary:     "a scale-out failed and was rolled back",
			Description: c.scaleOutFailed,
		}
	}
	if c.atMax {
		out[alert.AtMaxInstancesOverloaded]["cluster"] = alert.Info{
			Summary:     fmt.Sprintf("overloaded at the maximum of %d instances", c.Policy.MaxInstances),
			Description: "raise autoscale.max_instances or add capacity",
		}
	}

	if rates, complete := c.load.rates(c.Policy.OverloadFor); complete {
		seconds := rates.Span.Seconds()
		for tenant, rate := range rates.Tenants {
			requests, errors := uint64(rate.Requests*seconds), uint64(rate.Errors*seconds)
			if alert.ErrorRateExceeded(errors, requests, c.ErrorRate) {
				out[alert.TenantErrorRate][tenant] = alert.Info{
					Summary:     fmt.Sprintf("tenant %s fails %.1f%% of its requests", tenant, 100*float64(errors)/float64(requests)),
					Description: fmt.Sprintf("%d of %d requests over the last %s were errors", errors, requests, rates.Span.Round(time.Second)),
					Labels:      map[string]string{"tenant": tenant},
				}
			}
		}
	}
	return out
}

// syncAlerts hands conditions to the Alerter. The caller does not hold
// c.mu, so the Alerter may call back into the controller.
func (c *Controller) syncAlerts(conditions map[alert.Rule]map[string]alert.Info) {
	if c.Alerts == nil {
		return
	}
	for rule, firing := range conditions {
		c.Alerts.Sync(rule, firing)
	}
}

// RecordAlert keeps an alert notification in the decision log.
func (c *Controller) RecordAlert(n alert.Notification) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kind := "alert_" + string(n.Status)
	if n.Repeat {
		kind = "alert_repeat"
	}
	c.decide(Decision{Kind: kind, Instance: n.Labels["instance"], Observed: n.Summary,
		Decided: string(n.Rule) + " " + n.Key, Reason: n.Description})
}
