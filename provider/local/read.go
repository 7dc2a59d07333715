package local

import (
	"context"
	"errors"
	"io/fs"
	"sync"

	"github.com/dflb/dflb/provider"
)

// Get returns the instance named id with its current state. The state is
// active when DFM's /healthz returns 200, and new while this Provider waits
// for a DFM that it started. It is unknown when DFM runs but /healthz
// fails, and off when DFM does not run.
func (p *Provider) Get(ctx context.Context, id string) (provider.Instance, error) {
	const op = "get"
	if validateName(id) != nil {
		return provider.Instance{}, p.notFound(op, id)
	}
	m, err := p.readMeta(id)
	if errors.Is(err, fs.ErrNotExist) {
		return provider.Instance{}, p.notFound(op, id)
	}
	if err != nil {
		return provider.Instance{}, opError(provider.KindPermanent, op, id, err)
	}
	inst := p.observe(ctx, m)
	if err := ctx.Err(); err != nil {
		return provider.Instance{}, opError(provider.KindTransient, op, id, err)
	}
	return inst, nil
}

// List returns every instance under Root, sorted by name. A directory
// whose instance.json cannot be read is logged and left out.
func (p *Provider) List(ctx context.Context) ([]provider.Instance, error) {
	const op = "list"
	names, err := p.listNames()
	if err != nil {
		return nil, opError(provider.KindTransient, op, "", err)
	}

	// The health checks run in parallel, so that hung instances cost one
	// HealthTimeout in total instead of one each.
	found := make([]*provider.Instance, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		m, err := p.readMeta(name)
		if err != nil {
			p.log.Warn("skipping unreadable instance", "instance", name, "error", err)
			continue
		}
		wg.Go(func() {
			inst := p.observe(ctx, m)
			found[i] = &inst
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, opError(provider.KindTransient, op, "", err)
	}

	instances := make([]provider.Instance, 0, len(found))
	for _, inst := range found {
		if inst != nil {
			instances = append(instances, *inst)
		}
	}
	return instances, nil
}

// observe returns the instance with its state from the processes and one
// /healthz request.
func (p *Provider) observe(ctx context.Context, m meta) provider.Instance {
	ps := p.findProcesses(m.Name)
	if ps.dfm == 0 {
		return p.instance(m, provider.StateOff)
	}
	if err := p.probe(ctx, m.Address); err == nil {
		return p.instance(m, provider.StateActive)
	}
	if c := p.child(m.Name); c != nil && c.pid == ps.dfm && !c.healthy.Load() {
		return p.instance(m, provider.StateNew)
	}
	return p.instance(m, provider.StateUnknown)
}
