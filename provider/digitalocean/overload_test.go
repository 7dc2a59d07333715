package digitalocean

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/dflb/dflb/balancer"
	"github.com/dflb/dflb/controlplane"
	"github.com/dflb/dflb/dfmapi"
	"github.com/dflb/dflb/internal/testutil"
	"github.com/dflb/dflb/provider"
)

// overloadNetwork is the loopback network of the droplets in
// TestOverloadScaleOutMatchesDroplets. No other test of this repository
// uses 127.0.86.0/24, so a process of another test cannot listen on these
// addresses.
const overloadNetwork = "127.0.86"

// overloadSecret is the secret that DFLB and the droplets' DFM share.
const overloadSecret = "5eed0c0ffee0123456789abcdef0123456789abcdef01234"

// dfmStopGrace is how long a DFM gets for its graceful shutdown after
// SIGTERM before its process group is killed.
const dfmStopGrace = 10 * time.Second

// TestOverloadScaleOutMatchesDroplets runs a scale-out of the control plane
// with the DigitalOcean provider against the fake API. Every droplet that
// the fake creates runs a real DFM on a loopback address, configured from
// the droplet's user data. Traffic counted in the data plane's statistics
// overloads i1, the controller moves a tenant to a new instance, and the
// test checks that the droplets the fake stores are exactly the instances in
// the controller's state.
func TestOverloadScaleOutMatchesDroplets(t *testing.T) {
	testStart := time.Now()
	binDir, err := testutil.BuildCommands("dfm", "component")
	if err != nil {
		t.Skipf("building dfm and component failed, so no droplet can run DFM: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(binDir) })
	requireFreeAddresses(t, overloadNetwork+".1", overloadNetwork+".2", overloadNetwork+".3")

	logs := &testutil.LogBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", logs)
		}
	})

	// DFLB's notification receiver, which each DFM posts to.
	notifications, err := controlplane.NewNotificationHandler(overloadSecret, logger)
	require.NoError(t, err)
	notifyMux := http.NewServeMux()
	notifyMux.Handle(controlplane.NotificationsPath, notifications)
	notifyServer := httptest.NewServer(notifyMux)
	t.Cleanup(notifyServer.Close)
	notes, unsubscribe := notifications.Subscribe(256)
	defer unsubscribe()
	notifyURL := notifyServer.URL + controlplane.NotificationsPath

	// The fake API runs on the real clock: a droplet becomes active 300 ms
	// after its create request.
	t.Setenv(testTokenEnv, testToken)
	api := newFakeAPI(t, &testClock{}, testToken)
	api.setActiveAfter(300 * time.Millisecond)
	hosts := newDropletHosts(t, api, filepath.Join(binDir, "dfm"))
	front := httptest.NewServer(hosts)
	t.Cleanup(front.Close)

	p, err := New(Config{
		TokenEnv:        testTokenEnv,
		APIURL:          front.URL,
		Cluster:         "test",
		Region:          "nyc3",
		Size:            "s-1vcpu-1gb",
		Image:           "123456",
		VPCUUID:         fakeVPC,
		ComponentBinary: filepath.Join(binDir, "component"),
		Components:      []ComponentTemplate{{Name: "app", Port: 9001, Args: []string{"-shutdown-grace", "1s"}}},
		CreateTimeout:   10 * time.Second,
		ReadyTimeout:    10 * time.Second,
		PollInterval:    50 * time.Millisecond,
		RequestTimeout:  5 * time.Second,
	}, logger)
	require.NoError(t, err)

	db, err := controlplane.OpenDB(filepath.Join(t.TempDir(), "state.db"))
	require.NoError(t, err)
	defer db.Close()
	launcher := &controlplane.Launcher{
		Provider:     p,
		Image:        "123456",
		Bootstrap:    provider.Bootstrap{NotifyURL: notifyURL, Secret: overloadSecret},
		ReadyTimeout: 10 * time.Second,
		Logger:       logger,
	}
	routes := &routeLog{}
	stats := balancer.NewStats()
	c := &controlplane.Controller{
		Provider:   p,
		Launcher:   launcher,
		DB:         db,
		Components: []string{"app"},
		Publish:    routes.publish,
		Stats:      stats,
		Pool:       balancer.NewPool(nil, balancer.HealthConfig{Failures: 3, Cooloff: time.Second}, nil),
		Logger:     logger,
		Policy: controlplane.Policy{
			Enabled:      true,
			MaxInstances: 3,
			OverloadRPS:  10,
			OverloadFor:  time.Second,
			Warmup:       time.Second,
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()

	require.NoError(t, c.Start(ctx, []controlplane.Plan{{ID: "i1", Components: []string{"app"}, Tenants: []string{"acme", "globex"}}}))
	require.Equal(t, "i1", routes.instanceOf("acme"), "Start routes acme to i1")

	outcomes := make(chan controlplane.Decision, 1)
	c.OnDecision(func(d controlplane.Decision) {
		if d.Kind == "scale_out_done" || d.Kind == "scale_out_failed" {
			select {
			case outcomes <- d:
			default:
			}
		}
	})
	runCtx, stopRun := context.WithCancel(ctx)
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		c.Run(runCtx, notes)
	}()
	// acme alone is over OverloadRPS, so the scale-out moves acme.
	trafficDone := sendTraffic(runCtx, stats, routes, map[string]int{"acme": 30, "globex": 2})

	var outcome controlplane.Decision
	select {
	case outcome = <-outcomes:
	case <-time.After(40 * time.Second):
	}
	stopRun()
	<-trafficDone
	select {
	case <-runDone:
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return within 15s of its context ending")
	}
	require.Equal(t, "scale_out_done", outcome.Kind, "the scale-out must complete within 40s; decisions: %v", c.Decisions(50))
	newInstance := outcome.Instance
	require.Equal(t, "i2", newInstance, "the scale-out creates the next free name")
	i := slices.IndexFunc(c.Decisions(50), func(d controlplane.Decision) bool { return d.Kind == "scale_out" })
	require.GreaterOrEqual(t, i, 0, "decisions: %v", c.Decisions(50))
	assert.Contains(t, c.Decisions(50)[i].Observed, "rate over 10 req/s", "the counted traffic triggers the scale-out")

	// The droplets that the fake stores are the instances of the state.
	st := c.State()
	require.Nil(t, st.Op, "no operation is left in progress")
	droplets := hosts.droplets()
	require.Equal(t, 2, api.dropletCount(), "the fake stores one droplet per instance: %v", droplets)
	require.Len(t, droplets, 2, "each droplet has the cluster tag and its own instance tag: %v", droplets)
	assert.ElementsMatch(t, slices.Collect(maps.Keys(st.Instances)), slices.Collect(maps.Keys(droplets)),
		"the droplets' instance tags name the state's instances")
	for name, d := range droplets {
		record, ok := st.Instances[name]
		if !assert.True(t, ok, "droplet %d has the instance tag of %s, which the state does not have", d.id, name) {
			continue
		}
		assert.Equal(t, "test-"+name, d.name, "droplet name of %s", name)
		assert.Contains(t, d.tags, "dflb-cluster:test", "cluster tag of droplet %s", d.name)
		assert.Equal(t, strconv.Itoa(d.id), record.ProviderID, "provider ID of %s", name)
		assert.Equal(t, d.address, record.Address, "address of %s", name)
		assert.Equal(t, controlplane.PhaseReady, record.Phase, "phase of %s", name)
	}
	assert.Equal(t, []string{"globex"}, st.Instances["i1"].Tenants)
	assert.Equal(t, []string{"acme"}, st.Instances[newInstance].Tenants)
	saved, err := db.LoadState()
	require.NoError(t, err)
	assert.Nil(t, saved.Op, "the saved state has no operation")
	assert.ElementsMatch(t, slices.Collect(maps.Keys(droplets)), slices.Collect(maps.Keys(saved.Instances)),
		"the saved state has the same instances")

	// Each instance was created once, with user data for that instance.
	assert.Equal(t, 2, api.requestCount(http.MethodPost, "/v2/droplets"), "one create request per instance")
	bodies := api.createRequests()
	var created []string
	for _, body := range bodies {
		name, _ := body["name"].(string)
		created = append(created, name)
		userData, _ := body["user_data"].(string)
		boot, err := parseUserData(userData)
		if !assert.NoError(t, err, "user data of droplet %s", name) {
			continue
		}
		instance := strings.TrimPrefix(name, "test-")
		assert.Equal(t, instance, boot.config.Instance, "instance in the DFM configuration of droplet %s", name)
		require.NotNil(t, boot.config.Notify, "notify in the DFM configuration of droplet %s", name)
		assert.Equal(t, notifyURL, boot.config.Notify.URL, "notify URL of droplet %s", name)
		assert.Equal(t, overloadSecret, boot.secret, "secret of droplet %s", name)
	}
	assert.Equal(t, []string{"test-i1", "test-i2"}, created)
	assert.Empty(t, hosts.problemList(), "problems found while running the droplets")

	// The published routes send acme to the new instance, whose DFM serves
	// it, and globex stays on i1.
	newDroplet := droplets[newInstance]
	assert.Equal(t, newInstance, routes.instanceOf("acme"), "acme's route")
	assert.Equal(t, "i1", routes.instanceOf("globex"), "globex's route")
	specs := routes.last()
	j := slices.IndexFunc(specs, func(spec balancer.InstanceSpec) bool { return spec.ID == newInstance })
	require.GreaterOrEqual(t, j, 0, "the last table has no route to %s: %v", newInstance, specs)
	assert.Equal(t, map[string]string{"app": newDroplet.address + ":9001"}, specs[j].Components, "component address of %s", newInstance)
	requireDFMServes(t, newDroplet.address, newInstance, "acme")
	requireDFMServes(t, droplets["i1"].address, "i1", "globex")
	requestsBeforeTeardown := len(api.requestLog())

	// Teardown deletes every droplet, and each DFM stops with its droplet.
	teardownCtx, teardownCancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer teardownCancel()
	require.NoError(t, launcher.Teardown(teardownCtx))
	assert.Zero(t, api.dropletCount(), "the fake stores no droplet after Teardown")
	assert.Empty(t, hosts.waitStopped(dfmStopGrace+5*time.Second), "DFM processes still running after their droplets were deleted")
	assert.Equal(t, 2, hosts.startCount(), "one DFM per droplet")

	requests := api.requestLog()
	logEndpoints(t, "by Start and the scale-out", requests[:requestsBeforeTeardown])
	logEndpoints(t, "by Teardown", requests[requestsBeforeTeardown:])
	t.Logf("test took %s", time.Since(testStart).Round(time.Millisecond))
}

