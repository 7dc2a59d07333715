package controlplane

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/balancer"
	"github.com/dflb/dflb/dfmapi"
	"github.com/dflb/dflb/provider"
)

// policyEpoch is the injected clock's start in the policy tests.
var policyEpoch = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

// testPolicy returns a policy with short windows. Overload is 100 req/s
// held for 5 s, moves aim at 70 req/s, and rates cover 5 s.
func testPolicy() Policy {
	return Policy{
		Enabled:           true,
		MinInstances:      1,
		MaxInstances:      3,
		OverloadRPS:       100,
		Target:            0.7,
		OverloadFor:       5 * time.Second,
		LowFor:            5 * time.Second,
		ScaleOutCooldown:  time.Minute,
		ScaleInCooldown:   2 * time.Minute,
		Warmup:            30 * time.Second,
		MaxTenantsPerStep: 10,
	}
}

// policyHarness is a Controller without provider or database, whose state
// the test builds and whose statistics it fills on an injected clock.
type policyHarness struct {
	c       *Controller
	stats   *balancer.Stats
	now     time.Time
	sampled bool
	logs    *lockedLog
}

// newPolicyHarness returns a controller with policy p and a ready instance
// for each entry of placement, created and last changed an hour ago.
func newPolicyHarness(t *testing.T, p Policy, placement map[string][]string) *policyHarness {
	t.Helper()
	h := &policyHarness{stats: balancer.NewStats(), now: policyEpoch, logs: &lockedLog{}}
	h.c = &Controller{Policy: p, Stats: h.stats, Now: h.clock, Logger: h.logs.logger()}
	h.c.init()

	st := stateWith(placement, nil)
	for _, r := range st.Instances {
		r.Created = h.now.Add(-time.Hour)
		r.Changed = h.now.Add(-time.Hour)
	}
	st.NextSeq = len(placement) + 1
	h.c.state = st
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", h.logs)
		}
	})
	return h
}

func (h *policyHarness) clock() time.Time { return h.now }

// traffic sends rps[instance][tenant] requests in each of seconds seconds
// through the statistics, and samples the tracker at the end of each, as
// the controller's one-second passes do. The first call samples once
// before any request, as the controller's first pass does.
func (h *policyHarness) traffic(seconds int, rps map[string]map[string]int) {
	if !h.sampled {
		h.c.load.sample(h.now)
		h.sampled = true
	}
	for range seconds {
		for inst, tenants := range rps {
			for tenant, n := range tenants {
				cell := h.stats.Pair(tenant, inst)
				for range n {
					cell.Start(0)
					cell.Done(0, balancer.ClassOK, 0, 0, time.Millisecond)
				}
			}
		}
		h.now = h.now.Add(time.Second)
		h.c.load.sample(h.now)
	}
}

// decisionsOf returns the decisions of kind made so far.
func (h *policyHarness) decisionsOf(kind string) []Decision {
	var out []Decision
	for _, d := range h.c.Decisions(recentDecisions) {
		if d.Kind == kind {
			out = append(out, d)
		}
	}
	return out
}

