package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	dataDir := t.TempDir()
	a, stop := startApp(t, text, dataDir, true)

	status, inst, err := served(a.proxyLn.Addr().String(), "acme")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "i1", inst)

	require.NoError(t, stop())

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