// requireFreeAddresses fails the test when the DFM or component port of an
// address is taken, which a DFM left over from an interrupted run causes.
func requireFreeAddresses(t *testing.T, addresses ...string) {
	t.Helper()
	for _, address := range addresses {
		for _, port := range []int{DefaultDFMPort, 9001} {
			hostPort := net.JoinHostPort(address, strconv.Itoa(port))
			ln, err := net.Listen("tcp", hostPort)
			require.NoError(t, err, "%s must be free: stop the process that listens there, such as a DFM of an interrupted run", hostPort)
			ln.Close()
		}
	}
}

// requireDFMServes checks through DFM's status that the instance's
// component app is up and serves exactly tenants.
func requireDFMServes(t *testing.T, address, instance string, tenants ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client := &dfmapi.Client{BaseURL: "http://" + net.JoinHostPort(address, strconv.Itoa(DefaultDFMPort)), Token: overloadSecret}
	status, err := client.Status(ctx)
	require.NoError(t, err, "status of the DFM of %s", instance)
	assert.Equal(t, instance, status.Instance, "instance that the DFM at %s reports", address)
	comp, ok := status.Component("app")
	require.True(t, ok, "DFM of %s does not know the component app", instance)
	assert.Equal(t, dfmapi.ComponentUp, comp.State, "state of app on %s", instance)
	assert.ElementsMatch(t, tenants, comp.Tenants, "tenants of app on %s", instance)
}