func TestHeaviestTenants(t *testing.T) {
	tests := []struct {
		name       string
		maxStep    int
		tenants    []string
		rps        map[string]int
		seconds    int
		want       []string
		wantReason string
		overload   bool
	}{
		{
			name: "one heavy tenant suffices", tenants: []string{"a", "b", "c", "d"},
			rps: map[string]int{"a": 60, "b": 30, "c": 20, "d": 10}, seconds: 7,
			want: []string{"a"}, wantReason: "60 of 120 req/s", overload: true,
		},
		{
			name: "two heaviest needed", tenants: []string{"a", "b", "c", "d"},
			rps: map[string]int{"a": 40, "b": 40, "c": 30, "d": 10}, seconds: 7,
			want: []string{"a", "b"}, wantReason: "80 of 120 req/s", overload: true,
		},
		{
			name: "heaviest chosen over name order", tenants: []string{"a", "b", "c"},
			rps: map[string]int{"a": 10, "b": 20, "c": 90}, seconds: 7,
			want: []string{"c"}, wantReason: "90 of 120 req/s", overload: true,
		},
		{
			name: "never every tenant", tenants: []string{"a", "b"},
			rps: map[string]int{"a": 90, "b": 90}, seconds: 7,
			want: []string{"a"}, wantReason: "90 of 180 req/s", overload: true,
		},
		{
			name: "at most MaxTenantsPerStep", maxStep: 2, tenants: []string{"a", "b", "c", "d", "e", "f"},
			rps: map[string]int{"a": 30, "b": 30, "c": 30, "d": 30, "e": 30, "f": 30}, seconds: 7,
			want: []string{"a", "b"}, wantReason: "60 of 180 req/s", overload: true,
		},
		{
			name: "single tenant", tenants: []string{"a"},
			rps: map[string]int{"a": 150}, seconds: 7,
			want: nil, wantReason: "a single tenant cannot be split", overload: true,
		},
		{
			name: "incomplete statistics move half by name", tenants: []string{"a", "b", "c", "d", "e"},
			rps: map[string]int{"e": 200}, seconds: 2,
			want: []string{"a", "b", "c"}, wantReason: "no complete statistics",
		},
		{
			name: "incomplete statistics at most MaxTenantsPerStep", maxStep: 2, tenants: []string{"a", "b", "c", "d", "e"},
			rps: map[string]int{"e": 200}, seconds: 2,
			want: []string{"a", "b"}, wantReason: "no complete statistics",
		},
		{
			name: "no requests move half by name", tenants: []string{"a", "b", "c", "d"},
			rps: map[string]int{}, seconds: 7,
			want: []string{"a", "b"}, wantReason: "no complete statistics",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPolicy()
			if tt.maxStep > 0 {
				p.MaxTenantsPerStep = tt.maxStep
			}
			h := newPolicyHarness(t, p, map[string][]string{"i1": tt.tenants})
			h.traffic(tt.seconds, map[string]map[string]int{"i1": tt.rps})

			got, reason := h.c.heaviest("i1", h.now)

			assert.Equal(t, tt.want, got)
			assert.Contains(t, reason, tt.wantReason)
			over, _ := h.c.overloaded("i1", h.now)
			assert.Equal(t, tt.overload, over, "overloaded by rate")
		})
	}
}

func TestHeaviestBringsInstanceUnderTarget(t *testing.T) {
	h := newPolicyHarness(t, testPolicy(), map[string][]string{"i1": {"a", "b", "c", "d", "e"}})
	rps := map[string]int{"a": 25, "b": 35, "c": 15, "d": 45, "e": 30}
	h.traffic(7, map[string]map[string]int{"i1": rps})

	got, _ := h.c.heaviest("i1", h.now)

	// i1's 150 req/s must drop by 80 to reach 70, and d and b (45 + 35)
	// are the fewest tenants that carry that much.
	assert.Equal(t, []string{"d", "b"}, got)
	left := 0
	for tenant, n := range rps {
		if !slices.Contains(got, tenant) {
			left += n
		}
	}
	assert.LessOrEqual(t, float64(left), testPolicy().Target*testPolicy().OverloadRPS, "rate left on i1")
	without := got[:len(got)-1]
	movedWithout := 0
	for _, tenant := range without {
		movedWithout += rps[tenant]
	}
	assert.Greater(t, 150-movedWithout, 70, "one tenant fewer would not be enough, so the set is the smallest")
}

