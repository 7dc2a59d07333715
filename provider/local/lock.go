package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// keyedLock serializes the operations on one instance name within a
// Provider. Waiting for it honours ctx, unlike sync.Mutex.
type keyedLock struct {
	mu    sync.Mutex
	locks map[string]*lockEntry
}

type lockEntry struct {
	held  chan struct{} // contains a value while the lock is held
	users int           // holders and waiters, so the entry can be dropped at 0
}

// lock waits until the name is free or ctx ends, and returns the function
// that releases it.
func (k *keyedLock) lock(ctx context.Context, name string) (func(), error) {
	k.mu.Lock()
	entry := k.locks[name]
	if entry == nil {
		entry = &lockEntry{held: make(chan struct{}, 1)}
		k.locks[name] = entry
	}
	entry.users++
	k.mu.Unlock()

	release := func() {
		k.mu.Lock()
		entry.users--
		if entry.users == 0 {
			delete(k.locks, name)
		}
		k.mu.Unlock()
	}

	select {
	case entry.held <- struct{}{}:
		return func() {
			<-entry.held
			release()
		}, nil
	case <-ctx.Done():
		release()
		return nil, fmt.Errorf("waiting for another operation on instance %s: %w", name, ctx.Err())
	}
}

// lockRoot takes an exclusive flock on <Root>/.lock, so that providers in
// different processes sharing Root do not give two instances the same
// address. It polls because flock cannot be interrupted by ctx.
func (p *Provider) lockRoot(ctx context.Context) (func(), error) {
	path := filepath.Join(p.cfg.Root, ".lock")
	file, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock file %s: %w", path, err)
	}
	ticker := time.NewTicker(20 * time.Millisecond)
	defer ticker.Stop()
	for {
		err := syscall.Flock(int(file.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { file.Close() }, nil // closing releases the flock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			file.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			file.Close()
			return nil, fmt.Errorf("waiting for lock file %s: %w", path, ctx.Err())
		case <-ticker.C:
		}
	}
}
