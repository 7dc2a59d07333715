package broker

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Test credentials and the variables that carry them.
const (
	testUsernameEnv = "DFLB_TEST_BROKER_USERNAME"
	testPasswordEnv = "DFLB_TEST_BROKER_PASSWORD"
	testUsername    = "marketplace"
	testPassword    = "pw-7f3a9c1e5b"
	testServiceID   = "0d5a1f2e-6c1b-4f47-9f0e-2f8d8c3b1a01"
	testFreePlanID  = "4c1e9a3b-2d7f-4e58-8a61-b0c2d9e4f102"
	testProPlanID   = "9b7d5e3c-1a2f-4b68-9c70-d1e3f5a7b203"
	testAPIVersion  = "2.17"
	// fakeDelay is how long the fake manager takes to create, move or
	// remove a tenant.
	fakeDelay = 100 * time.Millisecond
)

var (
	freeLimits = Limits{Rate: 10, Burst: 20, MaxConcurrent: 4}
	proLimits  = Limits{Rate: 500, Burst: 1000, MaxConcurrent: 64, MaxQueued: 128}
)

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.ServiceID = testServiceID
	cfg.UsernameEnv = testUsernameEnv
	cfg.PasswordEnv = testPasswordEnv
	cfg.Plans = []Plan{
		{Name: "free", ID: testFreePlanID, Description: "Shared, rate limited", Limits: freeLimits, Weight: 1, Free: true},
		{Name: "pro", ID: testProPlanID, Description: "Higher limits", Limits: proLimits, Weight: 10},
	}
	return cfg
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newTestLogger() (*slog.Logger, *syncBuffer) {
	logs := &syncBuffer{}
	return slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), logs
}

// startOSB serves NewOSB(m, testConfig()) on a loopback port, with the test
// credentials in the environment.
func startOSB(t *testing.T, m Manager) (*osbClient, *syncBuffer) {
	t.Helper()
	t.Setenv(testUsernameEnv, testUsername)
	t.Setenv(testPasswordEnv, testPassword)
	logger, logs := newTestLogger()
	server := httptest.NewServer(NewOSB(m, testConfig(), logger))
	t.Cleanup(server.Close)
	return &osbClient{t: t, url: server.URL, username: testUsername, password: testPassword, version: testAPIVersion}, logs
}

// osbClient sends Open Service Broker API requests as a platform does.
type osbClient struct {
	t        *testing.T
	url      string
	username string
	password string
	// version is sent as X-Broker-API-Version unless empty.
	version string
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a map, for checking single fields.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal(r.body, &v), "body: %s", r.body)
	return v
}

func (c *osbClient) do(method, path string, body any) response {
	c.t.Helper()
	req := newRequest(c.t, method, c.url+path, body)
	if c.username != "" || c.password != "" {
		req.SetBasicAuth(c.username, c.password)
	}
	if c.version != "" {
		req.Header.Set(apiVersionHeader, c.version)
	}
	return send(c.t, req)
}

// tenantClient sends tenant API requests.
type tenantClient struct {
	t   *testing.T
	url string
}

func startTenantAPI(t *testing.T, m Manager) (*tenantClient, *syncBuffer) {
	t.Helper()
	logger, logs := newTestLogger()
	server := httptest.NewServer(NewTenantAPI(m, testConfig().TenantPlans(), logger))
	t.Cleanup(server.Close)
	return &tenantClient{t: t, url: server.URL}, logs
}

func (c *tenantClient) do(method, path string, body any) response {
	c.t.Helper()
	return send(c.t, newRequest(c.t, method, c.url+path, body))
}

// newRequest builds a request. A string body is sent as it is, any other
// non-nil body as JSON.
func newRequest(t *testing.T, method, url string, body any) *http.Request {
	t.Helper()
	var reader io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		reader = bytes.NewBufferString(b)
	default:
		encoded, err := json.Marshal(b)
		require.NoError(t, err)
		reader = bytes.NewReader(encoded)
	}
	req, err := http.NewRequest(method, url, reader)
	require.NoError(t, err)
	if reader != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

func send(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// newLoopbackServer serves h on a loopback port and returns its URL.
func newLoopbackServer(t *testing.T, h http.Handler) string {
	t.Helper()
	server := httptest.NewServer(h)
	t.Cleanup(server.Close)
	return server.URL
}