func TestPlanScaleOut(t *testing.T) {
	heavy := map[string]map[string]int{"i1": {"a": 60, "b": 30, "c": 20, "d": 10}}
	tests := []struct {
		name    string
		prepare func(h *policyHarness)
		reason  string // the recorded reason to wait, empty when a scale-out is planned
	}{
		{name: "plans"},
		{
			name:    "warmup",
			prepare: func(h *policyHarness) { h.c.state.Instances["i1"].Created = h.now.Add(-10 * time.Second) },
			reason:  "instance is warming up",
		},
		{
			name:    "recent placement change",
			prepare: func(h *policyHarness) { h.c.state.Instances["i1"].Changed = h.now.Add(-10 * time.Second) },
			reason:  "its statistics still contain the placement before the last change",
		},
		{
			name:    "cooldown",
			prepare: func(h *policyHarness) { h.c.state.LastScaleOut = h.now.Add(-30 * time.Second) },
			reason:  "scale-out cooldown",
		},
		{
			name:    "maximum instances",
			prepare: func(h *policyHarness) { h.c.Policy.MaxInstances = 1 },
			reason:  "at the maximum of 1 instances",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newPolicyHarness(t, testPolicy(), map[string][]string{"i1": {"a", "b", "c", "d"}})
			h.traffic(7, heavy)
			if tt.prepare != nil {
				tt.prepare(h)
			}

			planned := h.c.planScaleOut("i1", h.now)

			if tt.reason != "" {
				assert.False(t, planned)
				assert.Nil(t, h.c.state.Op, "no operation may be planned")
				assert.Len(t, h.c.state.Instances, 1, "no instance may be added")
				waits := h.decisionsOf("wait")
				require.Len(t, waits, 1)
				assert.Equal(t, tt.reason, waits[0].Reason)
				assert.Equal(t, "i1", waits[0].Instance)
				assert.Contains(t, waits[0].Observed, "rate over 100 req/s")
				return
			}
			require.True(t, planned)
			op := h.c.state.Op
			require.NotNil(t, op)
			assert.Equal(t, OpScaleOut, op.Kind)
			assert.Equal(t, StepCreate, op.Step)
			assert.Equal(t, []string{"i2"}, op.Create)
			assert.Equal(t, []string{"a"}, op.Moved)
			assert.Equal(t, map[string][]string{"i1": {"b", "c", "d"}, "i2": {"a"}}, op.Layout)
			require.Contains(t, h.c.state.Instances, "i2")
			assert.Equal(t, PhaseCreating, h.c.state.Instances["i2"].Phase)
			assert.Equal(t, OriginScaleOut, h.c.state.Instances["i2"].Origin)
			assert.Len(t, h.decisionsOf("scale_out"), 1)
		})
	}
}

func TestPlanScaleOutNotOverloaded(t *testing.T) {
	h := newPolicyHarness(t, testPolicy(), map[string][]string{"i1": {"a", "b"}})
	h.traffic(7, map[string]map[string]int{"i1": {"a": 40, "b": 40}})

	assert.False(t, h.c.planScaleOut("i1", h.now))
	assert.Nil(t, h.c.state.Op)
	assert.Empty(t, h.c.Decisions(10), "an instance under its threshold needs no decision")
}

func TestPlanScaleOutMaxAlertOnce(t *testing.T) {
	p := testPolicy()
	p.MaxInstances = 1
	h := newPolicyHarness(t, p, map[string][]string{"i1": {"a", "b"}})
	h.traffic(7, map[string]map[string]int{"i1": {"a": 90, "b": 90}})

	for range 3 {
		h.c.mu.Lock()
		h.c.evaluate(h.now)
		h.c.mu.Unlock()
	}

	assert.Nil(t, h.c.state.Op)
	assert.Equal(t, 1, strings.Count(h.logs.String(), "alert: overloaded at the maximum instance count"), "the alert is logged once")
	assert.Len(t, h.decisionsOf("wait"), 1, "the reason to wait is recorded once")
}

