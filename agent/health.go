package agent

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// readinessPoll is the wait between readiness checks of a starting
// component. It is shorter than the health interval so that a component
// counts as up soon after it listens.
const readinessPoll = 100 * time.Millisecond

// healthChecker checks one component.
type healthChecker struct {
	cfg    HealthConfig
	addr   string // host:port, empty when the component has no port
	client *http.Client
}

func newHealthChecker(cfg HealthConfig, host string, port int) *healthChecker {
	h := &healthChecker{cfg: cfg}
	if port != 0 {
		h.addr = net.JoinHostPort(host, strconv.Itoa(port))
	}
	h.client = &http.Client{
		// A fresh connection per check, so that a check also proves the
		// component still accepts connections.
		Transport: &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return h
}

// check returns nil when the component is healthy.
func (h *healthChecker) check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()

	switch {
	case h.addr == "":
		return nil
	case h.cfg.Path == "":
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", h.addr)
		if err != nil {
			return fmt.Errorf("connect to %s: %w", h.addr, err)
		}
		return conn.Close()
	}

	url := "http://" + h.addr + h.cfg.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("health check %s: %w", url, err)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("health check GET %s: status %d", url, resp.StatusCode)
	}
	return nil
}

// probeResult is a prober's report to its supervisor.
type probeResult struct {
	gen     int   // spawn generation of the checked process
	ready   bool  // true: first passed check; false: unhealthy
	lastErr error // the last failed check when ready is false
	fails   int
}

// probe checks the process of generation gen until ctx ends. It checks every
// readinessPoll until the first check passes, which it reports as ready,
// then every Interval until FailureThreshold checks in a row fail, which it
// reports as unhealthy before it returns.
func (h *healthChecker) probe(ctx context.Context, gen int, report func(probeResult)) {
	if h.addr == "" {
		// Without a port the only sign of health is a running process. It
		// must run for one interval before it counts as up, so that a
		// process that exits at once is not reported up and down in turn.
		if sleepCtx(ctx, h.cfg.Interval) {
			report(probeResult{gen: gen, ready: true})
		}
		return
	}
	for {
		if h.check(ctx) == nil {
			report(probeResult{gen: gen, ready: true})
			break
		}
		if !sleepCtx(ctx, readinessPoll) {
			return
		}
	}

	fails := 0
	for sleepCtx(ctx, h.cfg.Interval) {
		err := h.check(ctx)
		if err == nil {
			fails = 0
			continue
		}
		if ctx.Err() != nil {
			return
		}
		fails++
		if fails >= h.cfg.FailureThreshold {
			report(probeResult{gen: gen, lastErr: err, fails: fails})
			return
		}
	}
}

// sleepCtx waits d and reports false when ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
