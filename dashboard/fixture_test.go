package dashboard

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/dflb/dflb/balancer"
	"github.com/dflb/dflb/controlplane"
	"github.com/dflb/dflb/dfmapi"
	"github.com/dflb/dflb/internal/bearer"
)

const testToken = "test-admin-token"

// testStart is the time of the first synthetic sample.
var testStart = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func tenantName(i int) string { return fmt.Sprintf("tenant%05d", i) }

func instanceName(i int) string { return fmt.Sprintf("i%d", i+1) }

// syntheticRates returns rates for tenants spread round robin over
// instances at sample step. Tenant k's request rate falls with k and
// swings with step, so the ranking is stable but the charts move.
func syntheticRates(tenants, instances, step int) balancer.Rates {
	r := balancer.Rates{
		Span:      time.Minute,
		Tenants:   make(map[string]balancer.Rate, tenants),
		Pairs:     map[balancer.Pair]balancer.Rate{},
		Instances: make(map[string]balancer.Rate, instances),
	}
	for k := range tenants {
		wave := 1 + 0.3*math.Sin(float64(step)/15+float64(k))
		rate := balancer.Rate{
			Requests: 1000 / float64(k+1) * wave,
			Errors:   10 / float64(k+1) * wave * float64(k%3) / 2,
			P99:      time.Duration(float64(5+k%40) * wave * float64(time.Millisecond)),
			Inflight: int64(k % 5),
		}
		r.Tenants[tenantName(k)] = rate
		inst := instanceName(k % max(instances, 1))
		sum := r.Instances[inst]
		sum.Requests += rate.Requests
		sum.Errors += rate.Errors
		sum.P99 = max(sum.P99, rate.P99)
		sum.Inflight += rate.Inflight
		r.Instances[inst] = sum
	}
	return r
}

// feedHistory samples h steps times, one interval apart from start, with
// rates from syntheticRates.
func feedHistory(h *History, rates *balancer.Rates, start time.Time, tenants, instances, steps int) {
	for step := range steps {
		*rates = syntheticRates(tenants, instances, step)
		h.Sample(start.Add(time.Duration(step) * h.interval))
	}
}

// newTestHistory returns a History with minutes of samples of 50 tenants
// on 3 instances from start, at the default interval.
func newTestHistory(start time.Time, minutes int) *History {
	var rates balancer.Rates
	h := NewHistory(func() balancer.Rates { return rates }, HistoryOptions{})
	feedHistory(h, &rates, start, 50, 3, minutes*30)
	return h
}

