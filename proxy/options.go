package proxy

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/dflb/dflb/balancer"
)

// Defaults for Options fields left at zero.
const (
	DefaultMaxHeaderBytes        = 16 << 10
	DefaultMaxBodyBytes          = 1 << 30
	DefaultStreamThreshold       = 1 << 20
	DefaultConnectTimeout        = 2 * time.Second
	DefaultResponseHeaderTimeout = 60 * time.Second
	DefaultClientIdleTimeout     = 60 * time.Second
	DefaultClientReadTimeout     = 60 * time.Second
	DefaultWriteTimeout          = 60 * time.Second
	DefaultUpstreamIdleTimeout   = 4 * time.Second
	DefaultMaxConnsPerBackend    = 1024
	DefaultRetryAttempts         = 2
	DefaultTryInterval           = 100 * time.Millisecond
	DefaultTenantQueueTimeout    = 100 * time.Millisecond
	DefaultShutdownGrace         = 30 * time.Second
	DefaultForwardedProto        = "http"

	// upstreamReadBufferSize bounds a backend's response head. Larger heads
	// fail the exchange and the client gets 502.
	upstreamReadBufferSize = 16 << 10
)

// Options configures a Proxy. Zero values select the documented defaults.
type Options struct {
	// Balance chooses among a route's targets. Default: least in-flight.
	Balance balancer.Policy

	// TrustedProxies lists peers whose X-Forwarded-For is kept and appended
	// to. From any other peer the header is replaced by the peer's address.
	// Default: none, which suits an edge listener.
	TrustedProxies []netip.Prefix

	// ForwardedProto is sent as X-Forwarded-Proto. Default "http".
	ForwardedProto string

	// MaxHeaderBytes bounds the request line plus headers; a larger head gets
	// 431. Default 16 KiB.
	MaxHeaderBytes int

	// MaxBodyBytes bounds a request body; a larger one gets 413. Default 1 GiB.
	MaxBodyBytes int64

	// StreamThreshold is the body size above which request bodies are
	// forwarded as they arrive instead of being read whole first. Default
	// 1 MiB. Response bodies are read whole up to 64 KiB, by their
	// Content-Length, and streamed otherwise.
	StreamThreshold int

	// ConnectTimeout bounds a TCP connect to a backend; past it the client
	// gets 504. Default 2 s.
	ConnectTimeout time.Duration

	// ResponseHeaderTimeout bounds the wait for each read from a backend,
	// the response head included; past it the client gets 504. Default 60 s.
	ResponseHeaderTimeout time.Duration

	// ClientIdleTimeout closes a client keep-alive connection that carried no
	// request for this long. Default 60 s.
	ClientIdleTimeout time.Duration

	// ClientReadTimeout bounds reading one whole request, body included.
	// Default 60 s.
	ClientReadTimeout time.Duration

	// WriteTimeout bounds each write to a client and to a backend. Default 60 s.
	WriteTimeout time.Duration

	// UpstreamIdleTimeout closes pooled backend connections idle this long.
	// Keep it below every backend's own keep-alive timeout so that the proxy
	// never reuses a connection the backend is closing. Default 4 s.
	UpstreamIdleTimeout time.Duration

	// MaxConnsPerBackend caps the connections to one backend. A request that
	// finds them all busy waits up to ConnectTimeout, then gets 503.
	// Default 1024.
	MaxConnsPerBackend int

	// RetryAttempts is the number of backends an idempotent request may try
	// when a connect fails or a backend drops the connection. Default 2; 1
	// disables retries.
	RetryAttempts int

	// TryDuration is how long after its arrival a request keeps trying to
	// reach a backend of its route when none is available or every attempt
	// failed to connect. It tries again every TryInterval and looks its
	// route up again each time, so a route switched meanwhile is used.
	// Connect failures and "no backend" are retried whatever the method,
	// because no backend received the request. A lost connection is retried
	// only for an idempotent request whose body was not streamed, and
	// timeouts and busy connection pools never are. Once TryDuration has
	// passed the client gets what it would have got at once: 503 with
	// Retry-After, or 502. Backends marked down stay out of rotation for
	// their cool-off, so a restarted backend is found within TryDuration
	// only after the cool-off ends or its instance reports it up. Waiting
	// requests stop at once when Shutdown starts. WebSocket upgrades do not
	// wait. Default 0: no waiting, each request gets one round of at most
	// RetryAttempts attempts.
	TryDuration time.Duration

	// TryInterval is the pause between two rounds of attempts within
	// TryDuration. Default 100 ms, minimum 1 ms.
	TryInterval time.Duration

	// MaxConns caps the client connections open at once over all the
	// proxy's listeners, WebSocket tunnels included. A connection over the
	// cap is not served: once its request head is read it gets "503
	// Service Unavailable" with Retry-After: 1 and a one-line body, and it
	// is closed when the client closes it or 1 s after it was accepted.
	// When 64 such rejections are in progress, further connections over
	// the cap are closed without a response. Default 0: no cap beyond
	// fasthttp's Server.Concurrency default of 262,144.
	MaxConns int

	// TenantQueueTimeout bounds how long a request over its tenant's
	// TenantLimit.MaxConcurrent waits for a slot before it gets 503 with
	// Retry-After. A negative value rejects such requests without waiting.
	// Default 100 ms. The limits themselves are set with
	// Proxy.SetTenantLimits.
	TenantQueueTimeout time.Duration

	// ShutdownGrace bounds the drain on Shutdown. Default 30 s.
	ShutdownGrace time.Duration
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.ForwardedProto == "" {
		o.ForwardedProto = DefaultForwardedProto
	}
	if o.MaxHeaderBytes == 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.StreamThreshold == 0 {
		o.StreamThreshold = DefaultStreamThreshold
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.ResponseHeaderTimeout == 0 {
		o.ResponseHeaderTimeout = DefaultResponseHeaderTimeout
	}
	if o.ClientIdleTimeout == 0 {
		o.ClientIdleTimeout = DefaultClientIdleTimeout
	}
	if o.ClientReadTimeout == 0 {
		o.ClientReadTimeout = DefaultClientReadTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.UpstreamIdleTimeout == 0 {
		o.UpstreamIdleTimeout = DefaultUpstreamIdleTimeout
	}
	if o.MaxConnsPerBackend == 0 {
		o.MaxConnsPerBackend = DefaultMaxConnsPerBackend
	}
	if o.RetryAttempts == 0 {
		o.RetryAttempts = DefaultRetryAttempts
	}
	if o.ShutdownGrace == 0 {
		o.ShutdownGrace = DefaultShutdownGrace
	}
	if o.TryInterval == 0 {
		o.TryInterval = DefaultTryInterval
	}
	if o.TenantQueueTimeout == 0 {
		o.TenantQueueTimeout = DefaultTenantQueueTimeout
	}
	return o
}

// validate rejects values that no default can fix.
func (o Options) validate() error {
	if o.MaxHeaderBytes < 1024 {
		return fmt.Errorf("proxy: max header bytes %d is below 1024: raise it", o.MaxHeaderBytes)
	}
	if o.MaxBodyBytes < 0 {
		return fmt.Errorf("proxy: max body bytes %d is negative", o.MaxBodyBytes)
	}
	if o.StreamThreshold < 0 {
		return fmt.Errorf("proxy: stream threshold %d is negative", o.StreamThreshold)
	}
	if o.RetryAttempts < 1 || o.RetryAttempts > 64 {
		return fmt.Errorf("proxy: retry attempts %d is outside 1..64", o.RetryAttempts)
	}
	if o.TryInterval < time.Millisecond {
		return fmt.Errorf("proxy: try interval %s is below 1ms: raise it", o.TryInterval)
	}
	if o.MaxConns < 0 {
		return fmt.Errorf("proxy: max conns %d is negative: set 0 for no cap", o.MaxConns)
	}
	if o.MaxConnsPerBackend < 1 {
		return fmt.Errorf("proxy: max conns per backend %d must be at least 1", o.MaxConnsPerBackend)
	}
	durations := []struct {
		name  string
		value time.Duration
	}{
		{"connect timeout", o.ConnectTimeout},
		{"response header timeout", o.ResponseHeaderTimeout},
		{"client idle timeout", o.ClientIdleTimeout},
		{"client read timeout", o.ClientReadTimeout},
		{"write timeout", o.WriteTimeout},
		{"upstream idle timeout", o.UpstreamIdleTimeout},
		{"shutdown grace", o.ShutdownGrace},
		{"try duration", o.TryDuration},
	}
	for _, d := range durations {
		if d.value < 0 {
			return fmt.Errorf("proxy: %s %s is negative", d.name, d.value)
		}
	}
	return nil
}
