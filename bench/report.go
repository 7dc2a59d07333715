package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Measurement is the result of one measured wrk run.
type Measurement struct {
	Scenario string
	Target   string
	Result   WrkResult
}

// Median combines the runs of one target: the median req/s, p50 and p99,
// each taken on its own, and the sums of requests and errors, so that a
// failed request in any round still shows.
func Median(runs []WrkResult) WrkResult {
	if len(runs) == 0 {
		return WrkResult{}
	}
	median := func(value func(WrkResult) float64) float64 {
		values := make([]float64, len(runs))
		for i, r := range runs {
			values[i] = value(r)
		}
		slices.Sort(values)
		return values[len(values)/2]
	}

	out := WrkResult{
		RPS: median(func(r WrkResult) float64 { return r.RPS }),
		P50: time.Duration(median(func(r WrkResult) float64 { return float64(r.P50) })),
		P99: time.Duration(median(func(r WrkResult) float64 { return float64(r.P99) })),
	}
	for _, r := range runs {
		out.Requests += r.Requests
		out.Non2xx3xx += r.Non2xx3xx
		out.Socket.Connect += r.Socket.Connect
		out.Socket.Read += r.Socket.Read
		out.Socket.Write += r.Socket.Write
		out.Socket.Timeout += r.Socket.Timeout
	}
	return out
}

// WriteTable writes one scenario's results as an aligned table.
func WriteTable(w io.Writer, scenario string, ms []Measurement) error {
	var b strings.Builder
	fmt.Fprintf(&b, "\n== %s ==\n", scenario)
	fmt.Fprintf(&b, "%-8s %12s %10s %10s %10s\n", "target", "req/s", "p50 ms", "p99 ms", "errors")
	for _, m := range ms {
		fmt.Fprintf(&b, "%-8s %12.2f %10s %10s %10d\n",
			m.Target, m.Result.RPS, millis(m.Result.P50), millis(m.Result.P99), m.Result.Errors())
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func millis(d time.Duration) string {
	return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond))
}

// RatioLine compares DFLB with NGINX: DFLB's req/s over NGINX's and DFLB's
// p99 over NGINX's. ok is false unless both targets ran and NGINX reported
// a non-zero rate and p99.
func RatioLine(ms []Measurement) (line string, ok bool) {
	var nginx, dflb *WrkResult
	for i := range ms {
		switch ms[i].Target {
		case TargetNginx:
			nginx = &ms[i].Result
		case TargetDFLB:
			dflb = &ms[i].Result
		}
	}
	if nginx == nil || dflb == nil || nginx.RPS == 0 || nginx.P99 == 0 {
		return "", false
	}
	return fmt.Sprintf("dflb/nginx: rps %.2f p99 %.2f", dflb.RPS/nginx.RPS, float64(dflb.P99)/float64(nginx.P99)), true
}

// RoundsLine compares DFLB with NGINX round by round, from the runs of each
// target in the order they ran. Within a round the two ran back to back, or
// with only the direct run between them, so the spread of these ratios
// shows how much the host's load moved the medians. ok is false unless both
// targets have a run in every round and NGINX reported a non-zero rate and
// p99 in each.
func RoundsLine(nginx, dflb []WrkResult) (line string, ok bool) {
	if len(nginx) == 0 || len(nginx) != len(dflb) {
		return "", false
	}

	var rps, p99 strings.Builder
	for i := range nginx {
		if nginx[i].RPS == 0 || nginx[i].P99 == 0 {
			return "", false
		}
		fmt.Fprintf(&rps, " %.2f", dflb[i].RPS/nginx[i].RPS)
		fmt.Fprintf(&p99, " %.2f", float64(dflb[i].P99)/float64(nginx[i].P99))
	}
	return fmt.Sprintf("dflb/nginx by round: rps%s p99%s", rps.String(), p99.String()), true
}

// WriteErrors writes one loud line per run that had failed requests and
// returns how many runs that were.
func WriteErrors(w io.Writer, ms []Measurement) (int, error) {
	failed := 0
	for _, m := range ms {
		r := m.Result
		if r.Errors() == 0 {
			continue
		}
		failed++
		_, err := fmt.Fprintf(w, "!!! ERRORS in %q against %s: %d of %d requests failed "+
			"(status >= 400: %d; socket errors: connect %d, read %d, write %d, timeout %d)\n",
			m.Scenario, m.Target, r.Errors(), r.Requests,
			r.Non2xx3xx, r.Socket.Connect, r.Socket.Read, r.Socket.Write, r.Socket.Timeout)
		if err != nil {
			return failed, err
		}
	}
	return failed, nil
}
