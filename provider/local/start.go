package local

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"time"
)

// child is a DFM process that this Provider started.
type child struct {
	pid     int
	done    chan struct{} // closed when the process has exited and been reaped
	err     error         // the result of Wait, valid after done is closed
	healthy atomic.Bool   // set once /healthz has returned 200
}

// child returns the DFM process that this Provider started for the
// instance and has not yet seen exit, or nil.
func (p *Provider) child(name string) *child {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.children[name]
}

// startDFM starts DFM for the instance in a new session, so that it
// outlives this process and a signal to DFLB's process group does not
// reach it. The secret goes only into DFM's environment.
func (p *Provider) startDFM(m meta, secret string) (*child, error) {
	logFile, err := os.OpenFile(p.logPath(m.Name), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the DFM log: %w", err)
	}
	defer logFile.Close() // DFM has its own copy of the descriptor after Start.

	cmd := exec.Command(p.cfg.Binary, "-config", p.configPath(m.Name))
	cmd.Dir = p.dir(m.Name)
	cmd.Env = dfmEnv(secret)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w (check local.Config.Binary)", p.cfg.Binary, err)
	}

	c := &child{pid: cmd.Process.Pid, done: make(chan struct{})}
	p.mu.Lock()
	p.children[m.Name] = c
	p.mu.Unlock()

	// Reaping the child keeps it from lingering as a zombie, which would
	// look alive to kill(pid, 0).
	go func() {
		c.err = cmd.Wait()
		p.mu.Lock()
		if p.children[m.Name] == c {
			delete(p.children, m.Name)
		}
		p.mu.Unlock()
		close(c.done)
		p.log.Info("DFM exited", "instance", m.Name, "pid", c.pid, "result", exitResult(c.err))
	}()

	p.log.Info("started DFM", "instance", m.Name, "pid", c.pid, "address", m.Address)
	return c, nil
}

// dfmEnv returns DFM's environment: a few variables that programs expect,
// and the secret. The rest of DFLB's environment is left out because it
// can contain DFLB's own secrets, and DFM passes its environment on to the
// components.
func dfmEnv(secret string) []string {
	env := []string{tokenEnv + "=" + secret}
	for _, key := range []string{"PATH", "HOME", "USER", "TMPDIR", "TZ", "LANG", "LC_ALL"} {
		if value, ok := os.LookupEnv(key); ok {
			env = append(env, key+"="+value)
		}
	}
	return env
}

func exitResult(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// healthPollInterval is the time between two /healthz requests while the
// provider waits for DFM to start.
const healthPollInterval = 100 * time.Millisecond

// waitHealthy polls DFM's /healthz until it returns 200, DFM exits or ctx
// ends.
func (p *Provider) waitHealthy(ctx context.Context, m meta, c *child) error {
	ticker := time.NewTicker(healthPollInterval)
	defer ticker.Stop()
	for {
		err := p.probe(ctx, m.Address)
		if err == nil {
			p.log.Info("DFM is healthy", "instance", m.Name, "pid", c.pid, "address", m.Address)
			return nil
		}
		select {
		case <-c.done:
			return &startError{exited: true, err: fmt.Errorf("DFM exited before /healthz returned 200 (%s)", exitResult(c.err))}
		case <-ctx.Done():
			return &startError{err: fmt.Errorf("DFM /healthz timed out: %w (last probe: %v)", ctx.Err(), err)}
		case <-ticker.C:
		}
	}
}

// startError is a failed start. exited means that DFM exited on its own,
// which retrying does not fix.
type startError struct {
	exited bool
	err    error
}

func (e *startError) Error() string { return e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

// newHealthClient returns the client for /healthz. Keep-alive is off
// because a restarted DFM makes every pooled connection stale, and a proxy
// from the environment must not see loopback requests.
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

// probe sends one GET /healthz to the DFM at address.
func (p *Provider) probe(ctx context.Context, address string) error {
	url := p.dfmURL(address) + "/healthz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := p.health.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return nil
}
