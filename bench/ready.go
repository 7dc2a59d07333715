package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// probe is one HTTP request that must return 200 before a listener counts
// as ready.
type probe struct {
	url    string
	host   string // Host header; empty keeps the URL's host
	tenant string // X-Tenant-ID header; empty sends none
}

func (p probe) String() string {
	s := p.url
	if p.host != "" {
		s += " Host: " + p.host
	}
	if p.tenant != "" {
		s += " X-Tenant-ID: " + p.tenant
	}
	return s
}

// check sends the probe once and returns an error unless the status is 200.
func (p probe) check(ctx context.Context, client *http.Client) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return fmt.Errorf("build probe request %s: %w", p, err)
	}
	if p.host != "" {
		req.Host = p.host
	}
	if p.tenant != "" {
		req.Header.Set("X-Tenant-ID", p.tenant)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("probe %s returned %d: %q", p, resp.StatusCode, body)
	}
	return nil
}

// waitReady polls the probes every 50 ms until all return 200, the child
// exits or timeout passes. The error names the probe and the last failure.
func waitReady(ctx context.Context, c *child, timeout time.Duration, probes ...probe) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()

	for _, p := range probes {
		var last error
		for {
			if err := c.exited(); err != nil {
				return fmt.Errorf("%w before it responded; log %s ends with:\n%s", err, c.logPath, c.logTail(20))
			}
			last = p.check(ctx, client)
			if last == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s not ready after %s: %w; log %s ends with:\n%s",
					c.name, timeout, last, c.logPath, c.logTail(20))
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// checkPortsFree fails when one of the addresses already has a listener, so
// the run never measures a server that some other process left behind.
func checkPortsFree(addrs ...string) error {
	var errs []error
	for _, addr := range addrs {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("address %s is not free (%w): stop the process listening there, for example an earlier dflb-bench run", addr, err))
			continue
		}
		_ = ln.Close()
	}
	return errors.Join(errs...)
}