func TestPlanScaleOutOnDFMReportWithoutStats(t *testing.T) {
	// Missing statistics may allow a scale-out when DFM reports overload,
	// and then half of the tenants move, by name.
	p := testPolicy()
	p.OverloadRPS = 0
	h := newPolicyHarness(t, p, map[string][]string{"i1": {"a", "b", "c", "d"}})
	h.c.Stats = nil
	h.c.init()
	h.c.notified(dfmapi.Notification{Instance: "i1", Kind: dfmapi.KindOverload})

	planned := h.c.planScaleOut("i1", h.now)

	require.True(t, planned)
	require.NotNil(t, h.c.state.Op)
	assert.Equal(t, []string{"a", "b"}, h.c.state.Op.Moved)
	assert.Contains(t, h.c.state.Op.Observed, "DFM reports overload")
	assert.Contains(t, h.c.state.Op.Reason, "no complete statistics")
}

func TestLowUsedNeedsCompleteStatistics(t *testing.T) {
	p := testPolicy()
	p.LowRPS = 5
	p.LowFor = 10 * time.Second
	h := newPolicyHarness(t, p, map[string][]string{"i1": {"a"}, "i2": {"b"}})

	// The low-usage clock of i1 has run for LowFor, as after a restart,
	// but only two samples have been taken since.
	h.c.load.trackIdle("i1", h.now)
	h.now = h.now.Add(p.LowFor + 2*time.Second)
	h.traffic(1, map[string]map[string]int{"i1": {"a": 1}})

	require.GreaterOrEqual(t, h.c.load.underFor("i1", h.now), p.LowFor, "the tracker sees i1 under LowRPS for LowFor")
	low, _ := h.c.lowUsed("i1", h.now)
	assert.False(t, low, "statistics over less than LowFor must not count as low usage")

	h.traffic(int(p.LowFor/time.Second), map[string]map[string]int{"i1": {"a": 1}})

	low, observed := h.c.lowUsed("i1", h.now)
	assert.True(t, low, "statistics now cover LowFor")
	assert.Contains(t, observed, "rate under 5 req/s")
}

func TestScaleInNeverWithoutStats(t *testing.T) {
	// DFM reports low usage, but no statistics give the tenants' rates.
	p := testPolicy()
	h := newPolicyHarness(t, p, map[string][]string{"i1": {"a"}, "i2": {"b"}})
	h.c.Stats = nil
	h.c.init()
	status := dfmapi.Status{Instance: "i1", Components: []dfmapi.ComponentStatus{{Name: "app", State: dfmapi.ComponentUp}},
		Load: dfmapi.Load{Low: true}}
	h.c.Observe("i1", status, nil)
	low, _ := h.c.lowUsed("i1", h.now)
	require.True(t, low, "DFM's report counts as low usage")

	planned := h.c.planScaleIn("i1", h.now)

	assert.False(t, planned)
	assert.Nil(t, h.c.state.Op)
	waits := h.decisionsOf("wait")
	require.Len(t, waits, 1)
	assert.Equal(t, "statistics are not complete yet", waits[0].Reason)

	h.c.Policy.LowRPS = 5
	h.c.init()
	low, _ = h.c.lowUsed("i1", h.now)
	assert.False(t, low, "with LowRPS set, missing statistics are never low usage")
}

