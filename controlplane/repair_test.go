package controlplane

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/balancer"
	"github.com/dflb/dflb/provider"
	"github.com/dflb/dflb/provider/local"
)

// Loopback networks of the repair tests, one per test function, above
// those of controller_test.go. Subtests share their function's network
// because the local provider skips an address whose ports are taken.
const (
	replaceNetwork = "127.0.95"
	orphanNetwork  = "127.0.96"
	cancelNetwork  = "127.0.97"
	reloadNetwork  = "127.0.98"
	drainNetwork   = "127.0.99"
)

// dataPlane is the part of the data plane that a controller drives: the
// pool whose backends the supervisor marks and the drain step counts, and
// the specs of the last routing table published.
type dataPlane struct {
	pool  *balancer.Pool
	stats *balancer.Stats
	// prune removes the backends that the new table no longer uses after
	// each build, as cmd/dflb's publish does.
	prune bool
	specs atomic.Pointer[[]balancer.InstanceSpec]
}

func newDataPlane(prune bool) *dataPlane {
	newTransport := func(addr string) any { return addr }
	return &dataPlane{
		pool:  balancer.NewPool(newTransport, balancer.HealthConfig{Failures: 3, Cooloff: time.Second}, nil),
		stats: balancer.NewStats(),
		prune: prune,
	}
}

func (d *dataPlane) publish(specs []balancer.InstanceSpec) error {
	table, err := d.pool.Build(specs, d.stats)
	if err != nil {
		return err
	}
	if d.prune {
		d.pool.Prune(table)
	}
	d.specs.Store(&specs)
	return nil
}

// routes returns the tenants of each instance in the last table published.
func (d *dataPlane) routes() map[string][]string {
	out := map[string][]string{}
	specs := d.specs.Load()
	if specs == nil {
		return out
	}
	for _, spec := range *specs {
		out[spec.ID] = slices.Sorted(slices.Values(spec.Tenants))
	}
	return out
}

// newRepairController returns a controller over p and db that runs the
// component "app" and publishes to dp.
func newRepairController(p provider.Provider, db *DB, logs *lockedLog, dp *dataPlane) *Controller {
	c, _ := newTestController(p, db, logs)
	c.Publish = dp.publish
	c.Pool = dp.pool
	c.Stats = dp.stats
	c.Tick = 100 * time.Millisecond
	return c
}

// openDBAt opens the state database at path and closes it when the test
// ends, after the controllers that a later cleanup stops.
func openDBAt(t *testing.T, path string) *DB {
	t.Helper()
	db, err := OpenDB(path)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// runController runs c until the test ends and waits for Run to return,
// which it does after the running operation stopped.
func runController(t *testing.T, c *Controller) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx, nil)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("Run did not return within 20s of its context ending")
		}
	})
}

// inertRestartProvider wraps a provider. Its Restart only counts the call
// and succeeds, so that an instance hung by local.Provider.Hang stays hung
// after every restart.
type inertRestartProvider struct {
	provider.Provider
	restarts atomic.Int32
}

func (p *inertRestartProvider) Restart(context.Context, string) error {
	p.restarts.Add(1)
	return nil
}

