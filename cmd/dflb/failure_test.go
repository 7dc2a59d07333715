package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/provider/local"
)

// sharedTenantApp runs dflb with two local instances that both serve acme,
// on the addresses given by network, and stops and deletes it all at the end.
func sharedTenantApp(t *testing.T, network string) *app {
	t.Helper()
	root := t.TempDir()
	text := strings.Replace(localConfig(root, "acme", "acme"), "network: 127.0.66", "network: "+network, 1)
	return startScaleApp(t, text)
}

// load sends GETs for acme from four clients until ctx ends or each has
// sent 20,000, and counts what failed and what a component rejected as
// misrouted (421).
type load struct {
	sent, failed, misrouted atomic.Int64
	byInstance              sync.Map // instance ID -> *atomic.Int64
	wg                      sync.WaitGroup
}

func startLoad(ctx context.Context, addr string) *load {
	l := &load{}
	for range 4 {
		l.wg.Go(func() {
			for n := 0; n < 20000 && ctx.Err() == nil; n++ {
				status, inst, err := served(addr, "acme")
				if ctx.Err() != nil {
					return
				}
				l.sent.Add(1)
				switch {
				case err != nil || (status != http.StatusOK && status != http.StatusMisdirectedRequest):
					l.failed.Add(1)
				case status == http.StatusMisdirectedRequest:
					l.misrouted.Add(1)
				default:
					counter, _ := l.byInstance.LoadOrStore(inst, &atomic.Int64{})
					counter.(*atomic.Int64).Add(1)
				}
			}
		})
	}
	return l
}

func (l *load) served(instance string) int64 {
	counter, ok := l.byInstance.Load(instance)
	if !ok {
		return 0
	}
	return counter.(*atomic.Int64).Load()
}

func componentPID(t *testing.T, a *app, instance string) int {
	t.Helper()
	root := a.config.Provider.Local.Root
	data, err := os.ReadFile(filepath.Join(root, instance, "components", "app.pid"))
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	require.NoError(t, err)
	return pid
}

// A component killed under load: its tenant keeps being served by the other
// instance, and the restarted component gets traffic again.
func TestBrokenComponentUnderLoad(t *testing.T) {
	a := sharedTenantApp(t, "127.0.67")
	addr := a.proxyLn.Addr().String()

	ctx, stop := context.WithTimeout(context.Background(), 60*time.Second)
	defer stop()
	l := startLoad(ctx, addr)
	require.Eventually(t, func() bool { return l.served("i1") > 50 && l.served("i2") > 50 }, 10*time.Second, 10*time.Millisecond)

	killed := time.Now()
	require.NoError(t, syscall.Kill(componentPID(t, a, "i1"), syscall.SIGKILL))
	before := l.served("i1")
	require.Eventually(t, func() bool { return l.served("i1") > before+50 }, 20*time.Second, 20*time.Millisecond,
		"i1 did not get traffic back after its component restarted")
	t.Logf("i1 serving again %s after its component was killed", time.Since(killed).Round(time.Millisecond))

	stop()
	l.wg.Wait()
	t.Logf("requests: %d sent, %d failed, %d misrouted", l.sent.Load(), l.failed.Load(), l.misrouted.Load())
	assert.Zero(t, l.failed.Load())
	assert.Zero(t, l.misrouted.Load())
}

// An instance that hangs under load: DFLB takes it out of rotation, restarts
// it through the provider and routes to it again once it is back.
func TestBrokenInstanceUnderLoad(t *testing.T) {
	a := sharedTenantApp(t, "127.0.68")
	addr := a.proxyLn.Addr().String()
	p := a.instances.launcher.Provider.(*local.Provider)

	ctx, stop := context.WithTimeout(context.Background(), 90*time.Second)
	defer stop()
	l := startLoad(ctx, addr)
	require.Eventually(t, func() bool { return l.served("i1") > 50 && l.served("i2") > 50 }, 10*time.Second, 10*time.Millisecond)

	hung := time.Now()
	require.NoError(t, p.Hang(ctx, "i1"))
	before := l.served("i1")
	require.Eventually(t, func() bool { return l.served("i1") > before+50 }, 45*time.Second, 50*time.Millisecond,
		"i1 did not get traffic back after the restart")
	t.Logf("i1 serving again %s after it hung", time.Since(hung).Round(time.Millisecond))

	stop()
	l.wg.Wait()
	t.Logf("requests: %d sent, %d failed, %d misrouted", l.sent.Load(), l.failed.Load(), l.misrouted.Load())
	assert.Zero(t, l.failed.Load())
	assert.Zero(t, l.misrouted.Load())
}