// sendTraffic counts requests in stats as the proxy does, rates[tenant]
// per second for each tenant, on the instance that the last published
// table routes the tenant to. It stops when ctx ends and closes the
// returned channel.
func sendTraffic(ctx context.Context, stats *balancer.Stats, routes *routeLog, rates map[string]int) <-chan struct{} {
	const ticksPerSecond = 10
	done := make(chan struct{})
	go func() {
		defer close(done)
		ticker := time.NewTicker(time.Second / ticksPerSecond)
		defer ticker.Stop()
		for tick := 0; ; tick++ {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
			for tenant, rate := range rates {
				instance := routes.instanceOf(tenant)
				if instance == "" {
					continue
				}
				// n spreads the rate over the ticks of each second, so that
				// rates that are not multiples of ticksPerSecond are kept.
				n := rate*(tick+1)/ticksPerSecond - rate*tick/ticksPerSecond
				cell := stats.Pair(tenant, instance)
				for range n {
					cell.Start(0)
					cell.Done(0, balancer.ClassOK, 0, 0, time.Millisecond)
				}
			}
		}
	}()
	return done
}

// routeLog records every routing table that the controller publishes.
type routeLog struct {
	mu     sync.Mutex
	tables [][]balancer.InstanceSpec
}

func (l *routeLog) publish(specs []balancer.InstanceSpec) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tables = append(l.tables, specs)
	return nil
}

