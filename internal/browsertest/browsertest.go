// Package browsertest starts a headless Chromium for tests that load the
// dashboard in a real browser.
package browsertest

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// ChromiumPath is the path of the browser that Debian's chromium package installs.
const ChromiumPath = "/usr/bin/chromium"

// Start starts a headless Chromium with a fresh profile and returns a
// context for one tab. It skips the test when Chromium is not installed.
// Chromium talks to chromedp through a pipe, so it opens no debugging port,
// and the flags turn off its own background traffic (updates, sync, QUIC).
// The page's console goes to the test log, and an uncaught exception fails
// the test.
func Start(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		t.Skipf("skipping the browser test: %s not found (%v); install Debian's chromium package to run it", ChromiumPath, err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ChromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancel)

	// The first action starts the browser. It runs without a timeout,
	// because a timeout on that call would stop the browser with it.
	require.NoError(t, chromedp.Do(ctx), "starting %s", ChromiumPath)
	watchConsole(t, ctx)
	return ctx
}

// watchConsole logs the page's console and fails the test on an uncaught
// exception.
func watchConsole(t *testing.T, ctx context.Context) {
	ctx, stop := context.WithCancel(ctx)
	messages := chromedp.Console(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			t.Logf("browser console: %s", m)
			if m.IsException() {
				t.Errorf("uncaught exception in the page: %s", m.Text)
			}
		}
	})
	// t.Logf must not run after the test, so the reader is stopped first.
	t.Cleanup(func() {
		stop()
		wg.Wait()
	})
}
