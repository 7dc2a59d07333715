package controlplane

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/balancer"
	"github.com/dflb/dflb/dfmapi"
	"github.com/dflb/dflb/provider"
	"github.com/dflb/dflb/provider/local"
)

// Loopback networks of the controller tests, one per test so that an
// instance that outlives a failed test does not hold another test's
// address. They lie above 127.0.88, the highest network that other tests
// of this repository use.
const (
	retryNetwork        = "127.0.89"
	rollbackNetwork     = "127.0.90"
	resumeCreateNetwork = "127.0.91"
	resumeWidenNetwork  = "127.0.92"
	publishFailNetwork  = "127.0.93"
	firstStartNetwork   = "127.0.94"
)

// testProviderConfig configures a local provider on network whose
// instances run one component "app".
func testProviderConfig(root, network string) local.Config {
	return local.Config{
		Root:            root,
		Binary:          dfmBinary,
		ComponentBinary: componentBinary,
		Network:         network,
		Components: []local.ComponentTemplate{{
			Name:  "app",
			Port:  9001,
			Args:  []string{"-shutdown-grace", "1s"},
			Grace: 2 * time.Second,
		}},
		StopTimeout:   10 * time.Second,
		HealthTimeout: 500 * time.Millisecond,
	}
}

// newTestProvider returns a local provider of testProviderConfig, and
// deletes every instance it lists when the test ends.
func newTestProvider(t *testing.T, root, network string, logs *lockedLog) *local.Provider {
	t.Helper()
	require.NoError(t, buildErr, "building the test binaries failed")
	p, err := local.New(testProviderConfig(root, network), logs.logger())
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		assert.NoError(t, (&Launcher{Provider: p}).Teardown(ctx), "deleting the instances")
		if t.Failed() {
			t.Logf("log:\n%s", logs)
		}
	})
	return p
}

// scriptedProvider wraps a provider. Its first Create calls return the
// errors of failures, in order, and later ones delegate. It records when
// each Create was called and which IDs were deleted.
type scriptedProvider struct {
	provider.Provider
	failures []error
	// rewrite, when set, changes the instance that a delegated Create
	// returns.
	rewrite func(provider.Instance) provider.Instance
	// afterCreate, when set, runs after a delegated Create succeeded.
	afterCreate func()

	mu      sync.Mutex
	calls   []time.Time
	names   []string
	deleted []string
}

func (p *scriptedProvider) Create(ctx context.Context, spec provider.Spec) (provider.Instance, error) {
	p.mu.Lock()
	n := len(p.calls)
	p.calls = append(p.calls, time.Now())
	p.names = append(p.names, spec.Name)
	p.mu.Unlock()
	if n < len(p.failures) {
		return provider.Instance{}, p.failures[n]
	}

	inst, err := p.Provider.Create(ctx, spec)
	if err != nil {
		return inst, err
	}
	if p.rewrite != nil {
		inst = p.rewrite(inst)
	}
	if p.afterCreate != nil {
		p.afterCreate()
	}
	return inst, nil
}

func (p *scriptedProvider) Delete(ctx context.Context, id string) error {
	p.mu.Lock()
	p.deleted = append(p.deleted, id)
	p.mu.Unlock()
	return p.Provider.Delete(ctx, id)
}

func (p *scriptedProvider) createCalls() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.calls)
}

func (p *scriptedProvider) deletedIDs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.deleted)
}

// publishLog records every routing table that a controller publishes.
type publishLog struct {
	mu     sync.Mutex
	tables [][]balancer.InstanceSpec
}

func (l *publishLog) publish(specs []balancer.InstanceSpec) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tables = append(l.tables, specs)
	return nil
}

func (l *publishLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.tables)
}

func (l *publishLog) last() []balancer.InstanceSpec {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.tables) == 0 {
		return nil
	}
	return l.tables[len(l.tables)-1]
}

// newTestController returns a controller over p and db that runs the
// component "app" and records what it publishes.
func newTestController(p provider.Provider, db *DB, logs *lockedLog) (*Controller, *publishLog) {
	published := &publishLog{}
	c := &Controller{
		Provider: p,
		Launcher: &Launcher{
			Provider:     p,
			Image:        local.DefaultImage,
			Bootstrap:    provider.Bootstrap{Secret: testSecret},
			ReadyTimeout: 10 * time.Second,
			Logger:       logs.logger(),
		},
		DB:         db,
		Components: []string{"app"},
		Publish:    published.publish,
		Logger:     logs.logger(),
	}
	return c, published
}

