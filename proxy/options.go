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
	// forwarded as they arrive instead of being read whole first.
	// Responses are always streamed. Default 1 MiB.
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
	}
	for _, d := range durations {
		if d.value < 0 {
			return fmt.Errorf("proxy: %s %s is negative", d.name, d.value)
		}
	}
	return nil
}