func (l *routeLog) last() []balancer.InstanceSpec {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.tables) == 0 {
		return nil
	}
	return l.tables[len(l.tables)-1]
}

// instanceOf returns the instance that the last table routes tenant to,
// or "" when it has no route.
func (l *routeLog) instanceOf(tenant string) string {
	for _, spec := range l.last() {
		if slices.Contains(spec.Tenants, tenant) {
			return spec.ID
		}
	}
	return ""
}

// logEndpoints logs how often each API endpoint was requested, with droplet
// IDs and the VPC UUID replaced by {id}.
func logEndpoints(t *testing.T, during string, requests []fakeRequest) {
	t.Helper()
	id := regexp.MustCompile(`/(\d+|` + fakeVPC + `)(/|$)`)
	counts := map[string]int{}
	for _, r := range requests {
		path := id.ReplaceAllString(r.path, "/{id}$2")
		if tag := r.query.Get("tag_name"); tag != "" {
			path += "?tag_name=" + tag
		}
		counts[r.method+" "+path]++
	}
	t.Logf("%d API requests %s:", len(requests), during)
	for _, endpoint := range slices.Sorted(maps.Keys(counts)) {
		t.Logf("  %3d %s", counts[endpoint], endpoint)
	}
}

// dropletBoot is what a droplet's user data has the droplet do on first
// boot: write the DFM configuration template and DFM's secret, then run
// configureScript, which completes the template and starts DFM.
type dropletBoot struct {
	// template is DFM's configuration with addressPlaceholder for the
	// droplet's VPC address, and config is the template parsed.
	template string
	config   dfmConfig
	// tokenEnv is the variable that carries the secret to DFM.
	tokenEnv string
	secret   string
}

// parseUserData reads the cloud-config that the provider sends as user
// data.
func parseUserData(userData string) (dropletBoot, error) {
	body, ok := strings.CutPrefix(userData, "#cloud-config\n")
	if !ok {
		return dropletBoot{}, errors.New("user data does not start with #cloud-config")
	}
	var cc cloudConfig
	if err := yaml.Unmarshal([]byte(body), &cc); err != nil {
		return dropletBoot{}, fmt.Errorf("parsing the cloud-config: %w", err)
	}
	if !slices.EqualFunc(cc.RunCmd, [][]string{{configureScript}}, slices.Equal) {
		return dropletBoot{}, fmt.Errorf("runcmd is %q, expected only %s", cc.RunCmd, configureScript)
	}

	files := map[string]string{}
	for _, f := range cc.WriteFiles {
		files[f.Path] = f.Content
	}
	var boot dropletBoot
	boot.template, ok = files[dfmTemplatePath]
	if !ok {
		return dropletBoot{}, fmt.Errorf("user data writes no %s", dfmTemplatePath)
	}
	if err := yaml.Unmarshal([]byte(boot.template), &boot.config); err != nil {
		return dropletBoot{}, fmt.Errorf("parsing %s: %w", dfmTemplatePath, err)
	}

	// The environment file has one line NAME='secret'.
	env, ok := files[dfmEnvPath]
	if !ok {
		return dropletBoot{}, fmt.Errorf("user data writes no %s", dfmEnvPath)
	}
	name, quoted, ok := strings.Cut(strings.TrimSuffix(env, "\n"), "=")
	secret, unquoted := strings.CutPrefix(quoted, "'")
	secret, closed := strings.CutSuffix(secret, "'")
	if !ok || !unquoted || !closed || name != boot.config.TokenEnv {
		return dropletBoot{}, fmt.Errorf("%s does not set %s to a single-quoted secret", dfmEnvPath, boot.config.TokenEnv)
	}
	boot.tokenEnv, boot.secret = name, secret
	return boot, nil
}

