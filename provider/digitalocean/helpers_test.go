package digitalocean

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/internal/testutil"
	"github.com/dflb/dflb/provider"
)

// testToken is a token that the tests look for in logs and errors.
const testToken = "dop_v1_7f3c2a9e41b8d6055e1a0c7d9b2f4e6a8c0d1e3f5a7b9c1d3e5f7a9b1c3d5e7f"

// testTokenEnv is the variable that the tests put the token into.
const testTokenEnv = "DFLB_TEST_DIGITALOCEAN_TOKEN"

// testClock is the provider's and the fake API's clock. sleep advances it
// at once instead of waiting, so a five-minute wait takes microseconds,
// and records each wait.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
	sleeps []time.Duration
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.offset += d
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	// A short real pause keeps polling loops from spinning a core.
	time.Sleep(50 * time.Microsecond)
	return ctx.Err()
}

func (c *testClock) recorded() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sleeps)
}

// healthServer replaces the DFM of every droplet. Its client sends
// each request, whatever the droplet address, to one loopback server and
// records the address that the provider asked for.
type healthServer struct {
	server *httptest.Server

	mu sync.Mutex
	// failures is how many probes of each host still fail with 503.
	failures map[string]int
	// down marks hosts whose probes always fail.
	down   map[string]bool
	probed []string
}

func newHealthServer(t *testing.T) *healthServer {
	h := &healthServer{failures: make(map[string]int), down: make(map[string]bool)}
	h.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.probed = append(h.probed, r.Host+r.URL.Path)
		fail := h.down[r.Host] || h.failures[r.Host] > 0
		if h.failures[r.Host] > 0 {
			h.failures[r.Host]--
		}
		h.mu.Unlock()
		if r.URL.Path != "/healthz" || fail {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	}))
	t.Cleanup(h.server.Close)
	return h
}

// client returns an HTTP client that dials the loopback server for every
// address, so that no request leaves the machine.
func (h *healthServer) client() *http.Client {
	target := h.server.Listener.Addr().String()
	return &http.Client{
		Timeout: time.Second,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, target)
			},
		},
	}
}

func (h *healthServer) probes() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.probed)
}

func (h *healthServer) setDown(host string, down bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.down[host] = down
}

func (h *healthServer) failNext(host string, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failures[host] = n
}

// testEnv is a Provider with the fake API, the health server, the clock
// and the log that it writes.
type testEnv struct {
	p      *Provider
	api    *fakeAPI
	health *healthServer
	clock  *testClock
	log    *testutil.LogBuffer
}

// newTestEnv starts the fakes and returns a Provider for cluster "test".
// configure may change the configuration before New.
func newTestEnv(t *testing.T, configure func(*Config)) *testEnv {
	t.Setenv(testTokenEnv, testToken)
	env := &testEnv{clock: &testClock{}, log: &testutil.LogBuffer{}}
	env.api = newFakeAPI(t, env.clock, testToken)
	env.health = newHealthServer(t)

	cfg := Config{
		TokenEnv:       testTokenEnv,
		APIURL:         env.api.server.URL,
		Cluster:        "test",
		Region:         "nyc3",
		Size:           "s-1vcpu-1gb",
		Image:          "123456",
		VPCUUID:        fakeVPC,
		SSHKeys:        []string{"3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa", "289794"},
		Tags:           []string{"dflb-firewall"},
		RequestTimeout: 300 * time.Millisecond,
		HealthClient:   env.health.client(),
	}
	if configure != nil {
		configure(&cfg)
	}
	logger := slog.New(slog.NewTextHandler(env.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, err := New(cfg, logger)
	require.NoError(t, err)
	p.now = env.clock.now
	p.sleep = env.clock.sleep
	env.p = p
	return env
}

// testSpec returns the spec of instance name as DFLB's launcher sends it.
func testSpec(name string) provider.Spec {
	return provider.Spec{
		Name: name,
		Bootstrap: provider.Bootstrap{
			NotifyURL: "http://10.116.0.100:9090/v1/notifications",
			Secret:    "f00dfeedcafe0123456789abcdef0123456789abcdef0123",
		},
	}
}

// testContext bounds a test in real time, far above what the tests need.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
