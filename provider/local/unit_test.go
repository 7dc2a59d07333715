package local

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/agent"
	"github.com/dflb/dflb/provider"
)

// unitConfig returns a valid configuration whose binaries need not exist,
// for tests that start no process.
func unitConfig(t *testing.T) Config {
	return Config{
		Root:            t.TempDir(),
		Binary:          "/usr/local/bin/dfm",
		ComponentBinary: "/usr/local/bin/component",
		Network:         testNetwork,
		Components:      []ComponentTemplate{{Name: "app", Port: 9001}},
	}
}

func newUnitProvider(t *testing.T) *Provider {
	t.Helper()
	p, err := New(unitConfig(t), nil)
	require.NoError(t, err)
	return p
}

func TestConfigDefaults(t *testing.T) {
	p, err := New(Config{Root: t.TempDir(), Binary: "dfm", ComponentBinary: "component"}, nil)
	require.NoError(t, err)

	assert.Equal(t, "127.0.1", p.cfg.Network)
	assert.Equal(t, 7070, p.cfg.DFMPort)
	assert.Equal(t, []ComponentTemplate{{Name: "app", Port: 9001}}, p.cfg.Components)
	assert.Equal(t, 30*time.Second, p.cfg.StopTimeout)
	assert.Equal(t, time.Second, p.cfg.HealthTimeout)
	assert.True(t, filepath.IsAbs(p.cfg.Binary), "Binary %q not made absolute", p.cfg.Binary)
}

func TestConfigInvalid(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Config)
		message string
	}{
		{"missing root", func(c *Config) { c.Root = "" }, "Root is required"},
		{"missing binary", func(c *Config) { c.Binary = "" }, "Binary is required"},
		{"missing component binary", func(c *Config) { c.ComponentBinary = "" }, "ComponentBinary is required"},
		{"non-loopback network", func(c *Config) { c.Network = "10.0.0" }, "not a loopback network"},
		{"malformed network", func(c *Config) { c.Network = "127.0" }, "not three IPv4 octets"},
		{"DFM port out of range", func(c *Config) { c.DFMPort = 70000 }, "DFMPort 70000 is out of range"},
		{"component on DFM port", func(c *Config) { c.Components[0].Port = 7070 }, "Port 7070 is already used by DFM"},
		{"duplicate component", func(c *Config) {
			c.Components = append(c.Components, ComponentTemplate{Name: "app", Port: 9002})
		}, `"app" is a duplicate`},
		{"invalid component name", func(c *Config) { c.Components[0].Name = "App" }, `Name "App" is invalid`},
		{"negative grace", func(c *Config) { c.Components[0].Grace = -time.Second }, "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := unitConfig(t)
			tt.change(&cfg)

			_, err := New(cfg, nil)

			assert.ErrorContains(t, err, tt.message)
		})
	}
}

func TestRenderedConfigParsesInDFM(t *testing.T) {
	p := newUnitProvider(t)
	p.cfg.Components = []ComponentTemplate{
		{Name: "app", Port: 9001, Args: []string{"-shutdown-grace", "1s"}, Env: map[string]string{"GOMAXPROCS": "1"}, Grace: 2 * time.Second},
		{Name: "worker", Port: 9002, StartTimeout: 5 * time.Second},
	}
	m := meta{ID: "i-7", Name: "i-7", Address: testNetwork + ".7"}

	data, err := p.renderDFMConfig(m, "http://127.0.0.1:9090/v1/notifications")
	require.NoError(t, err)
	cfg, err := agent.Parse(data, "dfm.yaml")
	require.NoError(t, err, "rendered:\n%s", data)

	assert.Equal(t, "i-7", cfg.Instance)
	assert.Equal(t, testNetwork+".7:7070", cfg.Listen)
	assert.Equal(t, tokenEnv, cfg.TokenEnv)
	assert.Equal(t, p.dir("i-7"), cfg.StateDir)
	assert.Equal(t, "http://127.0.0.1:9090/v1/notifications", cfg.Notify.URL)
	require.Len(t, cfg.Components, 2)
	app := cfg.Components[0]
	assert.Equal(t, p.cfg.ComponentBinary, app.Command)
	assert.Equal(t, []string{
		"-instance", "i-7", "-component", "app", "-listen", testNetwork + ".7:9001",
		"-tenants-file", "{tenants_file}", "-shutdown-grace", "1s",
	}, app.Args)
	assert.Equal(t, map[string]string{"GOMAXPROCS": "1"}, app.Env)
	assert.Equal(t, 9001, app.Port)
	assert.Equal(t, "/healthz", app.Health.Path)
	assert.Equal(t, 2*time.Second, app.Grace)
	assert.Equal(t, 5*time.Second, cfg.Components[1].StartTimeout)
}

