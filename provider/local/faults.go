package local

import (
	"context"
	"fmt"
	"slices"
	"syscall"

	"github.com/dflb/dflb/provider"
)

// Kill sends SIGKILL to DFM and every process of the instance, as if the
// machine had crashed, and waits until none runs. The directory stays, so
// the instance is then off. Kill is for tests and demos of failure
// handling.
func (p *Provider) Kill(ctx context.Context, id string) error {
	const op = "kill"
	_, unlock, err := p.lockExisting(ctx, op, id)
	if err != nil {
		return err
	}
	defer unlock()

	if err := p.killAll(ctx, id); err != nil {
		return opError(provider.KindTransient, op, id, err)
	}
	return nil
}

// Hang sends SIGSTOP to DFM and every process of the instance, as if the
// machine had frozen: its ports accept connections but nothing responds.
// Resume undoes it. Hang is for tests and demos of failure handling.
func (p *Provider) Hang(ctx context.Context, id string) error {
	// DFM stops first, so that it does not see its components stop and
	// restart them.
	return p.signalInstance(ctx, "hang", id, syscall.SIGSTOP, func(ps processes) []int { return ps.all() })
}

// Resume sends SIGCONT to every process of the instance after Hang. It is
// for tests and demos of failure handling.
func (p *Provider) Resume(ctx context.Context, id string) error {
	// The components continue first, so that DFM's first health checks
	// after the pause find them running.
	return p.signalInstance(ctx, "resume", id, syscall.SIGCONT, func(ps processes) []int {
		return append(slices.Clone(ps.others), ps.dfm)
	})
}

func (p *Provider) signalInstance(ctx context.Context, op, id string, sig syscall.Signal, order func(processes) []int) error {
	_, unlock, err := p.lockExisting(ctx, op, id)
	if err != nil {
		return err
	}
	defer unlock()

	ps := p.findProcesses(id)
	if ps.dfm == 0 {
		return opError(provider.KindPermanent, op, id, fmt.Errorf("DFM of instance %s is not running: start it with Create", id))
	}
	if err := signalAll(order(ps), sig); err != nil {
		return opError(provider.KindTransient, op, id, err)
	}
	p.log.Info("signalled instance", "instance", id, "pid", ps.dfm, "signal", sig.String(), "others", ps.others)
	return nil
}
