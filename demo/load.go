package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Load sends GET requests for tenants through DFLB and counts the outcome:
// sent, failed (a transport error or a status other than 200 and 421) and
// misrouted (421, the sample component's response to a tenant it is not
// configured for). Each tenant has its own clients, whose pace can change
// while they run.
type Load struct {
	addr   string
	client *http.Client

	sent, failed, misrouted atomic.Int64
	lastFailure             atomic.Value // string

	mu      sync.Mutex
	tenants map[string]*tenantLoad
	wg      sync.WaitGroup
}

// tenantLoad is the pace of one tenant's clients, in nanoseconds between
// two requests of one client; 0 sends back to back.
type tenantLoad struct {
	pace atomic.Int64
}

// maxRequestsPerClient bounds every client, whatever the demo's length.
const maxRequestsPerClient = 1_000_000

// NewLoad returns a Load that sends its requests to the proxy at addr.
func NewLoad(addr string) *Load {
	return &Load{
		addr: addr,
		client: &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 64},
		},
		tenants: map[string]*tenantLoad{},
	}
}

// Start runs clients for tenant, each waiting pace between requests,
// until ctx ends.
func (l *Load) Start(ctx context.Context, tenant string, clients int, pace time.Duration) {
	tl := &tenantLoad{}
	tl.pace.Store(int64(pace))
	l.mu.Lock()
	l.tenants[tenant] = tl
	l.mu.Unlock()

	for range clients {
		l.wg.Go(func() {
			for n := 0; n < maxRequestsPerClient && ctx.Err() == nil; n++ {
				l.once(ctx, tenant)
				if p := time.Duration(tl.pace.Load()); p > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(p):
					}
				}
			}
		})
	}
}

// SetPace changes the pace of tenant's clients.
func (l *Load) SetPace(tenant string, pace time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if tl, ok := l.tenants[tenant]; ok {
		tl.pace.Store(int64(pace))
	}
}

// Wait waits for every client to stop, which they do when their context
// ends.
func (l *Load) Wait() { l.wg.Wait() }

// Summary returns the counts so far.
func (l *Load) Summary() (sent, failed, misrouted int64) {
	return l.sent.Load(), l.failed.Load(), l.misrouted.Load()
}

// LastFailure describes the last failed request, or "" when none failed.
func (l *Load) LastFailure() string {
	s, _ := l.lastFailure.Load().(string)
	return s
}

func (l *Load) once(ctx context.Context, tenant string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+l.addr+"/", nil)
	if err != nil {
		l.fail(fmt.Sprintf("%s: building request: %v", tenant, err))
		return
	}
	req.Host = tenant + ".apps.localhost"

	resp, err := l.client.Do(req)
	if ctx.Err() != nil {
		return // The demo ended before the response.
	}
	l.sent.Add(1)
	if err != nil {
		l.fail(fmt.Sprintf("%s: %v", tenant, err))
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))

	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusMisdirectedRequest:
		l.misrouted.Add(1)
		var doc struct{ Instance string }
		_ = json.Unmarshal(body, &doc)
		l.lastFailure.Store(fmt.Sprintf("%s: misrouted to %s", tenant, doc.Instance))
	default:
		l.fail(fmt.Sprintf("%s: status %d: %s", tenant, resp.StatusCode, body))
	}
}

func (l *Load) fail(what string) {
	l.failed.Add(1)
	l.lastFailure.Store(what)
}