// instancesNamed returns the instances of p named name.
func instancesNamed(t *testing.T, p provider.Provider, name string) []provider.Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	listed, err := p.List(ctx)
	require.NoError(t, err)
	var out []provider.Instance
	for _, inst := range listed {
		if inst.Name == name {
			out = append(out, inst)
		}
	}
	return out
}

// requireServes checks through the instance's DFM that its component
// "app" is up and serves exactly tenants.
func requireServes(t *testing.T, inst provider.Instance, tenants ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client := &dfmapi.Client{BaseURL: inst.DFMURL, Token: testSecret}
	status, err := client.Status(ctx)
	require.NoError(t, err)
	comp, ok := status.Component("app")
	require.True(t, ok, "DFM of %s does not know the component app", inst.Name)
	assert.Equal(t, dfmapi.ComponentUp, comp.State)
	assert.ElementsMatch(t, tenants, comp.Tenants)
}

func hasDecision(c *Controller, kind string) bool {
	return slices.ContainsFunc(c.Decisions(recentDecisions), func(d Decision) bool { return d.Kind == kind })
}

func TestStartRetriesProviderCreate(t *testing.T) {
	logs := &lockedLog{}
	instances := newTestProvider(t, t.TempDir(), retryNetwork, logs)
	const retryAfter = 2500 * time.Millisecond
	flaky := &scriptedProvider{Provider: instances, failures: []error{
		&provider.Error{Kind: provider.KindTransient, Op: "create", ID: "c1", Err: errors.New("connection reset")},
		&provider.Error{Kind: provider.KindTransient, Op: "create", ID: "c1", Err: errors.New("timeout")},
		&provider.Error{Kind: provider.KindRateLimited, RetryAfter: retryAfter, Op: "create", ID: "c1", Err: errors.New("429")},
	}}
	db, err := OpenDB(filepath.Join(t.TempDir(), "state.db"))
	require.NoError(t, err)
	defer db.Close()
	c, published := newTestController(flaky, db, logs)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	err = c.Start(ctx, []Plan{{ID: "c1", Components: []string{"app"}, Tenants: []string{"acme"}}})

	require.NoError(t, err)
	calls := flaky.createCalls()
	require.Len(t, calls, 4, "three failures and the call that succeeds")
	assert.Equal(t, []string{"c1", "c1", "c1", "c1"}, flaky.names)
	// create waits backoff(attempt-1), or RetryAfter when that is longer.
	minimal := []time.Duration{backoff(0), backoff(1), max(retryAfter, backoff(2))}
	for i, want := range minimal {
		gap := calls[i+1].Sub(calls[i])
		assert.GreaterOrEqual(t, gap, want, "wait before attempt %d", i+2)
	}
	assert.Less(t, calls[3].Sub(calls[2]), retryAfter+backoff(2),
		"the wait after a rate limit is the longer of RetryAfter and the backoff, not their sum")

	listed := instancesNamed(t, instances, "c1")
	require.Len(t, listed, 1, "exactly one instance c1 exists")
	all, err := instances.List(ctx)
	require.NoError(t, err)
	assert.Len(t, all, 1, "no other instance was created")
	requireServes(t, listed[0], "acme")

	specs := published.last()
	require.Len(t, specs, 1)
	assert.Equal(t, "c1", specs[0].ID)
	assert.Equal(t, []string{"acme"}, specs[0].Tenants)
	assert.Equal(t, map[string]string{"app": retryNetwork + ".1:9001"}, specs[0].Components)

	st := c.State()
	require.Contains(t, st.Instances, "c1")
	assert.Equal(t, PhaseReady, st.Instances["c1"].Phase)
	assert.Equal(t, listed[0].ID, st.Instances["c1"].ProviderID)
	assert.Nil(t, st.Op)
	assert.True(t, hasDecision(c, "apply_done"), "decisions: %v", c.Decisions(recentDecisions))
	assert.Equal(t, 3, countLines(logs.String(), "creating instance failed, retrying"), "each retry is logged")
}

