package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/internal/browsertest"
)

// dashboardScreenshotEnv names the file the dashboard test saves its
// screenshot to. The test also copies it to dashboardScreenshotCopy.
const (
	dashboardScreenshotEnv  = "DFLB_DASHBOARD_SCREENSHOT"
	dashboardScreenshotCopy = "/tmp/dflb-dashboard.png"
)

// browserStep runs a browser action with a deadline, so that a page that
// never reaches the expected state fails the test instead of hanging it.
func browserStep[T any](t *testing.T, ctx context.Context, timeout time.Duration, description string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	require.NoError(t, err, description)
	return v
}

// browserPoll waits up to timeout until the JavaScript expression is truthy.
func browserPoll(t *testing.T, ctx context.Context, timeout time.Duration, description, expression string) {
	t.Helper()
	browserStep(t, ctx, timeout, description, chromedp.Poll[bool](expression, chromedp.WithPollingInterval(100*time.Millisecond)))
}

// enterAdminToken types token into the page's token form and submits it.
func enterAdminToken(t *testing.T, ctx context.Context, token string) {
	t.Helper()
	browserStep(t, ctx, 10*time.Second, "entering the token", chromedp.Steps(
		chromedp.WaitVisible(chromedp.CSS("#token-input")),
		chromedp.SendKeys(chromedp.CSS("#token-input"), token),
		chromedp.Click(chromedp.CSS("#auth-form button[type=submit]")),
	))
}