// dropletHosts is an http.Handler in front of a fakeAPI that brings the
// fake's droplets to life on loopback. After each request it gives every
// new droplet a VPC address in overloadNetwork, starts DFM for every
// droplet that the fake has turned active, and stops the DFM of every
// droplet that the fake no longer stores. Responses reach the client only
// after that, so a droplet that a client sees active already runs DFM.
type dropletHosts struct {
	api       *fakeAPI
	next      http.Handler
	dfmBinary string
	dir       string

	mu sync.Mutex
	// addresses are the VPC addresses handed out, by droplet ID.
	addresses map[int]string
	// started are the droplets whose DFM was started, or failed to start.
	started map[int]bool
	// running are the DFM processes of droplets that the fake stores.
	running map[int]*dfmProcess
	all     []*dfmProcess
	// problems are what went wrong in the handler, for the test to report.
	problems []string
}

// dfmProcess is a DFM that dropletHosts started for a droplet.
type dfmProcess struct {
	dropletID int
	cmd       *exec.Cmd
	logPath   string
	// done is closed when the process has exited and been reaped.
	done chan struct{}
}

func newDropletHosts(t *testing.T, api *fakeAPI, dfmBinary string) *dropletHosts {
	h := &dropletHosts{
		api:       api,
		next:      api.server.Config.Handler,
		dfmBinary: dfmBinary,
		dir:       t.TempDir(),
		addresses: map[int]string{},
		started:   map[int]bool{},
		running:   map[int]*dfmProcess{},
	}
	t.Cleanup(func() {
		h.mu.Lock()
		all := slices.Clone(h.all)
		h.mu.Unlock()
		for _, proc := range all {
			proc.stop(dfmStopGrace)
		}
		for _, proc := range all {
			select {
			case <-proc.done:
			case <-time.After(dfmStopGrace + 5*time.Second):
				t.Errorf("DFM of droplet %d (pid %d) did not exit after SIGKILL", proc.dropletID, proc.cmd.Process.Pid)
			}
			if t.Failed() {
				if out, err := os.ReadFile(proc.logPath); err == nil {
					t.Logf("DFM log of droplet %d:\n%s", proc.dropletID, out)
				}
			}
		}
	})
	return h
}

