// Package config loads the DFLB configuration from a YAML file.
//
// Decoding is strict: an unknown key, a value of the wrong type or a value that
// fails validation is an error that names the file, the line and the key.
// Parse fills defaults for missing keys and then calls Validate.
package config

import (
	"net/netip"
	"slices"
	"time"

	"github.com/dflb/dflb/alert"
	"github.com/dflb/dflb/broker"
	"github.com/dflb/dflb/internal/strictyaml"
	"github.com/dflb/dflb/tenant"
)

// Values of Proxy.Balance.
const (
	BalanceLeastInflight = "least_inflight"
	BalanceRoundRobin    = "round_robin"
)

// Config is the whole DFLB configuration.
type Config struct {
	// Listen is the host:port of the edge listener. Port 0 picks a free port.
	// Default: 127.0.0.1:8080.
	Listen string
	// Admin configures the admin listener.
	Admin Admin
	// Proxy configures request forwarding.
	Proxy Proxy
	// Routing configures how a request finds its tenant and component.
	Routing Routing
	// Components are the known component names, lower-case DNS labels.
	// Default: [app].
	Components []string
	// Instances are the statically configured instances. Default: none.
	Instances []Instance
	// Provider selects where instances come from. Default: static.
	Provider Provider
	// Autoscale configures scaling and repair of provider-made instances.
	Autoscale Autoscale
	// Broker configures the tenant plans and the Open Service Broker
	// endpoint, which is on when service_id is set.
	Broker broker.Config
	// Alerts configures alert rules and where alerts go. Default: every
	// rule on, no sink, so alerts reach the log only.
	Alerts alert.Config

	origin *strictyaml.Lines // lines of the parsed values for error messages, or nil when not parsed
}

// Admin configures the admin listener, which serves /metrics and /healthz.
type Admin struct {
	// Listen is the host:port of the admin listener. Port 0 picks a free port.
	// Default: 127.0.0.1:9090.
	Listen string
	// TokenEnv is the name of the environment variable that contains the bearer
	// token for /metrics. /healthz needs no token. Default: DFLB_ADMIN_TOKEN.
	TokenEnv string
	// TenantLabelCap is how many of the busiest tenants get their own
	// tenant label in /metrics; the others are summed as tenant="other",
	// so that the number of series stays bounded. 0 sets no cap.
	// Default: 100.
	TenantLabelCap int
}

// Proxy configures request forwarding. Sizes are in bytes.
type Proxy struct {
	// Balance is the backend selection policy: least_inflight or round_robin.
	// Default: least_inflight.
	Balance string
	// TrustedProxies are the networks whose X-Forwarded-For the proxy appends
	// to. From other clients the header is replaced. Default: none.
	TrustedProxies []netip.Prefix
	// ForwardedProto is the X-Forwarded-Proto value sent to backends: http or
	// https. Default: http.
	ForwardedProto string
	// MaxHeaderBytes is the maximum size of a request head. A larger head gets
	// 431. It must be between 1 KiB and 1 MiB because every client connection
	// has a read buffer of this size. Default: 16 KiB.
	MaxHeaderBytes int64
	// MaxBodyBytes is the maximum size of a request body. A larger body gets
	// 413. Default: 1 GiB.
	MaxBodyBytes int64
	// StreamThreshold is the size above which request bodies are streamed
	// instead of buffered. Response bodies are streamed above 64 KiB.
	// Default: 1 MiB.
	StreamThreshold int64
	// ConnectTimeout is the maximum time to connect to a backend. Default: 2s.
	ConnectTimeout time.Duration
	// ResponseHeaderTimeout is the maximum time from sending a request until the
	// first response byte. When it expires the client gets 504. Default: 60s.
	ResponseHeaderTimeout time.Duration
	// ClientIdleTimeout is the maximum idle time of a keep-alive client
	// connection. Default: 60s.
	ClientIdleTimeout time.Duration
	// ClientReadTimeout is the maximum time to read a whole request. Default: 60s.
	ClientReadTimeout time.Duration
	// WriteTimeout is the maximum time to write a response to the client.
	// Default: 60s.
	WriteTimeout time.Duration
	// UpstreamIdleTimeout is the maximum idle time of a keep-alive backend
	// connection. Default: 4s.
	UpstreamIdleTimeout time.Duration
	// MaxConnsPerBackend is the maximum number of connections to one backend.
	// Default: 1024.
	MaxConnsPerBackend int
	// RetryAttempts is the total number of backends an idempotent request may
	// try when a connect fails or a backend drops the connection. Default: 2.
	RetryAttempts int
	// PassiveFailures is the number of consecutive failed, timed-out or
	// dropped connections that mark a backend down. Default: 3.
	PassiveFailures int
	// PassiveCooloff is how long a backend stays down after PassiveFailures.
	// Default: 10s.
	PassiveCooloff time.Duration
	// ShutdownGrace is the maximum time to drain requests after SIGTERM.
	// Default: 30s.
	ShutdownGrace time.Duration
	// TryDuration is how long after its arrival a request that cannot
	// have reached a backend yet (none available, or connects refused)
	// keeps looking for one, each round on the current routing table, so
	// that a component restarting or a tenant moving costs latency, not
	// an error. 0 answers at once. Default: 5s.
	TryDuration time.Duration
	// TryInterval is the pause between two such rounds. Default: 100ms.
	TryInterval time.Duration
	// SlowStart is the time over which a backend that comes back, or that
	// joins an existing route, ramps up from no share of the traffic to
	// its full share. 0 gives it the full share at once. Default: 5s.
	SlowStart time.Duration
	// MaxConns caps the client connections of the edge listener; past it
	// a connection gets 503. 0 sets no cap. Default: 0.
	MaxConns int
	// TenantQueueTimeout is how long a request over its tenant's
	// concurrency limit waits for a slot before 503. Default: 100ms.
	TenantQueueTimeout time.Duration
}