// fakeStatus builds a status as DFLB's GET /v1/status would: 3 managed
// instances, tenants spread over them, one of i2's tenants on i3 as a
// guest, an operation in progress and decisions of every kind the page
// colours. tenants must be at least 2.
func fakeStatus(now time.Time, tenants int) controlplane.Status {
	rates := syntheticRates(tenants, 3, 0)
	specs := []balancer.InstanceSpec{}
	managed := &controlplane.State{Instances: map[string]*controlplane.InstanceRecord{}, NextSeq: 4}
	for i := range 3 {
		name := instanceName(i)
		var placed []string
		for k := i; k < tenants; k += 3 {
			placed = append(placed, tenantName(k))
		}
		addr := fmt.Sprintf("127.0.1.%d", i+1)
		managed.Instances[name] = &controlplane.InstanceRecord{
			Name: name, Address: addr, Components: map[string]string{"app": addr + ":9001", "api": addr + ":9002"},
			Tenants: placed, Phase: controlplane.PhaseReady, Origin: controlplane.OriginConfig,
			Created: now.Add(-time.Hour), Changed: now.Add(-time.Hour),
		}
		specs = append(specs, balancer.InstanceSpec{ID: name, Components: managed.Instances[name].Components, Tenants: slices.Clone(placed)})
	}
	managed.Instances["i3"].Guests = []string{tenantName(1)}
	specs[2].Tenants = append(specs[2].Tenants, tenantName(1))
	managed.Instances["i3"].Origin = controlplane.OriginScaleOut
	managed.Op = &controlplane.Operation{
		ID: 7, Kind: controlplane.OpScaleOut, Step: controlplane.StepCreate, Create: []string{"i4"},
		Moved: []string{tenantName(0)}, Observed: "i1 cpu 0.92 for 2m", Reason: "i1 overloaded", Started: now.Add(-20 * time.Second),
	}

	var backends []*balancer.Backend
	st := controlplane.BuildStatus(now, specs, backends, rates, []dfmapi.Notification{
		{Instance: "i2", Seq: 4, Time: now.Add(-3 * time.Minute), Kind: dfmapi.KindComponentDown, Component: "app", Reason: "health check failed"},
		{Instance: "i2", Seq: 5, Time: now.Add(-2 * time.Minute), Kind: dfmapi.KindComponentUp, Component: "app"},
	})
	// BuildStatus reads backends from a pool, which this test has not. Each
	// instance gets two, and one of i2's is down.
	for i := range st.Instances {
		inst := &st.Instances[i]
		addr := managed.Instances[inst.ID].Address
		inst.Backends = []controlplane.BackendStatus{
			{Component: "api", Addr: addr + ":9002", Up: true, Inflight: 1},
			{Component: "app", Addr: addr + ":9001", Up: inst.ID != "i2", Inflight: 3},
		}
	}
	st.Managed = managed
	st.Decisions = []controlplane.Decision{
		{Time: now.Add(-30 * time.Minute), Kind: "apply_done", Decided: "placed 50 tenants on i1, i2", Took: controlplane.Duration(4 * time.Second), Op: 1},
		{Time: now.Add(-12 * time.Minute), Kind: "scale_out", Instance: "i3", Observed: "i1 cpu 0.91", Decided: "create i3 and move 16 tenants", Reason: "i1 overloaded for 2m", Op: 5},
		{Time: now.Add(-11 * time.Minute), Kind: "scale_out_done", Instance: "i3", Decided: "i3 serves 16 tenants", Took: controlplane.Duration(41 * time.Second), Op: 5},
		{Time: now.Add(-5 * time.Minute), Kind: "failover", Instance: "i2", Observed: "3 failed polls", Decided: "serve i2's tenants from i3", Reason: "i2 DFM unreachable"},
		{Time: now.Add(-4 * time.Minute), Kind: "failback", Instance: "i2", Decided: "i2 serves its tenants again", Reason: "i2 healthy for 30s"},
		{Time: now.Add(-20 * time.Second), Kind: "scale_out", Instance: "i4", Observed: "i1 cpu 0.92 for 2m", Decided: "create i4 and move 1 tenant", Reason: "i1 overloaded", Op: 7},
	}
	return st
}

type testAlert struct {
	Rule        string `json:"rule"`
	Severity    string `json:"severity"`
	State       string `json:"state"`
	Summary     string `json:"summary"`
	ActiveSince string `json:"active_since"`
}

// newTestSource returns a Source over fakeStatus with 50 tenants whose
// token is testToken.
func newTestSource(h *History) Source {
	return Source{
		Status: func() controlplane.Status { return fakeStatus(time.Now(), 50) },
		Alerts: func() any {
			return []testAlert{{Rule: "instance_degraded", Severity: "warning", State: "firing",
				Summary: "instance i2 has a component down", ActiveSince: time.Now().Add(-3 * time.Minute).Format(time.RFC3339)}}
		},
		TokenValid: func(r *http.Request) bool { return bearer.Valid(r, []byte(testToken)) },
		History:    h,
	}
}

// newTestServer serves Handler(src) on 127.0.0.1. Unless src has a Done
// channel, it gets one that closes before the server does, because
// httptest.Server.Close waits for open event streams.
func newTestServer(t *testing.T, src Source) *httptest.Server {
	t.Helper()
	if src.Done == nil {
		done := make(chan struct{})
		src.Done = done
		defer t.Cleanup(func() { close(done) })
	}
	srv := httptest.NewServer(Handler(src))
	t.Cleanup(srv.Close)
	return srv
}

// get sends a GET with token as bearer token, none when empty.
func get(t *testing.T, url, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatalf("building request for %s: %v", url, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}