func TestScaleOutRollsBackWhenNotReady(t *testing.T) {
	logs := &lockedLog{}
	instances := newTestProvider(t, t.TempDir(), rollbackNetwork, logs)
	// The instance is created, but its DFM address leads nowhere, so its
	// components never start.
	unreachable := closedPortURL(t)
	broken := &scriptedProvider{Provider: instances, rewrite: func(inst provider.Instance) provider.Instance {
		inst.DFMURL = unreachable
		return inst
	}}
	db, err := OpenDB(filepath.Join(t.TempDir(), "state.db"))
	require.NoError(t, err)
	defer db.Close()
	c, published := newTestController(broken, db, logs)
	opID := planOverloadScaleOut(t, c, rollbackNetwork).ID
	routesBefore := c.State().specs()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = c.runOp(ctx, ctx)

	require.Error(t, err)
	assert.Contains(t, err.Error(), "starting components [app] on instance i2")
	assert.Empty(t, instancesNamed(t, instances, "i2"), "the created instance is deleted")
	require.Len(t, broken.createCalls(), 1)
	assert.Equal(t, []string{"i2"}, broken.deletedIDs(), "one provider delete, by the ID that Create returned")

	st := c.State()
	assert.Nil(t, st.Op)
	assert.NotContains(t, st.Instances, "i2", "the state has no record of the new instance")
	assert.Equal(t, []string{"acme", "globex"}, st.Instances["i1"].Tenants, "i1 keeps its tenants")
	assert.Equal(t, routesBefore, st.specs(), "routes unchanged")
	assert.Zero(t, published.count(), "no routing table is published")
	assert.WithinDuration(t, time.Now(), st.LastScaleOut, 10*time.Second, "a failed scale-out starts the cooldown")

	saved, err := db.LoadState()
	require.NoError(t, err)
	assert.Nil(t, saved.Op, "the saved state has no operation")
	assert.NotContains(t, saved.Instances, "i2", "the saved state has no record of the new instance")

	var failed *Decision
	for _, d := range c.Decisions(recentDecisions) {
		if d.Kind == "scale_out_failed" {
			failed = &d
		}
	}
	require.NotNil(t, failed, "decisions: %v", c.Decisions(recentDecisions))
	assert.Equal(t, "i2", failed.Instance)
	assert.Equal(t, opID, failed.Op)
	assert.Contains(t, failed.Reason, "starting components")

	journal, err := db.Journal()
	require.NoError(t, err)
	require.NotEmpty(t, journal)
	lastStep := journal[len(journal)-1]
	assert.Equal(t, opID, lastStep.ID)
	assert.NotEmpty(t, lastStep.Error, "the journal records why the operation failed")
}

