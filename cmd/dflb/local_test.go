package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/dfmapi"
	"github.com/dflb/dflb/internal/testutil"
)

// binDir holds dfm and component, built once for the tests that run real
// instances.
var binDir string

func TestMain(m *testing.M) {
	dir, err := testutil.BuildCommands("dfm", "component")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// localConfig is a configuration whose instances the local provider runs on
// 127.0.66.N, apart from the addresses other packages' tests use.
func localConfig(root string, i1, i2 string) string {
	return fmt.Sprintf(`listen: 127.0.0.1:0
admin:
  listen: 127.0.0.2:0
  token_env: DFLB_TEST_ADMIN_TOKEN
provider:
  kind: local
  secret_env: DFLB_TEST_DFM_SECRET
  local:
    root: %s
    dfm_binary: %s
    component_binary: %s
    network: 127.0.66
    components:
      - {name: app, port: 9001}
instances:
  - id: i1
    tenants: [%s]
  - id: i2
    tenants: [%s]
`, root, filepath.Join(binDir, "dfm"), filepath.Join(binDir, "component"), i1, i2)
}

// served returns the status and the instance that responded for tenant.
func served(addr, tenant string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = tenant + ".apps.localhost"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", err
	}
	var doc struct{ Instance string }
	_ = json.Unmarshal(body, &doc)
	return resp.StatusCode, doc.Instance, nil
}

func TestLocalInstancesServeAndMoveTenant(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(t.TempDir(), "dflb.yaml")
	require.NoError(t, os.WriteFile(path, []byte(localConfig(root, "acme, globex", "initech")), 0o600))
	t.Setenv("DFLB_TEST_ADMIN_TOKEN", "test-admin-token")
	t.Setenv("DFLB_TEST_DFM_SECRET", "test-dfm-secret")

	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := newApp(ctx, path, t.TempDir(), logger)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, a.instances.teardown(context.Background()))
		entries, _ := os.ReadDir(root)
		for _, e := range entries {
			assert.False(t, e.IsDir(), "instance directory %s left after teardown", e.Name())
		}
	})
	addr := a.proxyLn.Addr().String()

	reload := make(chan os.Signal, 1)
	runCtx, stopRun := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.run(runCtx, reload) }()
	defer func() {
		stopRun()
		require.NoError(t, <-done)
	}()

	for tenant, want := range map[string]string{"acme": "i1", "globex": "i1", "initech": "i2"} {
		status, inst, err := served(addr, tenant)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status, tenant)
		assert.Equal(t, want, inst, tenant)
	}

	// Load every tenant while globex moves from i1 to i2.
	var sent, failed, misrouted atomic.Int64
	loadCtx, stopLoad := context.WithTimeout(ctx, 60*time.Second)
	var wg sync.WaitGroup
	for _, tenant := range []string{"acme", "globex", "initech"} {
		wg.Go(func() {
			for n := 0; n < 5000 && loadCtx.Err() == nil; n++ {
				status, _, err := served(addr, tenant)
				sent.Add(1)
				switch {
				case err != nil:
					failed.Add(1)
				case status == http.StatusMisdirectedRequest:
					misrouted.Add(1)
				case status != http.StatusOK:
					failed.Add(1)
				}
			}
		})
	}

	moveStart := time.Now()
	require.NoError(t, os.WriteFile(path, []byte(localConfig(root, "acme", "initech, globex")), 0o600))
	reload <- os.Interrupt
	require.Eventually(t, func() bool {
		_, inst, err := served(addr, "globex")
		return err == nil && inst == "i2"
	}, 30*time.Second, 20*time.Millisecond)
	t.Logf("globex moved to i2 in %s", time.Since(moveStart).Round(time.Millisecond))

	// Keep loading past the point where i1 drops globex.
	time.Sleep(500 * time.Millisecond)
	stopLoad()
	wg.Wait()

	t.Logf("requests during the move: %d sent, %d failed, %d misrouted", sent.Load(), failed.Load(), misrouted.Load())
	assert.Greater(t, sent.Load(), int64(50))
	assert.Zero(t, failed.Load())
	assert.Zero(t, misrouted.Load())

	status, inst, err := served(addr, "acme")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "i1", inst)

	// i1's component no longer serves globex once the move has finished.
	i1, err := a.instances.launcher.Provider.Get(ctx, "i1")
	require.NoError(t, err)
	client := &dfmapi.Client{BaseURL: i1.DFMURL, Token: "test-dfm-secret"}
	assert.Eventually(t, func() bool {
		st, err := client.Status(ctx)
		if err != nil {
			return false
		}
		comp, ok := st.Component("app")
		return ok && slices.Equal(comp.Tenants, []string{"acme"})
	}, 10*time.Second, 50*time.Millisecond)
}
