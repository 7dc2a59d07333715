// Package digitalocean is a provider whose instances are DigitalOcean
// droplets, created from a snapshot that contains DFM and the component
// programs.
//
// The droplets themselves are the only record. Every droplet of a cluster
// carries the tag dflb-cluster:<cluster> and one tag
// dflb-instance:<cluster>:<name> for its instance name, so a new Provider,
// or a Create repeated after a lost response, finds the droplets that
// exist. Cloud-init user data writes DFM's configuration and starts the
// dfm.service systemd unit on first boot. DFLB reaches DFM and the
// components at the droplet's VPC address.
//
// The API client is godo without its built-in retries. This package
// repeats only the requests that are safe to repeat, and lists by the
// instance tag before it sends a create request again.
package digitalocean

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/digitalocean/godo"

	"github.com/dflb/dflb/provider"
)

// Provider runs instances as DigitalOcean droplets. It implements
// provider.Provider, and its methods are safe for concurrent use.
type Provider struct {
	cfg    Config
	log    *slog.Logger
	api    *godo.Client
	health *http.Client
	rate   rateState

	// createMu makes the droplet count and the create request of one
	// Create atomic within this process, so that concurrent calls neither
	// pass MaxDroplets together nor create the same instance twice.
	createMu sync.Mutex

	vpcMu sync.Mutex
	// vpcRange is the IP range of cfg.VPCUUID, read from the API once.
	vpcRange string

	// now and sleep are the clock; tests replace them to skip waits.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
	// pageSize is the number of droplets per listing page.
	pageSize int
}

var _ provider.Provider = (*Provider)(nil)

// maxPageSize is the largest per_page that the API accepts.
const maxPageSize = 200

// New checks cfg, fills its defaults, reads the API token from the
// environment variable cfg.TokenEnv and returns a Provider. It sends no
// request.
func New(cfg Config, logger *slog.Logger) (*Provider, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	token := strings.TrimSpace(os.Getenv(cfg.TokenEnv))
	if token == "" {
		return nil, fmt.Errorf("digitalocean: the environment variable %s is empty: set it to a DigitalOcean API token with read and write scope, or name another variable in provider.digitalocean.token_env", cfg.TokenEnv)
	}
	api, err := newAPIClient(cfg.APIURL, token)
	if err != nil {
		return nil, err
	}
	health := cfg.HealthClient
	if health == nil {
		health = newHealthClient(cfg.HealthRequestTimeout)
	}
	return &Provider{
		cfg:      cfg,
		log:      logger.With("logger", "provider/digitalocean", "cluster", cfg.Cluster),
		api:      api,
		health:   health,
		now:      time.Now,
		sleep:    sleepContext,
		pageSize: maxPageSize,
	}, nil
}

// newHealthClient returns the client for DFM's /healthz. Keep-alive is off
// because a rebooted droplet makes every pooled connection stale, and no
// proxy from the environment may see requests into the VPC.
func newHealthClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:             nil,
			DisableKeepAlives: true,
			DialContext:       (&net.Dialer{Timeout: timeout}).DialContext,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