func TestResumeAfterCrash(t *testing.T) {
	tests := []struct {
		name    string
		network string
		// step is the step that the saved operation resumes at.
		step Step
		// creates is how many Create calls the resumed DFLB makes.
		creates int
	}{
		{name: "inside the create step", network: resumeCreateNetwork, step: StepCreate, creates: 1},
		{name: "after the create step", network: resumeWidenNetwork, step: StepWiden, creates: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &lockedLog{}
			root := t.TempDir()
			path := filepath.Join(t.TempDir(), "state.db")
			layout := []Plan{{ID: "c1", Components: []string{"app"}, Tenants: []string{"acme"}}}

			// The first DFLB stops right after the provider created c1.
			firstProvider := newTestProvider(t, root, tt.network, logs)
			ctx, crash := context.WithCancel(context.Background())
			defer crash()
			crashing := &scriptedProvider{Provider: firstProvider, afterCreate: crash}
			db, err := OpenDB(path)
			require.NoError(t, err)
			first, _ := newTestController(crashing, db, logs)

			err = first.Start(ctx, layout)

			require.ErrorIs(t, err, context.Canceled)
			created := instancesNamed(t, firstProvider, "c1")
			require.Len(t, created, 1)
			saved, err := db.LoadState()
			require.NoError(t, err)
			require.NotNil(t, saved.Op, "the operation is saved unfinished")
			require.Equal(t, StepCreate, saved.Op.Step, "the crash came before the step was journaled as done")
			require.Equal(t, created[0].ID, saved.Instances["c1"].ProviderID)
			if tt.step != StepCreate {
				saved.Op.Step = tt.step
				require.NoError(t, db.SaveState(saved, saved.Op))
			}
			require.NoError(t, db.Close())

			// The second DFLB has a provider of its own over the same
			// instance directories, as after a restart.
			secondProvider, err := local.New(testProviderConfig(root, tt.network), logs.logger())
			require.NoError(t, err)
			counting := &scriptedProvider{Provider: secondProvider}
			db, err = OpenDB(path)
			require.NoError(t, err)
			defer db.Close()
			second, published := newTestController(counting, db, logs)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			require.NoError(t, second.Start(ctx, layout))
			require.NotNil(t, second.State().Op, "Start leaves the operation to Run")
			runCtx, stop := context.WithCancel(ctx)
			runDone := make(chan struct{})
			go func() {
				defer close(runDone)
				second.Run(runCtx, nil)
			}()
			finished := assert.Eventually(t, func() bool { return second.State().Op == nil }, 15*time.Second, 50*time.Millisecond,
				"the resumed operation must finish")
			stop()
			select {
			case <-runDone:
			case <-time.After(15 * time.Second):
				t.Fatal("Run did not return within 15s of its context ending")
			}
			require.True(t, finished)

			listed := instancesNamed(t, secondProvider, "c1")
			require.Len(t, listed, 1, "exactly one instance c1 exists")
			assert.Equal(t, created[0].ID, listed[0].ID)
			assert.Equal(t, created[0].Address, listed[0].Address)
			assert.Len(t, counting.createCalls(), tt.creates)
			requireServes(t, listed[0], "acme")

			st := second.State()
			require.Contains(t, st.Instances, "c1")
			assert.Equal(t, PhaseReady, st.Instances["c1"].Phase)
			assert.True(t, hasDecision(second, "apply_done"), "decisions: %v", second.Decisions(recentDecisions))
			specs := published.last()
			require.Len(t, specs, 1)
			assert.Equal(t, "c1", specs[0].ID)
			assert.Equal(t, []string{"acme"}, specs[0].Tenants)

			saved, err = db.LoadState()
			require.NoError(t, err)
			assert.Nil(t, saved.Op, "the finished operation is no longer saved")
			assert.Equal(t, PhaseReady, saved.Instances["c1"].Phase)
		})
	}
}

// planOverloadScaleOut gives c a state with one ready instance i1 that
// serves acme and globex, and plans the scale-out that a DFM overload
// report of i1 triggers. No process runs behind i1, because no step of a
// scale-out contacts i1 before the routes switch.
func planOverloadScaleOut(t *testing.T, c *Controller, network string) *Operation {
	t.Helper()
	c.Policy = Policy{Enabled: true, MaxInstances: 3}
	c.init()
	long := time.Now().Add(-time.Hour)
	c.state = newState()
	c.state.NextSeq = 2
	c.state.Instances["i1"] = &InstanceRecord{Name: "i1", ProviderID: "i1", Address: network + ".250",
		Components: map[string]string{"app": network + ".250:9001"}, Tenants: []string{"acme", "globex"},
		Phase: PhaseReady, Origin: OriginConfig, Created: long, Changed: long}
	if c.DB != nil {
		require.NoError(t, c.DB.SaveState(c.state, nil))
	}

	c.notified(dfmapi.Notification{Instance: "i1", Kind: dfmapi.KindOverload})
	c.mu.Lock()
	c.evaluate(c.now())
	planned := c.state.Op
	c.mu.Unlock()
	require.NotNil(t, planned, "DFM's overload report plans a scale-out")
	require.Equal(t, []string{"i2"}, planned.Create)
	require.Equal(t, []string{"acme"}, planned.Moved)
	return planned
}