func (h *dropletHosts) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	h.next.ServeHTTP(rec, r)
	h.sync()

	for key, values := range rec.Header() {
		w.Header()[key] = values
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// sync brings the processes in line with the fake's droplets.
func (h *dropletHosts) sync() {
	h.mu.Lock()
	defer h.mu.Unlock()

	type droplet struct {
		id     int
		name   string
		status string
	}
	var droplets []droplet
	h.api.mu.Lock()
	for id, d := range h.api.droplets {
		if _, ok := h.addresses[id]; !ok {
			if d.status != "new" {
				h.problems = append(h.problems, fmt.Sprintf("droplet %d was %s before it got a loopback address", id, d.status))
			}
			// The fake shows the address only once the droplet is active.
			address := fmt.Sprintf("%s.%d", overloadNetwork, len(h.addresses)+1)
			h.addresses[id] = address
			d.privateIP = address
		}
		droplets = append(droplets, droplet{id: id, name: d.name, status: d.status})
	}
	bodies := slices.Clone(h.api.createBodies)
	h.api.mu.Unlock()

	stored := map[int]bool{}
	for _, d := range droplets {
		stored[d.id] = true
		if d.status != "active" || h.started[d.id] {
			continue
		}
		h.started[d.id] = true
		proc, err := h.startDFM(d.id, d.name, h.addresses[d.id], bodies)
		if err != nil {
			h.problems = append(h.problems, fmt.Sprintf("starting DFM for droplet %d (%s): %v", d.id, d.name, err))
			continue
		}
		h.running[d.id] = proc
		h.all = append(h.all, proc)
	}
	for id, proc := range h.running {
		if !stored[id] {
			proc.stop(dfmStopGrace)
			delete(h.running, id)
		}
	}
}

// startDFM starts DFM for the droplet as its first boot would: with the
// configuration from its user data, the address filled in as
// configureScript does it, and the secret in DFM's environment. Only the
// state directory differs from the droplet, because the test cannot write
// dfmStateDir. The test does not run configureScript itself, because it
// reads the droplet's route into the VPC, which loopback does not have.
func (h *dropletHosts) startDFM(id int, name, address string, bodies []map[string]any) (*dfmProcess, error) {
	i := slices.IndexFunc(bodies, func(body map[string]any) bool { return body["name"] == name })
	if i < 0 {
		return nil, errors.New("no create request has this droplet's name")
	}
	userData, _ := bodies[i]["user_data"].(string)
	boot, err := parseUserData(userData)
	if err != nil {
		return nil, err
	}

	var config map[string]any
	if err := yaml.Unmarshal([]byte(strings.ReplaceAll(boot.template, addressPlaceholder, address)), &config); err != nil {
		return nil, fmt.Errorf("parsing the DFM configuration: %w", err)
	}
	dir := filepath.Join(h.dir, strconv.Itoa(id))
	config["state_dir"] = filepath.Join(dir, "state")
	data, err := yaml.Marshal(config)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	configPath := filepath.Join(dir, "dfm.yaml")
	if err := os.WriteFile(configPath, data, 0o644); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "dfm.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // DFM has its own descriptor after Start.

	cmd := exec.Command(h.dfmBinary, "-config", configPath)
	cmd.Dir = dir
	cmd.Env = []string{boot.tokenEnv + "=" + boot.secret, "PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	proc := &dfmProcess{dropletID: id, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(proc.done)
	}()
	return proc, nil
}

// stop sends DFM SIGTERM, which starts its graceful shutdown, and kills
// DFM's process group if DFM has not exited after grace. It returns at
// once. DFM's shutdown stops its components, and after a SIGKILL they die
// through the Pdeathsig that DFM starts them with.
func (p *dfmProcess) stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	go func() {
		select {
		case <-p.done:
		case <-time.After(grace):
			// DFM was started with Setpgid, so its process group ID is
			// its PID.
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		}
	}()
}

// waitStopped waits up to timeout for every DFM that h started to exit,
// and returns the droplet IDs of the DFM processes still running.
func (h *dropletHosts) waitStopped(timeout time.Duration) []int {
	deadline := time.Now().Add(timeout)
	for {
		h.mu.Lock()
		var left []int
		for _, proc := range h.all {
			select {
			case <-proc.done:
			default:
				left = append(left, proc.dropletID)
			}
		}
		h.mu.Unlock()
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (h *dropletHosts) startCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.all)
}

func (h *dropletHosts) problemList() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.problems)
}

// storedDroplet is a droplet that the fake stores.
type storedDroplet struct {
	id      int
	name    string
	tags    []string
	address string
}

// droplets returns the fake's droplets of cluster test by the instance
// name in their instance tag. A droplet without that tag is stored under
// its droplet name.
func (h *dropletHosts) droplets() map[string]storedDroplet {
	h.api.mu.Lock()
	defer h.api.mu.Unlock()
	out := map[string]storedDroplet{}
	for id, d := range h.api.droplets {
		if !slices.Contains(d.tags, "dflb-cluster:test") {
			continue
		}
		key := d.name
		for _, tag := range d.tags {
			if name, ok := strings.CutPrefix(tag, "dflb-instance:test:"); ok {
				key = name
			}
		}
		out[key] = storedDroplet{id: id, name: d.name, tags: slices.Clone(d.tags), address: d.privateIP}
	}
	return out
}