func TestRenderedConfigWithoutNotifyURL(t *testing.T) {
	p := newUnitProvider(t)

	data, err := p.renderDFMConfig(meta{ID: "a", Name: "a", Address: testNetwork + ".1"}, "")
	require.NoError(t, err)
	cfg, err := agent.Parse(data, "dfm.yaml")
	require.NoError(t, err)

	assert.NotContains(t, string(data), "notify")
	assert.Empty(t, cfg.Notify.URL)
}

func TestFreeAddressSkipsClaimed(t *testing.T) {
	p := newUnitProvider(t)
	for _, m := range []meta{{ID: "a", Name: "a", Address: testNetwork + ".1"}, {ID: "c", Name: "c", Address: testNetwork + ".3"}} {
		require.NoError(t, ensureDir(p.dir(m.Name)))
		require.NoError(t, p.writeMeta(m))
	}

	address, err := p.freeAddress()

	require.NoError(t, err)
	assert.Equal(t, testNetwork+".2", address)
}

func TestFreeAddressSkipsBusyPort(t *testing.T) {
	p := newUnitProvider(t)
	ln, err := net.Listen("tcp", net.JoinHostPort(testNetwork+".1", strconv.Itoa(p.cfg.Components[0].Port)))
	require.NoError(t, err, "binding %s.1 failed: this test needs the 127.0.0.0/8 loopback range", testNetwork)
	defer ln.Close()

	address, err := p.freeAddress()

	require.NoError(t, err)
	assert.Equal(t, testNetwork+".2", address)
}

func TestSpecValidation(t *testing.T) {
	good := provider.Spec{Name: "i-1", Bootstrap: provider.Bootstrap{Secret: "x", NotifyURL: "http://127.0.0.1:9090/v1/notifications"}}
	tests := []struct {
		name    string
		change  func(*provider.Spec)
		message string
	}{
		{"path in name", func(s *provider.Spec) { s.Name = "../etc" }, "invalid instance name"},
		{"dot name", func(s *provider.Spec) { s.Name = "." }, "invalid instance name"},
		{"empty name", func(s *provider.Spec) { s.Name = "" }, "invalid instance name"},
		{"unknown image", func(s *provider.Spec) { s.Image = "ubuntu" }, `unknown image "ubuntu"`},
		{"empty secret", func(s *provider.Spec) { s.Bootstrap.Secret = "" }, "missing Bootstrap.Secret"},
		{"NUL in secret", func(s *provider.Spec) { s.Bootstrap.Secret = "a\x00b" }, "NUL byte"},
		{"relative notify URL", func(s *provider.Spec) { s.Bootstrap.NotifyURL = "/v1/notifications" }, "invalid Bootstrap.NotifyURL"},
	}
	require.NoError(t, validateSpec(good))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := good
			tt.change(&spec)
			p := newUnitProvider(t)

			_, err := p.Create(context.Background(), spec)

			assert.ErrorContains(t, err, tt.message)
			assert.ErrorIs(t, err, provider.ErrPermanent)
			entries, _ := os.ReadDir(p.cfg.Root)
			assert.Empty(t, entries, "Create wrote files for an invalid spec")
		})
	}
}

func TestUnknownInstance(t *testing.T) {
	p := newUnitProvider(t)
	ctx := context.Background()

	for _, id := range []string{"missing", "../etc", ""} {
		_, err := p.Get(ctx, id)
		assert.ErrorIs(t, err, provider.ErrNotFound, "Get(%q)", id)
		assert.ErrorIs(t, p.Restart(ctx, id), provider.ErrNotFound, "Restart(%q)", id)
		assert.ErrorIs(t, p.Kill(ctx, id), provider.ErrNotFound, "Kill(%q)", id)
		assert.ErrorIs(t, p.Hang(ctx, id), provider.ErrNotFound, "Hang(%q)", id)
		assert.NoError(t, p.Delete(ctx, id), "Delete(%q)", id)
	}
	list, err := p.List(ctx)
	assert.NoError(t, err)
	assert.Empty(t, list)
}

