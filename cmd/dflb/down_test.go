package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/dfmapi"
)

// TestDownOnExitDeletesInstances stops a dflb that runs with -down-on-exit.
// Its instances and state must be gone, and each DFM's shutdown
// notification must have reached dflb before the admin listener closed.
func TestDownOnExitDeletesInstances(t *testing.T) {
	root := t.TempDir()
	text := strings.Replace(localConfig(root, "acme", "initech"), "network: 127.0.66", "network: 127.0.71", 1)
	path := filepath.Join(t.TempDir(), "dflb.yaml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	t.Setenv("DFLB_TEST_ADMIN_TOKEN", "test-admin-token")
	t.Setenv("DFLB_TEST_DFM_SECRET", "test-dfm-secret")
	dataDir := t.TempDir()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := newApp(ctx, path, dataDir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	a.downOnExit = true
	// Deletes what a failed test leaves running. After a passing test there
	// is nothing left to delete.
	t.Cleanup(func() { assert.NoError(t, a.instances.teardown(context.Background())) })

	runCtx, stopRun := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.run(runCtx, make(chan os.Signal)) }()

	status, inst, err := served(a.proxyLn.Addr().String(), "acme")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "i1", inst)

	stopRun()
	require.NoError(t, <-done)

	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, e.IsDir(), "instance directory %s left after exit", e.Name())
	}
	_, err = os.Stat(filepath.Join(dataDir, stateFile))
	assert.ErrorIs(t, err, os.ErrNotExist, "control plane state left after exit")

	shutdowns := map[string]bool{}
	for _, n := range a.notifications.Recent(1000) {
		if n.Kind == dfmapi.KindShutdownComplete {
			shutdowns[n.Instance] = true
		}
	}
	assert.Equal(t, map[string]bool{"i1": true, "i2": true}, shutdowns, "instances whose shutdown notification arrived")
}
