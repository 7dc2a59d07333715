package dashboard

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var dataPaths = []string{"/api/snapshot", "/api/history", "/api/events"}

func TestDataEndpointsRejectMissingOrWrongToken(t *testing.T) {
	var logs bytes.Buffer
	src := newTestSource(newTestHistory(testStart, 1))
	src.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	srv := newTestServer(t, src)

	for _, path := range dataPaths {
		for _, token := range []string{"", "wrong-token"} {
			resp := get(t, srv.URL+path, token)
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s with token %q", path, token)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"), "%s", path)
			assert.Contains(t, resp.Header.Get("WWW-Authenticate"), "Bearer", "%s", path)

			var body struct {
				Error string `json:"error"`
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body), "%s: body is JSON", path)
			assert.Contains(t, body.Error, "admin token", "%s", path)
		}
	}
	assert.Contains(t, logs.String(), "unauthorized dashboard request")
	assert.NotContains(t, logs.String(), "wrong-token", "the token sent is never logged")
}

func TestDataEndpointsIgnoreTokenInQuery(t *testing.T) {
	srv := newTestServer(t, newTestSource(newTestHistory(testStart, 1)))
	for _, path := range dataPaths {
		resp := get(t, srv.URL+path+"?token="+testToken, "")
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s", path)
	}
}

func TestSnapshotFields(t *testing.T) {
	srv := newTestServer(t, newTestSource(newTestHistory(testStart, 1)))
	resp := get(t, srv.URL+"/api/snapshot", testToken)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))

	var snap snapshot
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&snap))

	require.Len(t, snap.Instances, 3)
	i2 := snap.Instances[1]
	assert.Equal(t, "i2", i2.ID)
	assert.Equal(t, "ready", i2.State)
	assert.Equal(t, "config", i2.Origin)
	assert.Equal(t, healthDegraded, i2.Health, "one of two backends down")
	assert.True(t, i2.Routed)
	require.Len(t, i2.Components, 2)
	assert.Equal(t, "api", i2.Components[0].Name)
	require.NotNil(t, i2.Components[1].Up)
	assert.False(t, *i2.Components[1].Up, "app is down")
	assert.Contains(t, i2.Tenants, tenantName(1))
	assert.Equal(t, healthHealthy, snap.Instances[0].Health)
	assert.Equal(t, []string{tenantName(1)}, snap.Instances[2].Guests)
	assert.NotContains(t, snap.Instances[2].Tenants, tenantName(1), "guests are listed apart")
	assert.Positive(t, i2.Traffic.RequestsPerSecond)

	require.Len(t, snap.Tenants, 50)
	t1 := snap.Tenants[1]
	assert.Equal(t, tenantName(1), t1.Tenant)
	assert.Equal(t, "i2", t1.PlacedOn)
	assert.Equal(t, []string{"i2", "i3"}, t1.Instances, "served by its own instance and a guest host")
	assert.Positive(t, t1.RequestsPerSecond)
	assert.Positive(t, t1.ErrorsPerSecond)
	assert.InDelta(t, t1.ErrorsPerSecond/t1.RequestsPerSecond, t1.ErrorRatio, 1e-9)
	assert.Positive(t, t1.P99MS)
	assert.True(t, t1.Charted)
	assert.False(t, snap.Tenants[49].Charted, "the 50th tenant by rate is outside the top 20")
	assert.Len(t, snap.ChartedTenants, DefaultTopTenants)

	assert.Len(t, snap.Decisions, 6)
	require.NotNil(t, snap.Operation)
	assert.Equal(t, uint64(7), snap.Operation.ID)
	assert.Len(t, snap.Notifications, 2)
	assert.NotEmpty(t, snap.Alerts)
}

func TestSnapshotRawJSONNames(t *testing.T) {
	srv := newTestServer(t, newTestSource(nil))
	resp := get(t, srv.URL+"/api/snapshot", testToken)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var raw map[string]json.RawMessage
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&raw))

	for _, key := range []string{"time", "window", "instances", "tenants", "charted_tenants", "decisions", "operation", "alerts", "notifications"} {
		assert.Contains(t, raw, key)
	}
	var tenants []map[string]any
	require.NoError(t, json.Unmarshal(raw["tenants"], &tenants))
	for _, key := range []string{"tenant", "instances", "placed_on", "requests_per_second", "errors_per_second", "error_ratio", "p99_ms", "charted"} {
		assert.Contains(t, tenants[0], key)
	}
	assert.JSONEq(t, `[]`, string(raw["charted_tenants"]), "no history, nothing charted")
}

func TestSnapshotWithoutAlertsHasEmptyList(t *testing.T) {
	src := newTestSource(nil)
	src.Alerts = nil
	srv := newTestServer(t, src)
	resp := get(t, srv.URL+"/api/snapshot", testToken)
	var raw map[string]json.RawMessage
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&raw))
	assert.JSONEq(t, `[]`, string(raw["alerts"]))
}