// chartedTenants returns the tenants whose request-rate series in the
// dashboard's GET /api/history has at least minPoints points above zero.
func chartedTenants(admin string, minPoints int) ([]string, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+admin+"/api/history", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer test-admin-token")

	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("GET /api/history: HTTP %d: %s", resp.StatusCode, body)
	}

	var history struct {
		Tenants map[string]struct {
			Requests []*float64 `json:"requests"`
		} `json:"tenants"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&history); err != nil {
		return nil, fmt.Errorf("decoding GET /api/history: %w", err)
	}

	var out []string
	for name, s := range history.Tenants {
		positive := 0
		for _, v := range s.Requests {
			if v != nil && *v > 0 {
				positive++
			}
		}
		if positive >= minPoints {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// saveDashboardScreenshot writes a PNG of the whole page to
// $DFLB_DASHBOARD_SCREENSHOT, or into the test's temporary directory, and
// copies it to dashboardScreenshotCopy. It returns the first path.
func saveDashboardScreenshot(t *testing.T, ctx context.Context) string {
	t.Helper()
	png := browserStep(t, ctx, 10*time.Second, "taking a screenshot", chromedp.FullScreenshot(100))
	require.True(t, strings.HasPrefix(string(png), "\x89PNG"), "the screenshot is not PNG data")

	path := os.Getenv(dashboardScreenshotEnv)
	if path == "" {
		path = filepath.Join(t.TempDir(), "dashboard.png")
	}
	require.NoError(t, os.WriteFile(path, png, 0o644))
	require.NoError(t, os.WriteFile(dashboardScreenshotCopy, png, 0o644))
	return path
}

// The dashboard of a running DFLB with two local instances under load, as
// an operator sees it in Chromium. A wrong token is rejected, and the
// admin token shows the instances, charts with points and the decisions.
func TestDashboardInChromiumUnderLoad(t *testing.T) {
	started := time.Now()
	a := startScaleApp(t, scaleConfig(t.TempDir(), "127.0.81", `  enabled: false`, "i1=acme,globex", "i2=initech"))
	addr := a.proxyLn.Addr().String()
	admin := a.adminLn.Addr().String()
	require.True(t, strings.HasPrefix(admin, "127.0.0."), "admin address %s is not on 127.0.0.x", admin)

	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	l := startPacedLoad(ctx, addr, map[string]tenantRate{
		"acme":    {clients: 2, pace: 10 * time.Millisecond},
		"globex":  {clients: 1, pace: 10 * time.Millisecond},
		"initech": {clients: 1, pace: 10 * time.Millisecond},
	})

	// The page loads the history once on connecting and again every 10 s,
	// so waiting here for a few 2-s samples of every tenant lets its first
	// load draw lines, which take at least two points each.
	want := []string{"acme", "globex", "initech"}
	const minPoints = 3
	require.Eventually(t, func() bool {
		charted, err := chartedTenants(admin, minPoints)
		return err == nil && slices.Equal(charted, want)
	}, 15*time.Second, 200*time.Millisecond, "the history has fewer than %d points with load for %v", minPoints, want)

	browser := browsertest.Start(t)
	browserStep(t, browser, 10*time.Second, "opening the page", chromedp.Navigate("http://"+admin+"/"))
	prompt := browserStep(t, browser, 10*time.Second, "reading the token prompt", chromedp.Text(chromedp.CSS("#auth-message")))
	assert.Contains(t, prompt, "No admin token")

	enterAdminToken(t, browser, "wrong-token")
	browserPoll(t, browser, 10*time.Second, "waiting for the rejection",
		`document.getElementById('auth-message').classList.contains('error')`)
	rejection := browserStep(t, browser, 10*time.Second, "reading the rejection", chromedp.Text(chromedp.CSS("#auth-message")))
	assert.Contains(t, rejection, "The admin token was rejected (HTTP 401 Unauthorized)")
	stored := browserStep(t, browser, 10*time.Second, "reading sessionStorage",
		chromedp.Evaluate[string](`sessionStorage.getItem('dflb.adminToken') || ''`))
	assert.Empty(t, stored, "a rejected token is not kept")

	enterAdminToken(t, browser, "test-admin-token")
	browserPoll(t, browser, 10*time.Second, "waiting for instances i1 and i2",
		`document.querySelector('#instances .instance[data-id="i1"]') !== null &&
		 document.querySelector('#instances .instance[data-id="i2"]') !== null`)
	browserPoll(t, browser, 20*time.Second, "waiting for the instance chart's points",
		`document.querySelector('#chart-instances-requests canvas') !== null &&
		 Number(document.querySelector('#chart-instances-requests').dataset.points) > 0`)
	browserPoll(t, browser, 20*time.Second, "waiting for the tenant chart's points",
		fmt.Sprintf(`document.querySelector('#chart-tenants-requests canvas') !== null &&
		 Number(document.querySelector('#chart-tenants-requests').dataset.points) >= %d`, len(want)*minPoints))
	browserPoll(t, browser, 10*time.Second, "waiting for the decision timeline",
		`document.querySelectorAll('#decisions li.decision').length > 0`)
	browserPoll(t, browser, 10*time.Second, "waiting for the live stream",
		`document.getElementById('connection').textContent === 'live'`)

	for _, id := range []string{"i1", "i2"} {
		health := browserStep(t, browser, 10*time.Second, "reading "+id+"'s health",
			chromedp.Text(chromedp.CSS(`#instances .instance[data-id="`+id+`"] .health`)))
		assert.Equal(t, "healthy", health, "health of %s", id)
	}
	cardOfI1 := browserStep(t, browser, 10*time.Second, "reading i1's card",
		chromedp.Text(chromedp.CSS(`#instances .instance[data-id="i1"]`)))
	assert.Contains(t, cardOfI1, "acme, globex")

	legend := browserStep(t, browser, 10*time.Second, "reading the tenant chart's legend",
		chromedp.Text(chromedp.CSS(`#chart-tenants-requests .u-legend`)))
	for _, tenant := range want {
		assert.Contains(t, legend, tenant, "tenant chart legend")
	}
	instanceLegend := browserStep(t, browser, 10*time.Second, "reading the instance chart's legend",
		chromedp.Text(chromedp.CSS(`#chart-instances-requests .u-legend`)))
	assert.Contains(t, instanceLegend, "i1", "instance chart legend")
	assert.Contains(t, instanceLegend, "i2", "instance chart legend")
	points := browserStep(t, browser, 10*time.Second, "counting the tenant chart's points",
		chromedp.Evaluate[string](`document.querySelector('#chart-tenants-requests').dataset.points`))

	placedOn := browserStep(t, browser, 10*time.Second, "reading initech's row",
		chromedp.Text(chromedp.CSS(`#tenants tbody tr[data-tenant="initech"] td:nth-child(2)`)))
	assert.Equal(t, "i2", placedOn)
	rate := browserStep(t, browser, 10*time.Second, "reading acme's request rate",
		chromedp.Text(chromedp.CSS(`#tenants tbody tr[data-tenant="acme"] td:nth-child(4)`)))
	assert.NotEqual(t, "0", rate, "acme's request rate under load")

	kinds := browserStep(t, browser, 10*time.Second, "reading the decision kinds",
		chromedp.Evaluate[[]string](`[...document.querySelectorAll('#decisions li.decision')].map((li) => li.dataset.kind)`))
	assert.Contains(t, kinds, "apply", "the start-up layout is applied with an apply decision")

	path := saveDashboardScreenshot(t, browser)
	t.Logf("screenshot: %s, copied to %s (set %s to keep it elsewhere)", path, dashboardScreenshotCopy, dashboardScreenshotEnv)
	t.Logf("it shows instances i1 (acme, globex) and i2 (initech), charts with %s tenant request-rate points, and %d decisions: %v",
		points, len(kinds), kinds)

	stopLoad(t, l, cancel)
	logDecisions(t, a)
	t.Logf("test ran %s before stopping the app", time.Since(started).Round(time.Millisecond))
}
