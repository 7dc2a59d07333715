package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/controlplane"
	"github.com/dflb/dflb/internal/testutil"
)

// syncBuffer is a log sink that tests read while the app writes.
type syncBuffer = testutil.LogBuffer

func configText(backend string, tenants string) string {
	return fmt.Sprintf(`listen: 127.0.0.1:0
admin:
  listen: 127.0.0.2:0
  token_env: DFLB_TEST_ADMIN_TOKEN
instances:
  - id: i1
    components: {app: %s}
    tenants: [%s]
`, backend, tenants)
}

func getTenant(t *testing.T, addr, tenant string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	require.NoError(t, err)
	req.Host = tenant + ".apps.localhost"
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func TestReloadInvalidKeepsRoutes(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer backend.Close()
	backendAddr := backend.Listener.Addr().String()

	path := filepath.Join(t.TempDir(), "dflb.yaml")
	require.NoError(t, os.WriteFile(path, []byte(configText(backendAddr, "acme")), 0o600))
	t.Setenv("DFLB_TEST_ADMIN_TOKEN", "test-token")

	logs := &syncBuffer{}
	a, err := newApp(context.Background(), path, t.TempDir(), slog.New(slog.NewTextHandler(logs, nil)))
	require.NoError(t, err)
	addr := a.proxyLn.Addr().String()

	ctx, cancel := context.WithCancel(context.Background())
	reload := make(chan os.Signal, 1)
	done := make(chan error, 1)
	go func() { done <- a.run(ctx, reload) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()

	require.Equal(t, http.StatusOK, getTenant(t, addr, "acme"))

	// Line 9 holds the misspelt key.
	invalid := configText(backendAddr, "acme, globex") + "    tenats: [initech]\n"
	require.NoError(t, os.WriteFile(path, []byte(invalid), 0o600))
	reload <- os.Interrupt
	require.Eventually(t, func() bool { return bytes.Contains([]byte(logs.String()), []byte("reload rejected")) },
		5*time.Second, 10*time.Millisecond)
	assert.Contains(t, logs.String(), "dflb.yaml:9")
	assert.Contains(t, logs.String(), "tenats")
	assert.Equal(t, http.StatusOK, getTenant(t, addr, "acme"), "the old routes must keep serving")
	assert.Equal(t, http.StatusNotFound, getTenant(t, addr, "globex"), "nothing of the invalid file may apply")

	require.NoError(t, os.WriteFile(path, []byte(configText(backendAddr, "acme, globex")), 0o600))
	reload <- os.Interrupt
	require.Eventually(t, func() bool { return getTenant(t, addr, "globex") == http.StatusOK },
		5*time.Second, 10*time.Millisecond)
	assert.Equal(t, http.StatusOK, getTenant(t, addr, "acme"))
}

func TestSecretGeneratedOnce(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DFLB_TEST_UNSET_TOKEN", "")
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))

	first, err := loadSecret("DFLB_TEST_UNSET_TOKEN", dir, "admin.token", logger)
	require.NoError(t, err)
	assert.Len(t, first, 48)
	info, err := os.Stat(filepath.Join(dir, "admin.token"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	second, err := loadSecret("DFLB_TEST_UNSET_TOKEN", dir, "admin.token", logger)
	require.NoError(t, err)
	assert.Equal(t, first, second)
	assert.NotContains(t, logs.String(), first, "the token must never be logged")
}

func TestStartFailsOnBusyPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()

	text := fmt.Sprintf("listen: %s\nadmin: {listen: 127.0.0.2:0, token_env: DFLB_TEST_ADMIN_TOKEN}\n", busy.Addr())
	path := filepath.Join(t.TempDir(), "dflb.yaml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	t.Setenv("DFLB_TEST_ADMIN_TOKEN", "test-token")

	_, err = newApp(context.Background(), path, t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), busy.Addr().String())
}

func TestNotifyURLReachable(t *testing.T) {
	f := func(listen, want string) {
		t.Helper()
		ln, err := net.Listen("tcp", listen)
		require.NoError(t, err)
		defer ln.Close()
		_, port, err := net.SplitHostPort(ln.Addr().String())
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf(want, port), notifyURL(ln))
	}
	f("127.0.0.1:0", "http://127.0.0.1:%s/v1/notifications")
	f("127.0.0.2:0", "http://127.0.0.2:%s/v1/notifications")
	f(":0", "http://127.0.0.1:%s/v1/notifications")
}

func TestStatusShowsPlacement(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer backend.Close()
	path := filepath.Join(t.TempDir(), "dflb.yaml")
	require.NoError(t, os.WriteFile(path, []byte(configText(backend.Listener.Addr().String(), "acme, globex")), 0o600))
	t.Setenv("DFLB_TEST_ADMIN_TOKEN", "test-token")

	a, err := newApp(context.Background(), path, t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.run(ctx, make(chan os.Signal)) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()
	require.Equal(t, http.StatusOK, getTenant(t, a.proxyLn.Addr().String(), "acme"))

	url := "http://" + a.adminLn.Addr().String() + statusPath
	resp, err := http.Get(url)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer test-token")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var st controlplane.Status
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))

	require.Len(t, st.Instances, 1)
	assert.Equal(t, "i1", st.Instances[0].ID)
	assert.Equal(t, []string{"acme", "globex"}, st.Instances[0].Tenants)
	require.Len(t, st.Instances[0].Backends, 1)
	assert.True(t, st.Instances[0].Backends[0].Up)
	require.Len(t, st.Tenants, 2)
	assert.Equal(t, []string{"i1"}, st.Tenants[0].Instances)

	var out bytes.Buffer
	require.NoError(t, printStatus(&out, st))
	assert.Contains(t, out.String(), "acme")
	assert.Contains(t, out.String(), backend.Listener.Addr().String()+" up")
}

// The DigitalOcean provider fails at start with errors that name what to
// set, and the token's value appears in none of them.
func TestDigitalOceanStartErrors(t *testing.T) {
	const base = `listen: 127.0.0.1:0
admin: {listen: 127.0.0.2:0, token_env: DFLB_TEST_ADMIN_TOKEN}
provider:
  kind: digitalocean
  secret_env: DFLB_TEST_DFM_SECRET
%s  digitalocean:
    token_env: DFLB_TEST_DO_TOKEN
    api_url: http://127.0.0.1:1/
    cluster: test
    region: ams3
    size: s-1vcpu-1gb
    image: "123456"
    vpc_uuid: 5a4981aa-9653-4bd1-bef5-d6bff52042e4
instances:
  - id: i1
    tenants: [acme]
`
	t.Setenv("DFLB_TEST_ADMIN_TOKEN", "test-admin-token")
	t.Setenv("DFLB_TEST_DFM_SECRET", "test-dfm-secret")
	start := func(notify string) error {
		path := filepath.Join(t.TempDir(), "dflb.yaml")
		require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf(base, notify)), 0o600))
		// Nothing listens on the API address, so the third start only
		// retries until this deadline.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := newApp(ctx, path, t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
		return err
	}

	err := start("")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "provider.notify_url")

	err = start("  notify_url: http://10.0.0.2:9090/v1/notifications\n")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "DFLB_TEST_DO_TOKEN")

	t.Setenv("DFLB_TEST_DO_TOKEN", "dop_v1_secret_token_value")
	err = start("  notify_url: http://10.0.0.2:9090/v1/notifications\n")
	require.Error(t, err, "no API answers on 127.0.0.1:1")
	assert.NotContains(t, err.Error(), "dop_v1_secret_token_value")
}