func TestHistoryEndpoint(t *testing.T) {
	srv := newTestServer(t, newTestSource(newTestHistory(testStart, 3)))

	resp := get(t, srv.URL+"/api/history", testToken)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var all historyJSON
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&all))
	assert.Equal(t, int64(2000), all.IntervalMS)
	assert.Equal(t, DefaultPoints, all.Points)
	assert.Len(t, all.Times, 90, "3 minutes at 2 s")
	require.NotNil(t, all.Overall)
	assert.Len(t, all.Overall.Requests, 90)
	assert.Len(t, all.Instances, 3)
	assert.Len(t, all.Tenants, DefaultTopTenants)

	resp = get(t, srv.URL+"/api/history?tenant="+tenantName(0), testToken)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var one historyJSON
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&one))
	assert.Nil(t, one.Overall)
	assert.Len(t, one.Tenants, 1)
	assert.Len(t, one.Tenants[tenantName(0)].P99, 90)

	last := all.Times[len(all.Times)-1]
	resp = get(t, srv.URL+"/api/history?since="+strconv.FormatInt(last-4000, 10), testToken)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var later historyJSON
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&later))
	assert.Equal(t, []int64{last - 2000, last}, later.Times)

	resp = get(t, srv.URL+"/api/history?tenant="+tenantName(49), testToken)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "tenant outside the top")
	resp = get(t, srv.URL+"/api/history?since=yesterday", testToken)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestHistoryEndpointWithoutHistory(t *testing.T) {
	srv := newTestServer(t, newTestSource(nil))
	resp := get(t, srv.URL+"/api/history", testToken)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// historyJSON decodes historyData, whose points cannot be read back into
// points because null is not a float64.
type historyJSON struct {
	IntervalMS int64                 `json:"interval_ms"`
	Points     int                   `json:"points"`
	Times      []int64               `json:"times"`
	Overall    *seriesJSON           `json:"overall"`
	Instances  map[string]seriesJSON `json:"instances"`
	Tenants    map[string]seriesJSON `json:"tenants"`
}

type seriesJSON struct {
	Requests []*float64 `json:"requests"`
	Errors   []*float64 `json:"errors"`
	P99      []*float64 `json:"p99_ms"`
}

func TestPageAndAssetsContentTypes(t *testing.T) {
	srv := newTestServer(t, newTestSource(nil))
	cases := []struct {
		path, contentType, contains string
	}{
		{"/", "text/html; charset=utf-8", "static/app.js"},
		{"/static/app.js", "text/javascript; charset=utf-8", "Authorization"},
		{"/static/app.css", "text/css; charset=utf-8", ".tenants"},
		{"/static/vendor/uplot/uPlot.iife.min.js", "text/javascript; charset=utf-8", "uPlot (v1.6.32)"},
		{"/static/vendor/uplot/uPlot.min.css", "text/css; charset=utf-8", ".uplot"},
		{"/static/vendor/uplot/LICENSE", "text/plain; charset=utf-8", "MIT License"},
	}
	for _, c := range cases {
		resp := get(t, srv.URL+c.path, "")
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s needs no token", c.path)
		assert.Equal(t, c.contentType, resp.Header.Get("Content-Type"), "%s", c.path)
		assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), "%s", c.path)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Contains(t, string(body), c.contains, "%s", c.path)
	}

	page := get(t, srv.URL+"/", "")
	assert.Contains(t, page.Header.Get("Content-Security-Policy"), "script-src 'self'")
}

func TestStaticFileRevalidates(t *testing.T) {
	srv := newTestServer(t, newTestSource(nil))
	first := get(t, srv.URL+"/static/app.js", "")
	etag := first.Header.Get("ETag")
	require.NotEmpty(t, etag)

	req, err := http.NewRequest(http.MethodGet, srv.URL+"/static/app.js", nil)
	require.NoError(t, err)
	req.Header.Set("If-None-Match", etag)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusNotModified, resp.StatusCode)
}

func TestUnknownPathsAreNotFound(t *testing.T) {
	srv := newTestServer(t, newTestSource(nil))
	for _, path := range []string{"/index.html.bak", "/static/missing.js", "/api/other", "/v1/status"} {
		resp := get(t, srv.URL+path, testToken)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, "%s", path)
	}
}

func TestHandlerMountedUnderPrefix(t *testing.T) {
	mux := http.NewServeMux()
	h := Handler(newTestSource(newTestHistory(testStart, 1)))
	mux.Handle("GET /dashboard/", http.StripPrefix("/dashboard", h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	page := get(t, srv.URL+"/dashboard/", "")
	assert.Equal(t, http.StatusOK, page.StatusCode)
	body, err := io.ReadAll(page.Body)
	require.NoError(t, err)
	assert.True(t, strings.Contains(string(body), `src="static/app.js"`), "relative script URL")

	assert.Equal(t, http.StatusOK, get(t, srv.URL+"/dashboard/static/app.js", "").StatusCode)
	assert.Equal(t, http.StatusUnauthorized, get(t, srv.URL+"/dashboard/api/snapshot", "").StatusCode)
	assert.Equal(t, http.StatusOK, get(t, srv.URL+"/dashboard/api/snapshot", testToken).StatusCode)
}

func TestHandlerPanicsWithoutTokenCheck(t *testing.T) {
	src := newTestSource(nil)
	src.TokenValid = nil
	assert.PanicsWithValue(t, "dashboard: Source.TokenValid is nil; the data endpoints need the admin token check", func() { Handler(src) })
}
