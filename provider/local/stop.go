package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/dflb/dflb/provider"
)

// Restart stops the instance gracefully and starts it again at the same
// address with the same dfm.yaml. It waits until DFM's /healthz returns
// 200.
func (p *Provider) Restart(ctx context.Context, id string) error {
	const op = "restart"
	m, unlock, err := p.lockExisting(ctx, op, id)
	if err != nil {
		return err
	}
	defer unlock()

	secret, err := p.secret(id)
	if err != nil {
		return opError(provider.KindPermanent, op, id, err)
	}
	if err := p.stop(ctx, id); err != nil {
		return opError(provider.KindTransient, op, id, err)
	}
	if err := p.start(ctx, m, secret); err != nil {
		return startOpError(op, id, err)
	}
	return nil
}

// Delete stops the instance gracefully and removes its directory. An
// unknown id returns nil.
func (p *Provider) Delete(ctx context.Context, id string) error {
	const op = "delete"
	if validateName(id) != nil {
		return nil
	}
	unlock, err := p.locks.lock(ctx, id)
	if err != nil {
		return opError(provider.KindTransient, op, id, err)
	}
	defer unlock()

	// A directory without instance.json is what a failed Create left
	// behind, and goes too.
	if _, err := os.Stat(p.dir(id)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := p.stop(ctx, id); err != nil {
		return opError(provider.KindTransient, op, id, err)
	}
	if err := p.removeDir(id); err != nil {
		return opError(provider.KindTransient, op, id, err)
	}
	p.log.Info("deleted instance", "instance", id)
	return nil
}

// stop sends SIGTERM to DFM, which stops its components and exits, and
// waits up to StopTimeout. Then it kills whatever still runs. When ctx ends
// first, it kills everything at once and returns ctx's error.
func (p *Provider) stop(ctx context.Context, name string) error {
	ps := p.findProcesses(name)
	if ps.dfm != 0 {
		p.log.Info("stopping DFM", "instance", name, "pid", ps.dfm)
		if err := signal(ps.dfm, syscall.SIGTERM); err != nil {
			return err
		}
		// A hung, that is stopped, process handles SIGTERM only after
		// SIGCONT. Without it, stopping a hung instance would always take
		// the full StopTimeout.
		if err := signalAll(ps.all(), syscall.SIGCONT); err != nil {
			return err
		}

		graceCtx, cancel := context.WithTimeout(ctx, p.cfg.StopTimeout)
		err := waitExited(graceCtx, []int{ps.dfm})
		cancel()
		if err != nil {
			p.log.Warn("DFM did not stop in time, killing the instance", "instance", name, "pid", ps.dfm, "error", err)
		}
		// Components that DFM failed to stop are still in its session.
		if left := sessionMembers(ps.dfm); len(left) > 0 {
			p.log.Warn("killing processes left after DFM exited", "instance", name, "pid", ps.dfm, "others", left)
			if err := signalAll(left, syscall.SIGKILL); err != nil {
				return err
			}
		}
	}

	// Killing is bounded by killWait and runs even after ctx ended, so that
	// no process of the instance survives a failed stop.
	if err := p.killAll(context.WithoutCancel(ctx), name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stopping instance %s gracefully: %w (its processes were killed)", name, err)
	}
	return nil
}

// lockExisting locks the instance and reads its instance.json. An unknown
// id is an error that matches provider.ErrNotFound.
func (p *Provider) lockExisting(ctx context.Context, op, id string) (meta, func(), error) {
	if validateName(id) != nil {
		return meta{}, nil, p.notFound(op, id)
	}
	unlock, err := p.locks.lock(ctx, id)
	if err != nil {
		return meta{}, nil, opError(provider.KindTransient, op, id, err)
	}
	m, err := p.readMeta(id)
	if errors.Is(err, fs.ErrNotExist) {
		unlock()
		return meta{}, nil, p.notFound(op, id)
	}
	if err != nil {
		unlock()
		return meta{}, nil, opError(provider.KindPermanent, op, id, err)
	}
	return m, unlock, nil
}