// Routing configures how a request finds its tenant and component.
type Routing struct {
	// TenantRules are tried in order, and the first one that matches decides
	// the tenant. Default: host "{tenant}.apps.localhost", then path
	// "/t/{tenant}/" with strip, then header X-Tenant-ID.
	TenantRules []tenant.Rule
	// ComponentRules are tried in order for requests whose tenant rule has no
	// {component} placeholder. Default: none.
	ComponentRules []tenant.ComponentRule
	// DefaultComponent is the component of requests that no placeholder or
	// component rule assigns. Default: the first of Config.Components.
	DefaultComponent string
}

// Instance is one machine that serves tenants.
type Instance struct {
	// ID identifies the instance in logs and metrics: 1 to 128 bytes of
	// letters, digits, '.', '_' and '-'. Required.
	ID string
	// Components maps a component name to the host:port where this instance
	// serves it. At least one is required.
	Components map[string]string
	// Tenants are the lower-case IDs of the tenants this instance serves.
	// Default: none.
	Tenants []string
}

// Default returns the configuration of an empty file.
func Default() *Config {
	c := &Config{
		Listen: "127.0.0.1:8080",
		Admin: Admin{
			Listen:         "127.0.0.1:9090",
			TokenEnv:       "DFLB_ADMIN_TOKEN",
			TenantLabelCap: 100,
		},
		Proxy: Proxy{
			Balance:               BalanceLeastInflight,
			ForwardedProto:        "http",
			MaxHeaderBytes:        16 << 10,
			MaxBodyBytes:          1 << 30,
			StreamThreshold:       1 << 20,
			ConnectTimeout:        2 * time.Second,
			ResponseHeaderTimeout: 60 * time.Second,
			ClientIdleTimeout:     60 * time.Second,
			ClientReadTimeout:     60 * time.Second,
			WriteTimeout:          60 * time.Second,
			UpstreamIdleTimeout:   4 * time.Second,
			MaxConnsPerBackend:    1024,
			RetryAttempts:         2,
			PassiveFailures:       3,
			PassiveCooloff:        10 * time.Second,
			ShutdownGrace:         30 * time.Second,
			TryDuration:           5 * time.Second,
			TryInterval:           100 * time.Millisecond,
			SlowStart:             5 * time.Second,
			TenantQueueTimeout:    100 * time.Millisecond,
		},
		Routing: Routing{
			TenantRules: []tenant.Rule{
				{Host: "{tenant}.apps.localhost"},
				{Path: "/t/{tenant}/", Strip: true},
				{Header: "X-Tenant-ID"},
			},
		},
		Components: []string{"app"},
		Provider:   defaultProvider(),
		Autoscale:  defaultAutoscale(),
		Alerts:     alert.DefaultConfig(),
		Broker:     defaultBroker(),
	}
	c.fillDerivedDefaults()
	return c
}

// fillDerivedDefaults sets the defaults that depend on other values.
func (c *Config) fillDerivedDefaults() {
	if c.Routing.DefaultComponent == "" && len(c.Components) > 0 {
		c.Routing.DefaultComponent = c.Components[0]
	}
}

// TenantConfig returns the tenant.Config for a tenant.Extractor. The slices
// are copies, so changing them does not change c.
func (c *Config) TenantConfig() tenant.Config {
	return tenant.Config{
		Rules:            slices.Clone(c.Routing.TenantRules),
		ComponentRules:   slices.Clone(c.Routing.ComponentRules),
		DefaultComponent: c.Routing.DefaultComponent,
		Components:       slices.Clone(c.Components),
	}
}
