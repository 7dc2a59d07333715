package agent

import (
	"fmt"
	"io"

	"github.com/VictoriaMetrics/metrics"

	"github.com/dflb/dflb/dfmapi"
)

// componentMetrics are the event counters of one component.
type componentMetrics struct {
	restarts *metrics.Counter
	crashes  *metrics.Counter
}

func (a *Agent) newComponentMetrics(name string) *componentMetrics {
	return &componentMetrics{
		restarts: a.metrics.NewCounter(fmt.Sprintf(`dfm_component_restarts_total{component=%q}`, name)),
		crashes:  a.metrics.NewCounter(fmt.Sprintf(`dfm_component_crashes_total{component=%q}`, name)),
	}
}

// registerMetrics adds the gauges, which read the current status at scrape
// time, and the notification counters.
func (a *Agent) registerMetrics() {
	for _, s := range a.supervisors {
		label := fmt.Sprintf(`{component=%q}`, s.cfg.Name)
		a.metrics.NewGauge("dfm_component_up"+label, func() float64 {
			return boolFloat(s.snapshot().State == dfmapi.ComponentUp)
		})
		a.metrics.NewGauge("dfm_component_failed"+label, func() float64 {
			return boolFloat(s.snapshot().State == dfmapi.ComponentFailed)
		})
		a.metrics.NewGauge("dfm_component_cpu"+label, func() float64 { return s.snapshot().CPU })
		a.metrics.NewGauge("dfm_component_rss_bytes"+label, func() float64 { return float64(s.snapshot().RSSBytes) })
	}
	a.metrics.NewGauge("dfm_host_cpu", func() float64 { return a.sampler.load().CPU })
	a.metrics.NewGauge("dfm_host_mem_used_fraction", func() float64 { return a.sampler.load().MemUsedFraction })
	a.metrics.NewGauge("dfm_host_load1", func() float64 { return a.sampler.load().Load1 })
	a.metrics.NewGauge("dfm_overloaded", func() float64 { return boolFloat(a.sampler.load().Overloaded) })
	a.metrics.NewGauge("dfm_low_usage", func() float64 { return boolFloat(a.sampler.load().Low) })
	a.metrics.NewGauge("dfm_notification_queue_length", func() float64 { return float64(a.notifier.pending()) })
	a.notifier.metrics = &notifierMetrics{
		sent:      a.metrics.NewCounter("dfm_notifications_sent_total"),
		rejected:  a.metrics.NewCounter("dfm_notifications_rejected_total"),
		coalesced: a.metrics.NewCounter("dfm_notifications_coalesced_total"),
	}
}

// writeMetrics writes every DFM metric in the Prometheus text format.
func (a *Agent) writeMetrics(w io.Writer) {
	a.metrics.WritePrometheus(w)
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
