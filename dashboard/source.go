package dashboard

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/dflb/dflb/controlplane"
)

// Source is the dashboard's data and its authentication. The caller fills
// it once and passes it to Handler, which calls the funcs for every data
// request, from many goroutines at once.
type Source struct {
	// Status returns the current operator view, as GET /v1/status builds
	// it: instances, tenants, Managed and Decisions. Required.
	Status func() controlplane.Status
	// TokenValid reports whether r carries the admin token, for example
	// bearer.Valid(r, token). Required: the data endpoints return 401 for
	// every request it rejects.
	TokenValid func(r *http.Request) bool
	// Alerts returns the active alerts as a JSON-able list, such as
	// alert.Manager's Active. Nil, or a nil result, shows no alerts.
	Alerts func() any
	// History feeds the charts. Nil shows no charts and makes
	// GET /api/history return 404.
	History *History
	// Done ends every event stream when closed, so that an HTTP server's
	// Shutdown, which waits for open requests, need not wait for them.
	// Nil leaves streams open until their client leaves.
	Done <-chan struct{}
	// EventInterval is the time between two snapshots on the event
	// stream. Zero means 2s.
	EventInterval time.Duration
	// MaxStreams caps the event streams open at once, because each one
	// builds a snapshot per EventInterval. Further clients get 503. Zero
	// means 16.
	MaxStreams int
	// Logger receives rejected requests and failed writes. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// Defaults of Source.
const (
	defaultEventInterval = 2 * time.Second
	defaultMaxStreams    = 16
)
