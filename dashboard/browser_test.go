package dashboard

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/dflb/dflb/controlplane"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/internal/browsertest"
)

// screenshotEnv names the file the browser test saves its screenshot to.
const screenshotEnv = "DFLB_DASHBOARD_SCREENSHOT"

// step runs a browser action with a deadline, so that a page that never
// reaches the expected state fails the test instead of hanging it.
func step[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	require.NoError(t, err, what)
	return v
}

// poll waits until the JavaScript expression is truthy.
func poll(t *testing.T, ctx context.Context, what, expression string) {
	t.Helper()
	step(t, ctx, what, chromedp.Poll[bool](expression, chromedp.WithPollingInterval(50*time.Millisecond)))
}

func enterToken(t *testing.T, ctx context.Context, token string) {
	t.Helper()
	step(t, ctx, "entering the token", chromedp.Steps(
		chromedp.WaitVisible(chromedp.CSS("#token-input")),
		chromedp.SendKeys(chromedp.CSS("#token-input"), token),
		chromedp.Click(chromedp.CSS("#auth-form button[type=submit]")),
	))
}

func TestDashboardInChromium(t *testing.T) {
	ctx := browsertest.Start(t)
	history := newTestHistory(time.Now().Add(-5*time.Minute), 5)
	srv := newTestServer(t, newTestSource(history))

	step(t, ctx, "opening the page", chromedp.Navigate(srv.URL+"/"))
	message := step(t, ctx, "reading the token prompt", chromedp.Text(chromedp.CSS("#auth-message")))
	assert.Contains(t, message, "No admin token")

	enterToken(t, ctx, testToken)
	poll(t, ctx, "waiting for 3 instances", `document.querySelectorAll('#instances .instance').length === 3`)
	poll(t, ctx, "waiting for a chart with data points",
		`document.querySelector('#chart-tenants-requests canvas') !== null && Number(document.querySelector('#chart-tenants-requests').dataset.points) > 0`)
	poll(t, ctx, "waiting for the instance charts",
		`Number(document.querySelector('#chart-instances-p99').dataset.points) > 0`)
	poll(t, ctx, "waiting for the decision timeline", `document.querySelectorAll('#decisions li.decision').length === 6`)
	poll(t, ctx, "waiting for the live stream", `document.getElementById('connection').textContent === 'live'`)

	health := step(t, ctx, "reading i2's health", chromedp.Text(chromedp.CSS(`#instances .instance[data-id="i2"] .health`)))
	assert.Equal(t, "degraded", health)
	rows := step(t, ctx, "counting tenant rows", chromedp.Evaluate[int](`document.querySelectorAll('#tenants tbody tr').length`))
	assert.Equal(t, 50, rows)
	first := step(t, ctx, "reading the busiest tenant", chromedp.Text(chromedp.CSS(`#tenants tbody tr:first-child td:first-child`)))
	assert.Equal(t, tenantName(0), first, "sorted by request rate, highest first")
	placement := step(t, ctx, "reading a guest's placement", chromedp.Text(chromedp.CSS(`#tenants tbody tr[data-tenant="`+tenantName(1)+`"] td:nth-child(3)`)))
	assert.Equal(t, "i2, i3", placement)
	newest := step(t, ctx, "reading the newest decision", chromedp.Text(chromedp.CSS(`#decisions li.decision:first-child`)))
	assert.Contains(t, newest, "create i4 and move 1 tenant")
	assert.Contains(t, newest, "reason: i1 overloaded")
	alerts := step(t, ctx, "reading the alerts", chromedp.Text(chromedp.CSS(`#alerts`)))
	assert.Contains(t, alerts, "instance i2 has a component down")

	step(t, ctx, "filtering the tenant table", chromedp.SendKeys(chromedp.CSS("#tenant-filter"), "i3"))
	poll(t, ctx, "waiting for the filtered rows", `document.querySelectorAll('#tenants tbody tr').length === 17`)

	saveScreenshot(t, ctx)

	step(t, ctx, "asking for another token", chromedp.Click(chromedp.CSS("#change-token")))
	enterToken(t, ctx, "wrong-token")
	poll(t, ctx, "waiting for the rejection", `document.getElementById('auth-message').classList.contains('error')`)
	message = step(t, ctx, "reading the rejection", chromedp.Text(chromedp.CSS("#auth-message")))
	assert.Contains(t, message, "rejected (HTTP 401")
	stored := step(t, ctx, "reading sessionStorage", chromedp.Evaluate[string](`sessionStorage.getItem('dflb.adminToken') || ''`))
	assert.Empty(t, stored, "a rejected token is not kept")
}

func TestDashboardInChromiumPaginatesThousandTenants(t *testing.T) {
	ctx := browsertest.Start(t)
	src := newTestSource(nil)
	src.Status = func() controlplane.Status { return fakeStatus(time.Now(), 1200) }
	srv := newTestServer(t, src)

	step(t, ctx, "opening the page", chromedp.Navigate(srv.URL+"/"))
	enterToken(t, ctx, testToken)
	poll(t, ctx, "waiting for the tenant table", `document.querySelectorAll('#tenants tbody tr').length === 100`)
	info := step(t, ctx, "reading the pager", chromedp.Text(chromedp.CSS("#page-info")))
	assert.Equal(t, "1–100 of 1200", info)

	step(t, ctx, "sorting by tenant", chromedp.Click(chromedp.CSS(`#tenants th[data-key="tenant"]`)))
	step(t, ctx, "turning the page", chromedp.Click(chromedp.CSS("#page-next")))
	poll(t, ctx, "waiting for page 2", `document.getElementById('page-info').textContent === '101–200 of 1200'`)
	first := step(t, ctx, "reading page 2", chromedp.Text(chromedp.CSS(`#tenants tbody tr:first-child td:first-child`)))
	assert.Equal(t, tenantName(100), first)
	note := step(t, ctx, "reading the charts note", chromedp.Text(chromedp.CSS("#charts-note")))
	assert.Contains(t, note, "No history")
}

// saveScreenshot writes a PNG of the whole page to $DFLB_DASHBOARD_SCREENSHOT,
// or into the test's temporary directory.
func saveScreenshot(t *testing.T, ctx context.Context) {
	t.Helper()
	png := step(t, ctx, "taking a screenshot", chromedp.FullScreenshot(100))
	path := os.Getenv(screenshotEnv)
	if path == "" {
		path = filepath.Join(t.TempDir(), "dashboard.png")
	}
	require.NoError(t, os.WriteFile(path, png, 0o644))
	t.Logf("screenshot: %s (set %s to keep it elsewhere)", path, screenshotEnv)
	assert.True(t, strings.HasPrefix(string(png), "\x89PNG"), "PNG data")
}