func TestFailedScaleOutCooldownSaved(t *testing.T) {
	logs := &lockedLog{}
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := OpenDB(path)
	require.NoError(t, err)
	defer db.Close()
	c, _ := newTestController(&fakeProvider{}, db, logs)
	planOverloadScaleOut(t, c, rollbackNetwork)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	err = c.runOp(ctx, ctx)

	require.Error(t, err, "a provider that creates nothing fails the scale-out")
	require.True(t, hasDecision(c, "scale_out_failed"), "decisions: %v", c.Decisions(recentDecisions))
	failedAt := c.State().LastScaleOut
	assert.WithinDuration(t, time.Now(), failedAt, 10*time.Second, "the failed scale-out starts the cooldown")
	saved, err := db.LoadState()
	require.NoError(t, err)
	assert.True(t, saved.LastScaleOut.Equal(failedAt),
		"the saved state must keep the cooldown, or a restart retries at once: saved %s, in memory %s", saved.LastScaleOut, failedAt)

	// A DFLB restarted from the saved state within the cooldown must wait.
	restarted := &Controller{Policy: Policy{Enabled: true, MaxInstances: 3}, Logger: logs.logger()}
	restarted.init()
	restarted.state = saved
	restarted.notified(dfmapi.Notification{Instance: "i1", Kind: dfmapi.KindOverload})
	restarted.mu.Lock()
	restarted.evaluate(restarted.now())
	replanned := restarted.state.Op
	restarted.mu.Unlock()
	assert.Nil(t, replanned, "no scale-out is planned again within the cooldown of the failed one")
}

func TestSwitchPublishFailureKeepsPlacement(t *testing.T) {
	logs := &lockedLog{}
	instances := newTestProvider(t, t.TempDir(), publishFailNetwork, logs)
	tracking := &scriptedProvider{Provider: instances}
	c, _ := newTestController(tracking, nil, logs)
	publishes := 0
	c.Publish = func([]balancer.InstanceSpec) error {
		publishes++
		return errors.New("building the routing table failed")
	}
	planOverloadScaleOut(t, c, publishFailNetwork)
	routesBefore := c.State().specs()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	err := c.runOp(ctx, ctx)

	require.Error(t, err)
	assert.Contains(t, err.Error(), "publishing routes of operation")
	assert.Equal(t, preSwitchAttempts, publishes, "the switch is tried preSwitchAttempts times")
	require.True(t, hasDecision(c, "scale_out_failed"), "decisions: %v", c.Decisions(recentDecisions))
	assert.Empty(t, instancesNamed(t, instances, "i2"), "the created instance is deleted")

	st := c.State()
	assert.Nil(t, st.Op)
	assert.NotContains(t, st.Instances, "i2")
	require.Contains(t, st.Instances, "i1")
	assert.Equal(t, []string{"acme", "globex"}, st.Instances["i1"].Tenants,
		"routes never switched, so i1 must keep acme; without it the next publish drops acme's route")
	assert.Equal(t, routesBefore, st.specs(), "the state routes what it routed before the scale-out")
}

func TestStartAfterFailedFirstStart(t *testing.T) {
	logs := &lockedLog{}
	path := filepath.Join(t.TempDir(), "state.db")
	layout := []Plan{{ID: "c1", Components: []string{"app"}, Tenants: []string{"acme"}}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// The first start meets a provider that creates nothing and rolls back.
	db, err := OpenDB(path)
	require.NoError(t, err)
	first, _ := newTestController(&fakeProvider{}, db, logs)
	err = first.Start(ctx, layout)
	require.Error(t, err, "the first start fails")
	require.True(t, hasDecision(first, "apply_failed"), "decisions: %v", first.Decisions(recentDecisions))
	require.NoError(t, db.Close())

	// The next start has a working provider and the same configuration.
	instances := newTestProvider(t, t.TempDir(), firstStartNetwork, logs)
	db, err = OpenDB(path)
	require.NoError(t, err)
	defer db.Close()
	second, published := newTestController(instances, db, logs)

	err = second.Start(ctx, layout)

	require.NoError(t, err)
	listed := instancesNamed(t, instances, "c1")
	assert.Len(t, listed, 1, "the layout that never applied is applied now")
	specs := published.last()
	assert.Len(t, specs, 1, "acme gets a route: %v", specs)
	assert.Contains(t, second.State().Instances, "c1")
}

// countLines returns the number of lines of text that contain s.
func countLines(text, s string) int {
	n := 0
	for line := range strings.Lines(text) {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}
