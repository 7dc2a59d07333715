package controlplane

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/balancer"
	"github.com/dflb/dflb/dfmapi"
	"github.com/dflb/dflb/internal/testutil"
	"github.com/dflb/dflb/provider"
	"github.com/dflb/dflb/provider/local"
)

// supervisorNetwork keeps these instances off the loopback networks that
// the demo (127.0.1) and other packages' tests (127.0.66, 127.0.77) use.
const supervisorNetwork = "127.0.88"

// Paths of the binaries that TestMain builds, and the build error if any.
var (
	dfmBinary       string
	componentBinary string
	buildErr        error
)

func TestMain(m *testing.M) {
	var dir string
	dir, buildErr = testutil.BuildCommands("dfm", "component")
	dfmBinary = filepath.Join(dir, "dfm")
	componentBinary = filepath.Join(dir, "component")

	code := m.Run()
	if dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// lockedLog is a log destination that the supervisor's goroutines write to
// while the test reads it.
type lockedLog struct {
	testutil.LogBuffer
}

func (l *lockedLog) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// localFixture is two local instances i1 and i2 that both serve acme, and
// a pool built from the specs that the Launcher returned.
type localFixture struct {
	provider *local.Provider
	pool     *balancer.Pool
	logs     *lockedLog
}

func newLocalFixture(t *testing.T) *localFixture {
	t.Helper()
	require.NoError(t, buildErr, "building the test binaries failed")
	logs := &lockedLog{}

	p, err := local.New(local.Config{
		Root:            t.TempDir(),
		Binary:          dfmBinary,
		ComponentBinary: componentBinary,
		Network:         supervisorNetwork,
		Components: []local.ComponentTemplate{{
			Name:  "app",
			Port:  9001,
			Args:  []string{"-shutdown-grace", "1s"},
			Grace: 2 * time.Second,
		}},
		StopTimeout:   10 * time.Second,
		HealthTimeout: 500 * time.Millisecond,
	}, logs.logger())
	require.NoError(t, err)

	launcher := &Launcher{
		Provider:     p,
		Bootstrap:    provider.Bootstrap{Secret: testSecret},
		ReadyTimeout: 15 * time.Second,
		Logger:       logs.logger(),
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		assert.NoError(t, launcher.Teardown(ctx), "deleting the instances")
		if t.Failed() {
			t.Logf("log:\n%s", logs)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	specs, err := launcher.Launch(ctx, []Plan{
		{ID: "i1", Components: []string{"app"}, Tenants: []string{"acme"}},
		{ID: "i2", Components: []string{"app"}, Tenants: []string{"acme"}},
	})
	require.NoError(t, err)

	pool := balancer.NewPool(nil, balancer.HealthConfig{Failures: 3, Cooloff: time.Second}, nil)
	_, err = pool.Build(specs, nil)
	require.NoError(t, err)
	return &localFixture{provider: p, pool: pool, logs: logs}
}

func (f *localFixture) supervisor() *Supervisor {
	return &Supervisor{
		Provider:    f.provider,
		Pool:        f.pool,
		Secret:      testSecret,
		Interval:    200 * time.Millisecond,
		Timeout:     300 * time.Millisecond,
		Failures:    3,
		Hold:        30 * time.Second,
		MaxRestarts: 3,
		Logger:      f.logs.logger(),
	}
}

// instanceAvailable reports whether every backend of the instance may
// receive requests now, and false when the pool has none.
func instanceAvailable(pool *balancer.Pool, instance string) bool {
	found := false
	now := time.Now().UnixNano()
	for _, b := range pool.Backends() {
		if b.Instance != instance {
			continue
		}
		found = true
		if !b.Available(now) {
			return false
		}
	}
	return found
}

// runSupervisor runs s until the test ends and waits for Run to return, so
// that no restart outlives the test's instances.
func runSupervisor(t *testing.T, s *Supervisor) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
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

func TestSupervisorRestartsHungInstance(t *testing.T) {
	f := newLocalFixture(t)
	runSupervisor(t, f.supervisor())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.True(t, instanceAvailable(f.pool, "i1"))

	require.NoError(t, f.provider.Hang(ctx, "i1"))

	require.Eventually(t, func() bool { return !instanceAvailable(f.pool, "i1") }, 5*time.Second, 50*time.Millisecond,
		"i1's backends must leave rotation")
	assert.True(t, instanceAvailable(f.pool, "i2"), "i2 is not affected")
	assert.Contains(t, f.logs.String(), "instance unresponsive")

	require.Eventually(t, func() bool { return instanceAvailable(f.pool, "i1") }, 20*time.Second, 100*time.Millisecond,
		"i1's backends must return after the restart")
	logs := f.logs.String()
	assert.Contains(t, logs, "instance restarted")
	assert.Contains(t, logs, "instance responsive again")
	assert.NotContains(t, logs, "health checks are suspect")
	assert.True(t, instanceAvailable(f.pool, "i2"))
}

func TestSupervisorRecoversLostUpNotification(t *testing.T) {
	f := newLocalFixture(t)
	s := f.supervisor()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var b *balancer.Backend
	for _, candidate := range f.pool.Backends() {
		if candidate.Instance == "i1" && candidate.Component == "app" {
			b = candidate
		}
	}
	require.NotNil(t, b, "no backend for i1/app")
	require.True(t, b.MarkDown(time.Now().Add(time.Hour).UnixNano()))
	require.False(t, instanceAvailable(f.pool, "i1"))

	s.Poll(ctx)

	assert.True(t, instanceAvailable(f.pool, "i1"), "a poll that finds the component up must bring it back")
	assert.False(t, b.Down())
	assert.True(t, instanceAvailable(f.pool, "i2"))
	assert.Contains(t, f.logs.String(), "backend up, polled from DFM")
}

// fakeProvider lists instances whose DFM never responds and counts the
// restarts requested from it.
type fakeProvider struct {
	instances []provider.Instance
	restarts  atomic.Int32
}

func (p *fakeProvider) Create(context.Context, provider.Spec) (provider.Instance, error) {
	return provider.Instance{}, fmt.Errorf("fake provider creates no instances")
}

func (p *fakeProvider) Get(_ context.Context, id string) (provider.Instance, error) {
	for _, inst := range p.instances {
		if inst.ID == id {
			return inst, nil
		}
	}
	return provider.Instance{}, &provider.Error{Kind: provider.KindNotFound, Op: "get", ID: id, Err: fmt.Errorf("no such instance")}
}

func (p *fakeProvider) List(context.Context) ([]provider.Instance, error) {
	return p.instances, nil
}

func (p *fakeProvider) Restart(context.Context, string) error {
	p.restarts.Add(1)
	return nil
}

func (p *fakeProvider) Delete(context.Context, string) error {
	return nil
}

// closedPortURL returns a loopback URL on which nothing listens, so that
// every request to it is refused.
func closedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr
}

// newFakeSetup returns a fake provider whose instances, named by ids, all
// point at a closed port, and a pool with one backend per instance.
func newFakeSetup(t *testing.T, ids ...string) (*fakeProvider, *balancer.Pool) {
	t.Helper()
	url := closedPortURL(t)
	p := &fakeProvider{}
	var specs []balancer.InstanceSpec
	for i, id := range ids {
		p.instances = append(p.instances, provider.Instance{ID: id, Name: id, DFMURL: url, State: provider.StateActive})
		addr := fmt.Sprintf("127.0.0.1:%d", 9101+i)
		specs = append(specs, balancer.InstanceSpec{ID: id, Components: map[string]string{"app": addr}, Tenants: []string{"acme"}})
	}

	pool := balancer.NewPool(nil, balancer.HealthConfig{Failures: 3, Cooloff: time.Second}, nil)
	_, err := pool.Build(specs, nil)
	require.NoError(t, err)
	return p, pool
}

func TestSupervisorSuspectChecksChangeNothing(t *testing.T) {
	p, pool := newFakeSetup(t, "f1", "f2")
	logs := &lockedLog{}
	s := &Supervisor{Provider: p, Pool: pool, Secret: testSecret, Timeout: 200 * time.Millisecond,
		Failures: 2, MaxRestarts: 3, Logger: logs.logger()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	for range 6 {
		s.Poll(ctx)
	}
	s.restarts.Wait()

	assert.Equal(t, int32(0), p.restarts.Load(), "no restart while the checks are suspect")
	for _, b := range pool.Backends() {
		assert.False(t, b.Down(), "backend %s/%s marked down", b.Instance, b.Component)
		assert.True(t, b.Available(time.Now().UnixNano()), "backend %s/%s not available", b.Instance, b.Component)
	}
	assert.Equal(t, 1, strings.Count(logs.String(), "health checks are suspect"), "the alert is logged once:\n%s", logs)
	assert.NotContains(t, logs.String(), "instance unresponsive")
}

func TestSupervisorStopsAfterMaxRestarts(t *testing.T) {
	p, pool := newFakeSetup(t, "f1", "ok")
	p.instances = p.instances[:1] // "ok" has backends but is not listed, so only f1 is polled
	logs := &lockedLog{}
	s := &Supervisor{Provider: p, Pool: pool, Secret: testSecret, Timeout: 200 * time.Millisecond,
		Failures: 2, MaxRestarts: 2, Logger: logs.logger()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const alert = "alert: instance does not recover after its restarts"

	s.Poll(ctx)
	assert.True(t, instanceAvailable(pool, "f1"), "one failed poll is below Failures")

	require.Eventually(t, func() bool {
		s.Poll(ctx)
		return strings.Contains(logs.String(), alert)
	}, 5*time.Second, 10*time.Millisecond, "the alert must be logged")
	for range 10 {
		s.Poll(ctx)
	}
	s.restarts.Wait()

	assert.Equal(t, int32(2), p.restarts.Load(), "restarts stop at MaxRestarts")
	assert.Equal(t, 1, strings.Count(logs.String(), alert), "the alert is logged once")
	assert.Contains(t, logs.String(), "level=ERROR msg=\""+alert+"\" instance=f1")
	assert.False(t, instanceAvailable(pool, "f1"), "an unresponsive instance stays out of rotation")
	assert.True(t, instanceAvailable(pool, "ok"), "an instance that is not listed is not touched")
}

// fakeDFM serves /v1/status with the given HTTP status code and, for 200,
// one component "app" in the given state.
type fakeDFM struct {
	code  atomic.Int32
	state atomic.Value // dfmapi.ComponentState
}

func newFakeDFM(t *testing.T, code int, state dfmapi.ComponentState) (*fakeDFM, string) {
	t.Helper()
	f := &fakeDFM{}
	f.code.Store(int32(code))
	f.state.Store(state)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		code := int(f.code.Load())
		w.WriteHeader(code)
		if code != http.StatusOK {
			fmt.Fprintf(w, `{"error": "status %d from the fake DFM"}`, code)
			return
		}
		status := dfmapi.Status{Instance: "f1", State: dfmapi.InstanceRunning, Components: []dfmapi.ComponentStatus{
			{Name: "app", State: f.state.Load().(dfmapi.ComponentState), Port: 9101},
		}}
		_ = json.NewEncoder(w).Encode(status)
	}))
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func TestSupervisorFollowsComponentState(t *testing.T) {
	p, pool := newFakeSetup(t, "f1")
	dfm, url := newFakeDFM(t, http.StatusOK, dfmapi.ComponentStarting)
	p.instances[0].DFMURL = url
	logs := &lockedLog{}
	s := &Supervisor{Provider: p, Pool: pool, Secret: testSecret, Logger: logs.logger()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	s.Poll(ctx)
	assert.False(t, instanceAvailable(pool, "f1"), "a starting component is out of rotation")

	for _, state := range []dfmapi.ComponentState{dfmapi.ComponentUnhealthy, dfmapi.ComponentBackoff,
		dfmapi.ComponentFailed, dfmapi.ComponentStopped, dfmapi.ComponentStopping} {
		dfm.state.Store(dfmapi.ComponentUp)
		s.Poll(ctx)
		assert.True(t, instanceAvailable(pool, "f1"), "an up component is in rotation")

		dfm.state.Store(state)
		s.Poll(ctx)
		assert.False(t, instanceAvailable(pool, "f1"), "a component in state %s is out of rotation", state)
	}
	assert.Equal(t, int32(0), p.restarts.Load())
}

func TestSupervisorStatusErrors(t *testing.T) {
	tests := []struct {
		name     string
		code     int
		restarts int32
		down     bool
		logged   string
	}{
		{name: "rejected token", code: http.StatusUnauthorized, restarts: 0, down: false, logged: `msg="DFM rejected the status request`},
		{name: "server error", code: http.StatusServiceUnavailable, restarts: 1, down: true, logged: `msg="instance unresponsive`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, pool := newFakeSetup(t, "f1")
			_, url := newFakeDFM(t, tt.code, dfmapi.ComponentUp)
			p.instances[0].DFMURL = url
			logs := &lockedLog{}
			s := &Supervisor{Provider: p, Pool: pool, Secret: testSecret, Failures: 2, MaxRestarts: 1, Logger: logs.logger()}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			for range 5 {
				s.Poll(ctx)
				s.restarts.Wait()
			}

			assert.Equal(t, tt.restarts, p.restarts.Load())
			assert.Equal(t, !tt.down, instanceAvailable(pool, "f1"))
			assert.Equal(t, 1, strings.Count(logs.String(), tt.logged), "logged once:\n%s", logs)
		})
	}
}
