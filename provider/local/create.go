package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/dflb/dflb/provider"
)

// Create starts the instance spec.Name and waits until its DFM's /healthz
// returns 200. An instance whose DFM runs is returned as it is, without
// checking that it matches spec. An instance whose DFM does not run gets
// a new dfm.yaml from spec and is started again at its old address.
//
// When ctx ends before DFM is healthy, Create kills what it started and
// returns an error that names the instance and its log file. The instance
// directory stays, so that the log can be read, until Delete.
func (p *Provider) Create(ctx context.Context, spec provider.Spec) (provider.Instance, error) {
	const op = "create"
	if err := validateSpec(spec); err != nil {
		return provider.Instance{}, opError(provider.KindPermanent, op, spec.Name, err)
	}
	unlock, err := p.locks.lock(ctx, spec.Name)
	if err != nil {
		return provider.Instance{}, opError(provider.KindTransient, op, spec.Name, err)
	}
	defer unlock()
	p.setSecret(spec.Name, spec.Bootstrap.Secret)

	m, err := p.readMeta(spec.Name)
	switch {
	case err == nil:
		if ps := p.findProcesses(spec.Name); ps.dfm != 0 {
			p.log.Info("instance exists", "instance", m.Name, "pid", ps.dfm, "address", m.Address)
			return p.observe(ctx, m), nil
		}
		p.log.Info("starting the stopped instance again", "instance", m.Name, "address", m.Address)
	case errors.Is(err, fs.ErrNotExist):
		m, err = p.reserve(ctx, spec)
		if err != nil {
			return provider.Instance{}, err
		}
	default:
		return provider.Instance{}, opError(provider.KindPermanent, op, spec.Name, err)
	}

	config, err := p.renderDFMConfig(m, spec.Bootstrap.NotifyURL)
	if err == nil {
		err = writeFileAtomic(p.configPath(m.Name), config, 0o644)
	}
	if err != nil {
		return provider.Instance{}, opError(provider.KindPermanent, op, m.Name, err)
	}
	if err := p.start(ctx, m, spec.Bootstrap.Secret); err != nil {
		return provider.Instance{}, startOpError(op, m.Name, err)
	}
	return p.instance(m, provider.StateActive), nil
}

// reserve creates the instance directory and instance.json with the
// lowest free address.
func (p *Provider) reserve(ctx context.Context, spec provider.Spec) (meta, error) {
	const op = "create"
	unlock, err := p.lockRoot(ctx)
	if err != nil {
		return meta{}, opError(provider.KindTransient, op, spec.Name, err)
	}
	defer unlock()

	address, err := p.freeAddress()
	if err != nil {
		return meta{}, opError(provider.KindPermanent, op, spec.Name, err)
	}
	m := meta{
		ID:      spec.Name,
		Name:    spec.Name,
		Tags:    append([]string(nil), spec.Tags...),
		Address: address,
		Created: time.Now().UTC().Truncate(time.Second),
	}
	if err := ensureDir(p.dir(m.Name)); err != nil {
		return meta{}, opError(provider.KindPermanent, op, spec.Name, err)
	}
	if err := p.writeMeta(m); err != nil {
		return meta{}, opError(provider.KindPermanent, op, spec.Name, err)
	}
	p.log.Info("reserved instance address", "instance", m.Name, "address", address)
	return m, nil
}

// start removes what is left of an earlier run, starts DFM and waits until
// it is healthy. On failure it kills what it started.
func (p *Provider) start(ctx context.Context, m meta, secret string) error {
	// Components that outlived a killed DFM would hold the ports.
	if err := p.killAll(ctx, m.Name); err != nil {
		return err
	}
	c, err := p.startDFM(m, secret)
	if err != nil {
		return err
	}
	err = p.waitHealthy(ctx, m, c)
	if err == nil {
		c.healthy.Store(true)
		return nil
	}

	// ctx may have ended, but nothing this call started may keep running.
	if kerr := p.killAll(context.WithoutCancel(ctx), m.Name); kerr != nil {
		p.log.Error("killing the instance after a failed start failed", "instance", m.Name, "pid", c.pid, "error", kerr)
	}
	p.log.Error("starting DFM failed", "instance", m.Name, "pid", c.pid, "address", m.Address, "error", err)
	return fmt.Errorf("%w; see %s", err, p.logPath(m.Name))
}

// startOpError classifies a failed start: a DFM that exited by itself
// fails again the same way, while a timeout may pass.
func startOpError(op, name string, err error) error {
	var se *startError
	if errors.As(err, &se) && !se.exited {
		return opError(provider.KindTransient, op, name, err)
	}
	return opError(provider.KindPermanent, op, name, err)
}

func validateSpec(spec provider.Spec) error {
	var errs []error
	if err := validateName(spec.Name); err != nil {
		errs = append(errs, err)
	}
	if spec.Image != "" && spec.Image != DefaultImage {
		errs = append(errs, fmt.Errorf("unknown image %q: the local provider has only %q", spec.Image, DefaultImage))
	}
	if spec.Bootstrap.Secret == "" {
		errs = append(errs, errors.New("missing Bootstrap.Secret: DFM does not start without the shared secret, so set it"))
	} else if strings.ContainsRune(spec.Bootstrap.Secret, 0) {
		errs = append(errs, errors.New("Bootstrap.Secret contains a NUL byte, which an environment variable cannot carry"))
	}
	if spec.Bootstrap.NotifyURL != "" {
		u, err := url.Parse(spec.Bootstrap.NotifyURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("invalid Bootstrap.NotifyURL %q: use an absolute http or https URL", spec.Bootstrap.NotifyURL))
		}
	}
	return errors.Join(errs...)
}

func opError(kind provider.Kind, op, id string, err error) error {
	return &provider.Error{Kind: kind, Op: op, ID: id, Err: err}
}

// notFound returns an error that matches provider.ErrNotFound.
func (p *Provider) notFound(op, id string) error {
	return opError(provider.KindNotFound, op, id, fmt.Errorf("no instance named %q in %s", id, p.cfg.Root))
}

func (p *Provider) setSecret(name, secret string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.secrets[name] = secret
}

// secret returns the secret to start the instance with.
func (p *Provider) secret(name string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if secret, ok := p.secrets[name]; ok {
		return secret, nil
	}
	if p.cfg.Secret != "" {
		return p.cfg.Secret, nil
	}
	return "", errors.New("the secret of this instance is unknown to this Provider: call Create with its Spec, or set local.Config.Secret")
}

// removeDir deletes the instance directory once nothing runs in it.
func (p *Provider) removeDir(name string) error {
	if err := os.RemoveAll(p.dir(name)); err != nil {
		return fmt.Errorf("removing %s: %w", p.dir(name), err)
	}
	p.mu.Lock()
	delete(p.secrets, name)
	p.mu.Unlock()
	return nil
}