func TestRestartNeedsSecret(t *testing.T) {
	p := newUnitProvider(t)
	require.NoError(t, ensureDir(p.dir("old")))
	require.NoError(t, p.writeMeta(meta{ID: "old", Name: "old", Address: testNetwork + ".1"}))

	err := p.Restart(context.Background(), "old")

	assert.ErrorContains(t, err, "local.Config.Secret")
	assert.ErrorIs(t, err, provider.ErrPermanent)
}

func TestListStoppedInstance(t *testing.T) {
	p := newUnitProvider(t)
	created := time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC)
	require.NoError(t, ensureDir(p.dir("old")))
	require.NoError(t, p.writeMeta(meta{ID: "old", Name: "old", Tags: []string{"blue"}, Address: testNetwork + ".4", Created: created}))
	require.NoError(t, ensureDir(p.dir("no-meta")))
	require.NoError(t, os.WriteFile(filepath.Join(p.cfg.Root, "stray-file"), nil, 0o644))

	list, err := p.List(context.Background())

	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, provider.Instance{
		ID: "old", Name: "old", Tags: []string{"blue"}, Address: testNetwork + ".4",
		DFMURL: "http://" + testNetwork + ".4:7070", State: provider.StateOff, Created: created,
	}, list[0])
}

func TestCorruptMetaNotListed(t *testing.T) {
	p := newUnitProvider(t)
	require.NoError(t, ensureDir(p.dir("bad")))
	require.NoError(t, os.WriteFile(p.metaPath("bad"), []byte("{not json"), 0o644))

	list, err := p.List(context.Background())
	require.NoError(t, err)
	_, getErr := p.Get(context.Background(), "bad")

	assert.Empty(t, list)
	assert.ErrorContains(t, getErr, "delete the instance directory")
}

func TestStalePIDFileIgnored(t *testing.T) {
	p := newUnitProvider(t)
	require.NoError(t, ensureDir(filepath.Join(p.dir("old"), "components")))
	// The test process runs, but is neither this instance's DFM nor its
	// component.
	self := []byte(strconv.Itoa(os.Getpid()))
	require.NoError(t, os.WriteFile(p.pidPath("old"), self, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(p.dir("old"), "components", "app.pid"), self, 0o644))

	ps := p.findProcesses("old")

	assert.True(t, ps.empty(), "found %+v", ps)
}

func TestReadStatOfSelf(t *testing.T) {
	st, err := readStat(os.Getpid())
	require.NoError(t, err)
	sid, _, errno := syscall.RawSyscall(syscall.SYS_GETSID, 0, 0, 0)
	require.Zero(t, errno)

	assert.Equal(t, int(sid), st.session)
	assert.True(t, running(os.Getpid()))
	assert.False(t, running(0))
	assert.False(t, isDFM(os.Getpid(), "/no/such/dfm.yaml"))
}

func TestSignalRejectsGroupPIDs(t *testing.T) {
	for _, pid := range []int{0, -1} {
		err := signal(pid, syscall.Signal(0))
		assert.ErrorContains(t, err, "invalid PID", "PID %d", pid)
	}
}

func TestKeyedLockHonoursContext(t *testing.T) {
	var k keyedLock
	k.locks = make(map[string]*lockEntry)
	unlock, err := k.lock(context.Background(), "a")
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = k.lock(ctx, "a")
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	unlockB, err := k.lock(context.Background(), "b")
	require.NoError(t, err, "another name must not wait")
	unlockB()
	unlock()
	unlock2, err := k.lock(context.Background(), "a")
	require.NoError(t, err)
	unlock2()
	assert.Empty(t, k.locks, "entries stay after every user left")
}

func TestDFMEnvCarriesOnlySecretAndBasics(t *testing.T) {
	t.Setenv("DFLB_ADMIN_TOKEN", "admin-secret")
	t.Setenv(tokenEnv, "stale-value")

	env := dfmEnv("the-secret")

	assert.Contains(t, env, tokenEnv+"=the-secret")
	assert.NotContains(t, env, tokenEnv+"=stale-value")
	for _, kv := range env {
		assert.False(t, strings.HasPrefix(kv, "DFLB_ADMIN_TOKEN="), "DFLB's admin token leaked into DFM's environment")
	}
}