func TestPlanScaleIn(t *testing.T) {
	tests := []struct {
		name    string
		rps     map[string]map[string]int
		prepare func(h *policyHarness)
		reason  string // the recorded reason to wait, empty when none is recorded
		planned bool
	}{
		{name: "plans", rps: map[string]map[string]int{"i1": {"a": 2}, "i2": {"b": 50}}, planned: true},
		{
			name: "minimum instances", rps: map[string]map[string]int{"i1": {"a": 2}, "i2": {"b": 50}},
			prepare: func(h *policyHarness) { h.c.Policy.MinInstances = 2 },
		},
		{
			name: "cooldown after scale-in", rps: map[string]map[string]int{"i1": {"a": 2}, "i2": {"b": 50}},
			prepare: func(h *policyHarness) { h.c.state.LastScaleIn = h.now.Add(-time.Minute) },
			reason:  "scale-in cooldown",
		},
		{
			name: "cooldown after scale-out", rps: map[string]map[string]int{"i1": {"a": 2}, "i2": {"b": 50}},
			prepare: func(h *policyHarness) { h.c.state.LastScaleOut = h.now.Add(-time.Minute) },
			reason:  "scale-in cooldown",
		},
		{
			name: "others would pass target", rps: map[string]map[string]int{"i1": {"a": 2}, "i2": {"b": 69}},
			reason: "instance i2 would reach 71 req/s, over 70",
		},
		{
			name: "serves guests", rps: map[string]map[string]int{"i1": {"a": 2}, "i2": {"b": 50}},
			prepare: func(h *policyHarness) { h.c.state.Instances["i1"].Guests = []string{"b"} },
			reason:  "it serves tenants of a broken instance",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPolicy()
			p.LowRPS = 5
			h := newPolicyHarness(t, p, map[string][]string{"i1": {"a"}, "i2": {"b"}})
			h.traffic(7, tt.rps)
			if tt.prepare != nil {
				tt.prepare(h)
			}
			low, _ := h.c.lowUsed("i1", h.now)
			require.True(t, low, "i1 must be low-used for the case to mean anything")

			planned := h.c.planScaleIn("i1", h.now)

			waits := h.decisionsOf("wait")
			if !tt.planned {
				assert.False(t, planned)
				assert.Nil(t, h.c.state.Op, "no operation may be planned")
				if tt.reason == "" {
					assert.Empty(t, waits)
					return
				}
				require.Len(t, waits, 1)
				assert.Equal(t, tt.reason, waits[0].Reason)
				return
			}
			require.True(t, planned)
			op := h.c.state.Op
			require.NotNil(t, op)
			assert.Equal(t, OpScaleIn, op.Kind)
			assert.Equal(t, StepWiden, op.Step)
			assert.Equal(t, []string{"i1"}, op.Retire)
			assert.True(t, op.Graceful)
			assert.Equal(t, []string{"a"}, op.Moved)
			assert.Equal(t, []string{"a", "b"}, op.Layout["i2"])
			require.Contains(t, op.Layout, "i1")
			assert.Empty(t, op.Layout["i1"])
			assert.Empty(t, op.Create)
			assert.Empty(t, waits)
		})
	}
}

func TestPlanScaleInNotWhenBusy(t *testing.T) {
	p := testPolicy()
	p.LowRPS = 5
	h := newPolicyHarness(t, p, map[string][]string{"i1": {"a"}, "i2": {"b"}})
	h.traffic(7, map[string]map[string]int{"i1": {"a": 20}, "i2": {"b": 20}})

	assert.False(t, h.c.planScaleIn("i1", h.now))
	assert.Nil(t, h.c.state.Op)
}

// TestLowUsageSurvivesNotificationPass makes the passes that Run makes.
// Its ticker brings one a second, and a notification brings two more: one
// after the notification and one for the wake-up that notified requests.
func TestLowUsageSurvivesNotificationPass(t *testing.T) {
	tests := []struct {
		name   string
		noteAt int // seconds into the run, 0 for no notification
	}{
		{name: "ticks only"},
		{name: "notification between ticks", noteAt: 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPolicy()
			p.Enabled = false // so passes only sample, and the test reads lowUsed itself
			p.LowRPS = 5
			p.LowFor = 10 * time.Second
			p.OverloadFor = 10 * time.Second
			h := newPolicyHarness(t, p, map[string][]string{"i1": {"a"}, "i2": {"b"}})
			ctx := context.Background()
			start := h.now
			h.c.pass(ctx)

			for second := 1; second <= 20; second++ {
				h.stats.Pair("a", "i1").Start(0)
				for range 20 {
					h.stats.Pair("b", "i2").Start(0)
				}
				if second == tt.noteAt {
					h.now = start.Add(time.Duration(second)*time.Second - 700*time.Millisecond)
					h.c.notified(dfmapi.Notification{Instance: "i2", Kind: dfmapi.KindComponentUp, Component: "app"})
					h.c.pass(ctx)
					<-h.c.wake
					h.now = h.now.Add(time.Millisecond)
					h.c.pass(ctx)
				}
				h.now = start.Add(time.Duration(second) * time.Second)
				h.c.pass(ctx)
			}

			rates, complete := h.c.load.rates(p.LowFor)
			assert.True(t, complete, "20 s of passes cover LowFor of 10 s, but the rates span only %s", rates.Span)
			low, _ := h.c.lowUsed("i1", h.now)
			assert.True(t, low, "i1 has had 1 req/s against LowRPS 5 for 20 s")
		})
	}
}

func TestCooldownSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := OpenDB(path)
	require.NoError(t, err)
	now := policyEpoch
	first := &Controller{DB: db, Policy: testPolicy(), Now: func() time.Time { return now }, Logger: (&lockedLog{}).logger()}
	first.init()
	first.state = stateWith(map[string][]string{"i1": {"a", "b", "c"}, "i2": {"d"}}, map[string]Origin{"i2": OriginScaleOut})
	for _, r := range first.state.Instances {
		r.Created, r.Changed = now.Add(-time.Hour), now.Add(-time.Hour)
	}
	first.state.Op = &Operation{ID: 7, Kind: OpScaleOut, Step: StepDone, Create: []string{"i2"}, Started: now.Add(-time.Minute)}

	require.NoError(t, first.finish(), "ending a scale-out records its time")
	require.NoError(t, db.Close())

	db, err = OpenDB(path)
	require.NoError(t, err)
	defer db.Close()
	url := closedPortURL(t)
	fake := &fakeProvider{instances: []provider.Instance{
		{ID: "i1", Name: "i1", DFMURL: url, State: provider.StateActive},
		{ID: "i2", Name: "i2", DFMURL: url, State: provider.StateActive},
	}}
	var published [][]balancer.InstanceSpec
	clock := now.Add(20 * time.Second)
	logs := &lockedLog{}
	second := &Controller{
		Provider: fake, DB: db, Policy: testPolicy(), Components: []string{"app"},
		Launcher: &Launcher{Provider: fake, Bootstrap: provider.Bootstrap{Secret: testSecret}, ReadyTimeout: time.Second},
		Publish:  func(specs []balancer.InstanceSpec) error { published = append(published, specs); return nil },
		Now:      func() time.Time { return clock },
		Logger:   logs.logger(),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, second.Start(ctx, nil))
	require.True(t, second.State().LastScaleOut.Equal(now), "LastScaleOut %s read back", second.State().LastScaleOut)
	require.Len(t, published, 1, "Start publishes the saved routes")

	second.notified(dfmapi.Notification{Instance: "i1", Kind: dfmapi.KindOverload})
	second.mu.Lock()
	second.evaluate(clock)
	op := second.state.Op
	second.mu.Unlock()

	assert.Nil(t, op, "20 s after a scale-out, within the 60 s cooldown, no scale-out is planned")
	found := false
	for _, d := range second.Decisions(recentDecisions) {
		if d.Kind == "wait" && d.Reason == "scale-out cooldown" {
			found = true
		}
	}
	assert.True(t, found, "the wait is recorded with its reason: %v", second.Decisions(recentDecisions))

	clock = now.Add(61 * time.Second)
	second.notified(dfmapi.Notification{Instance: "i1", Kind: dfmapi.KindOverload})
	second.mu.Lock()
	second.evaluate(clock)
	op = second.state.Op
	second.mu.Unlock()

	require.NotNil(t, op, "after the cooldown the overloaded instance is scaled out")
	assert.Equal(t, OpScaleOut, op.Kind)
	assert.NotContains(t, op.Create, "i2", "the new instance gets a free name")
}