// gatedDeleteProvider wraps a provider. Its Delete of the instance gated
// closes entered and then waits until release is closed or ctx ends.
type gatedDeleteProvider struct {
	provider.Provider
	gated   string
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (p *gatedDeleteProvider) Delete(ctx context.Context, id string) error {
	if id == p.gated {
		p.once.Do(func() { close(p.entered) })
		select {
		case <-p.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return p.Provider.Delete(ctx, id)
}

// guestsOf returns the guests of the named instance, or nil when the state
// does not contain it.
func guestsOf(c *Controller, name string) []string {
	if r, ok := c.State().Instances[name]; ok {
		return r.Guests
	}
	return nil
}

// stepOf returns the step of the operation in progress, or "" when none
// is.
func stepOf(c *Controller) Step {
	if op := c.State().Op; op != nil {
		return op.Step
	}
	return ""
}

// decisionsOfKind returns the decisions of kind that c made so far.
func decisionsOfKind(c *Controller, kind string) []Decision {
	var out []Decision
	for _, d := range c.Decisions(recentDecisions) {
		if d.Kind == kind {
			out = append(out, d)
		}
	}
	return out
}

// decisionKinds returns the kinds of the decisions that c made so far,
// oldest first.
func decisionKinds(c *Controller) []string {
	var out []string
	for _, d := range c.Decisions(recentDecisions) {
		out = append(out, d.Kind)
	}
	return out
}

// acquireBackend marks one request in flight on the backend of instance's
// component "app", and returns the function that ends it. The function may
// be called more than once, and the test's end calls it too.
func acquireBackend(t *testing.T, pool *balancer.Pool, instance string) func() {
	t.Helper()
	backends := backendsOf(pool, instance, "app")
	require.Len(t, backends, 1, "the pool must have the backend of %s/app", instance)
	b := backends[0]
	b.Acquire()
	var once sync.Once
	release := func() { once.Do(b.Release) }
	t.Cleanup(release)
	return release
}

// planScaleInOf plans, in c's state, a graceful scale-in that retires i2
// and moves its tenant globex to i1, which serves acme.
func planScaleInOf(t *testing.T, c *Controller) *Operation {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	op := &Operation{
		Kind: OpScaleIn, Step: StepWiden, Moved: []string{"globex"}, Retire: []string{"i2"}, Graceful: true,
		Observed: "planned by the test", Reason: "the test retires i2",
	}
	op.setLayout("i2", nil, []string{"globex"})
	op.setLayout("i1", []string{"acme", "globex"}, []string{"acme"})
	c.plan(op, c.now(), "")
	require.NotNil(t, c.state.Op, "the scale-in must be journaled")
	return op
}

// twoInstanceLayout places acme on i1 and globex on i2.
var twoInstanceLayout = []Plan{
	{ID: "i1", Components: []string{"app"}, Tenants: []string{"acme"}},
	{ID: "i2", Components: []string{"app"}, Tenants: []string{"globex"}},
}

func TestReplaceAfterFailedRestarts(t *testing.T) {
	tests := []struct {
		name string
		// enabled is Policy.Enabled. Policy documents that replacement
		// works whether autoscaling is on or off.
		enabled bool
	}{
		{name: "autoscaling enabled", enabled: true},
		{name: "autoscaling disabled", enabled: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &lockedLog{}
			instances := newTestProvider(t, t.TempDir(), replaceNetwork, logs)
			inert := &inertRestartProvider{Provider: instances}
			db := openTestDB(t)
			dp := newDataPlane(true)
			c := newRepairController(inert, db, logs, dp)
			c.Policy = Policy{Enabled: tt.enabled, FailbackAfter: time.Second}
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()

			require.NoError(t, c.Start(ctx, twoInstanceLayout))
			require.Equal(t, map[string][]string{"i1": {"acme"}, "i2": {"globex"}}, dp.routes())
			s := &Supervisor{
				Provider:    inert,
				Pool:        dp.pool,
				Secret:      testSecret,
				Interval:    200 * time.Millisecond,
				Timeout:     300 * time.Millisecond,
				Failures:    2,
				MaxRestarts: 1,
				Observe:     c.Observe,
				Abandon:     c.Abandoned,
				Supervised:  c.Supervised,
				Logger:      logs.logger(),
			}
			runController(t, c)
			runSupervisor(t, s)

			require.NoError(t, instances.Hang(ctx, "i1"))

			require.Eventually(t, func() bool { return slices.Contains(guestsOf(c, "i2"), "acme") }, 10*time.Second, 50*time.Millisecond,
				"failover must make i2 serve acme as a guest")
			assert.Equal(t, []string{"acme", "globex"}, dp.routes()["i2"], "acme is routed to i2 too")
			assert.True(t, hasDecision(c, "failover"), "decision kinds: %v", decisionKinds(c))

			replaced := assert.Eventually(t, func() bool { return hasDecision(c, "replace_done") }, 25*time.Second, 100*time.Millisecond,
				"after its restarts i1 must be replaced")
			if !replaced {
				t.Fatalf("decision kinds: %v", decisionKinds(c))
			}
			assert.Equal(t, int32(1), inert.restarts.Load(), "i1 is restarted MaxRestarts times before its replacement")
			replaces := decisionsOfKind(c, "replace")
			require.Len(t, replaces, 1)
			assert.Equal(t, "i1", replaces[0].Instance)

			st := c.State()
			assert.Nil(t, st.Op)
			assert.NotContains(t, st.Instances, "i1", "the replaced instance leaves the state")
			require.Contains(t, st.Instances, "i3", "the replacement is named i3")
			assert.Equal(t, []string{"acme"}, st.Instances["i3"].Tenants)
			assert.Equal(t, PhaseReady, st.Instances["i3"].Phase)
			assert.Equal(t, OriginReplacement, st.Instances["i3"].Origin)
			assert.Equal(t, []string{"globex"}, st.Instances["i2"].Tenants, "i2 keeps its own tenant")

			assert.Empty(t, instancesNamed(t, instances, "i1"), "the provider no longer lists i1")
			replacement := instancesNamed(t, instances, "i3")
			require.Len(t, replacement, 1)
			requireServes(t, replacement[0], "acme")
			assert.Equal(t, []string{"acme"}, dp.routes()["i3"], "acme is routed to i3")
			assert.NotContains(t, dp.routes(), "i1", "i1 has no route")

			saved, err := db.LoadState()
			require.NoError(t, err)
			assert.NotContains(t, saved.Instances, "i1", "the saved state no longer has i1")
			assert.Contains(t, saved.Instances, "i3", "the saved state has i3")

			// Once i3 is healthy for FailbackAfter, acme leaves its failover
			// host.
			assert.Eventually(t, func() bool { return len(guestsOf(c, "i2")) == 0 }, 10*time.Second, 50*time.Millisecond,
				"acme must fail back from i2 once i3 serves it")
			assert.Equal(t, map[string][]string{"i2": {"globex"}, "i3": {"acme"}}, dp.routes())
		})
	}
}

func TestStartHandlesOrphans(t *testing.T) {
	tests := []struct {
		mode string
		// listed is whether the provider still lists the orphan after
		// Start, and kept whether the state contains it.
		listed  bool
		kept    bool
		decided string
	}{
		{mode: OrphansReport, listed: true, kept: false, decided: "left alone and not routed"},
		{mode: OrphansAdopt, listed: true, kept: true, decided: "adopted without tenants"},
		{mode: OrphansDelete, listed: false, kept: false, decided: "deleted"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			logs := &lockedLog{}
			root := t.TempDir()
			path := filepath.Join(t.TempDir(), "state.db")
			layout := []Plan{{ID: "i1", Components: []string{"app"}, Tenants: []string{"acme"}}}
			instances := newTestProvider(t, root, orphanNetwork, logs)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			// The first DFLB applies the layout and stops.
			db, err := OpenDB(path)
			require.NoError(t, err)
			first := newRepairController(instances, db, logs, newDataPlane(true))
			require.NoError(t, first.Start(ctx, layout))
			require.NoError(t, db.Close())

			// Meanwhile an instance appears that the state does not contain.
			orphan, err := instances.Create(ctx, provider.Spec{Name: "stray", Image: local.DefaultImage,
				Bootstrap: provider.Bootstrap{Secret: testSecret}})
			require.NoError(t, err)

			// The next DFLB has a provider of its own over the same
			// instance directories, as after a restart.
			restarted, err := local.New(testProviderConfig(root, orphanNetwork), logs.logger())
			require.NoError(t, err)
			db = openDBAt(t, path)
			dp := newDataPlane(true)
			second := newRepairController(restarted, db, logs, dp)
			second.Policy = Policy{Orphans: tt.mode}

			require.NoError(t, second.Start(ctx, layout))

			var decided []string
			for _, d := range decisionsOfKind(second, "orphan") {
				if d.Instance == "stray" {
					decided = append(decided, d.Decided)
				}
			}
			assert.Equal(t, []string{tt.decided}, decided, "one orphan decision for stray")

			listed := instancesNamed(t, restarted, "stray")
			if tt.listed {
				require.Len(t, listed, 1, "the orphan must still exist")
				assert.Equal(t, provider.StateActive, listed[0].State)
			} else {
				assert.Empty(t, listed, "the orphan must be deleted")
			}

			st := second.State()
			saved, err := db.LoadState()
			require.NoError(t, err)
			if tt.kept {
				require.Contains(t, st.Instances, "stray")
				r := st.Instances["stray"]
				assert.Empty(t, r.Tenants, "an adopted orphan gets no tenants")
				assert.Empty(t, r.Guests)
				assert.Equal(t, PhaseReady, r.Phase)
				assert.Equal(t, orphan.ID, r.ProviderID)
				assert.Contains(t, saved.Instances, "stray", "the adoption is saved")
			} else {
				assert.NotContains(t, st.Instances, "stray")
				assert.NotContains(t, saved.Instances, "stray")
			}

			assert.Len(t, instancesNamed(t, restarted, "i1"), 1, "i1 is found again, not created again")
			assert.Equal(t, map[string][]string{"i1": {"acme"}}, dp.routes(), "the orphan gets no route")
		})
	}
}

func TestCancelScaleInAtDrain(t *testing.T) {
	logs := &lockedLog{}
	instances := newTestProvider(t, t.TempDir(), cancelNetwork, logs)
	db := openTestDB(t)
	// The pool keeps every backend, so that the drain step finds the
	// request in flight on i2 after the switch. cmd/dflb prunes instead,
	// and TestScaleInDrainWithPrunedPool covers that.
	dp := newDataPlane(false)
	c := newRepairController(instances, db, logs, dp)
	c.Policy = Policy{DrainTimeout: 20 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	require.NoError(t, c.Start(ctx, twoInstanceLayout))
	acquireBackend(t, dp.pool, "i2")
	opID := planScaleInOf(t, c).ID

	runController(t, c)

	atDrain := assert.Eventually(t, func() bool { return stepOf(c) == StepDrain }, 15*time.Second, 10*time.Millisecond,
		"the scale-in must reach the drain step")
	if !atDrain {
		t.Fatalf("the scale-in is at step %q", stepOf(c))
	}
	require.Equal(t, map[string][]string{"i1": {"acme", "globex"}}, dp.routes(), "globex was routed to i1 before the cancel")
	require.Equal(t, PhaseRetiring, c.State().Instances["i2"].Phase)

	require.NoError(t, c.Cancel("test"))

	require.Eventually(t, func() bool { return c.State().Op == nil }, 15*time.Second, 20*time.Millisecond,
		"the cancelled scale-in must end")
	st := c.State()
	require.Contains(t, st.Instances, "i2")
	assert.Equal(t, PhaseReady, st.Instances["i2"].Phase)
	assert.Equal(t, []string{"globex"}, st.Instances["i2"].Tenants, "globex is placed on i2 again")
	assert.Equal(t, []string{"acme"}, st.Instances["i1"].Tenants)
	assert.Equal(t, map[string][]string{"i1": {"acme"}, "i2": {"globex"}}, dp.routes(), "globex is routed to i2 again")
	assert.Len(t, instancesNamed(t, instances, "i2"), 1, "i2 is not deleted")
	requireServes(t, instancesNamed(t, instances, "i1")[0], "acme")
	requireServes(t, instancesNamed(t, instances, "i2")[0], "globex")

	cancelled := decisionsOfKind(c, "scale_in_cancelled")
	require.Len(t, cancelled, 1, "decision kinds: %v", decisionKinds(c))
	assert.Equal(t, opID, cancelled[0].Op)
	assert.Equal(t, "i2", cancelled[0].Instance)
	assert.False(t, hasDecision(c, "scale_in_done"))

	saved, err := db.LoadState()
	require.NoError(t, err)
	assert.Nil(t, saved.Op, "the saved state has no operation")
	assert.Equal(t, []string{"globex"}, saved.Instances["i2"].Tenants)
}

func TestCancelScaleInPastShutdown(t *testing.T) {
	logs := &lockedLog{}
	instances := newTestProvider(t, t.TempDir(), cancelNetwork, logs)
	gated := &gatedDeleteProvider{Provider: instances, gated: "i2", entered: make(chan struct{}), release: make(chan struct{})}
	var releaseOnce sync.Once
	releaseDelete := func() { releaseOnce.Do(func() { close(gated.release) }) }
	t.Cleanup(releaseDelete)
	db := openTestDB(t)
	dp := newDataPlane(true)
	c := newRepairController(gated, db, logs, dp)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	require.NoError(t, c.Start(ctx, twoInstanceLayout))
	planScaleInOf(t, c)

	runController(t, c)

	select {
	case <-gated.entered:
	case <-ctx.Done():
		t.Fatalf("the scale-in did not reach the delete of i2 and is at step %q", stepOf(c))
	}
	require.Equal(t, StepDelete, stepOf(c))

	err := c.Cancel("test")

	require.ErrorIs(t, err, ErrNotCancellable)
	assert.Contains(t, err.Error(), "past the shutdown command")
	op := c.State().Op
	require.NotNil(t, op)
	assert.False(t, op.Cancelled, "a refused cancel leaves the operation as it was")

	releaseDelete()
	require.Eventually(t, func() bool { return c.State().Op == nil }, 15*time.Second, 20*time.Millisecond,
		"the scale-in must finish")
	assert.Empty(t, instancesNamed(t, instances, "i2"), "i2 is deleted")
	st := c.State()
	assert.NotContains(t, st.Instances, "i2")
	assert.Equal(t, []string{"acme", "globex"}, st.Instances["i1"].Tenants)
	assert.Equal(t, map[string][]string{"i1": {"acme", "globex"}}, dp.routes())
	requireServes(t, instancesNamed(t, instances, "i1")[0], "acme", "globex")
	assert.True(t, hasDecision(c, "scale_in_done"), "decision kinds: %v", decisionKinds(c))
	assert.False(t, hasDecision(c, "scale_in_cancelled"))
	assert.False(t, hasDecision(c, "cancel"))
}

// TestScaleInDrainWithPrunedPool wires publish as cmd/dflb does, so the
// switch prunes the backends of the retired i2 from the pool. The drain
// step must still wait for the request in flight on one of them.
func TestScaleInDrainWithPrunedPool(t *testing.T) {
	logs := &lockedLog{}
	instances := newTestProvider(t, t.TempDir(), drainNetwork, logs)
	dp := newDataPlane(true)
	c := newRepairController(instances, nil, logs, dp)
	c.Policy = Policy{DrainTimeout: 20 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	require.NoError(t, c.Start(ctx, twoInstanceLayout))
	release := acquireBackend(t, dp.pool, "i2")
	planScaleInOf(t, c)

	runController(t, c)

	require.Eventually(t, func() bool { op := c.State().Op; return op == nil || !op.Switched.IsZero() },
		15*time.Second, 10*time.Millisecond, "the scale-in must switch the routes")
	drainIndex := slices.Index(stepOrder, StepDrain)
	var reached atomic.Value // the step seen when the operation passed the drain step
	waited := assert.Never(t, func() bool {
		op := c.State().Op
		switch {
		case op == nil:
			reached.Store(StepDone)
		case slices.Index(stepOrder, op.Step) > drainIndex:
			reached.Store(op.Step)
		default:
			return false
		}
		return true
	}, 3*time.Second, 10*time.Millisecond, "with a request in flight on i2 the scale-in must wait in the drain step")
	if !waited {
		t.Logf("the scale-in reached step %q with the request still in flight", reached.Load())
	}
	assert.Len(t, instancesNamed(t, instances, "i2"), 1, "i2 must not be deleted while a request is in flight")

	release()
	require.Eventually(t, func() bool { return c.State().Op == nil }, 15*time.Second, 20*time.Millisecond,
		"the scale-in must finish once the request ended")
	assert.Empty(t, instancesNamed(t, instances, "i2"))
	assert.Equal(t, map[string][]string{"i1": {"acme", "globex"}}, dp.routes())
}

func TestApplyMovesTenantThenRetires(t *testing.T) {
	logs := &lockedLog{}
	instances := newTestProvider(t, t.TempDir(), reloadNetwork, logs)
	db := openTestDB(t)
	dp := newDataPlane(true)
	c := newRepairController(instances, db, logs, dp)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	oneInstance := []Plan{{ID: "i1", Components: []string{"app"}, Tenants: []string{"acme", "globex"}}}
	require.NoError(t, c.Start(ctx, oneInstance))
	require.Equal(t, map[string][]string{"i1": {"acme", "globex"}}, dp.routes())
	runController(t, c)

	// The reloaded file moves globex to a new instance i2.
	switched, err := c.Apply(ctx, oneInstance, twoInstanceLayout)

	require.NoError(t, err)
	assert.True(t, switched, "the move publishes routes")
	created := instancesNamed(t, instances, "i2")
	require.Len(t, created, 1, "i2 is created")
	assert.Equal(t, map[string][]string{"i1": {"acme"}, "i2": {"globex"}}, dp.routes())
	requireServes(t, instancesNamed(t, instances, "i1")[0], "acme")
	requireServes(t, created[0], "globex")
	st := c.State()
	assert.Nil(t, st.Op)
	require.Contains(t, st.Instances, "i2")
	assert.Equal(t, PhaseReady, st.Instances["i2"].Phase)
	assert.Equal(t, OriginConfig, st.Instances["i2"].Origin)
	assert.Equal(t, []string{"globex"}, st.Instances["i2"].Tenants)

	// The next reload drops i2 and puts globex back on i1.
	switched, err = c.Apply(ctx, twoInstanceLayout, oneInstance)

	require.NoError(t, err)
	assert.True(t, switched, "the move publishes routes")
	assert.Empty(t, instancesNamed(t, instances, "i2"), "i2 is deleted")
	assert.Equal(t, map[string][]string{"i1": {"acme", "globex"}}, dp.routes())
	requireServes(t, instancesNamed(t, instances, "i1")[0], "acme", "globex")
	st = c.State()
	assert.Nil(t, st.Op)
	assert.NotContains(t, st.Instances, "i2")
	assert.Equal(t, []string{"acme", "globex"}, st.Instances["i1"].Tenants)
	assert.Len(t, decisionsOfKind(c, "apply_done"), 3, "the first start and both reloads finish")
	assert.Empty(t, decisionsOfKind(c, "apply_failed"))
}
