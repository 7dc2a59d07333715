package demo

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"syscall"
	"time"
)

// situation is one step of the demo: run triggers it, waits until DFLB has
// handled it and returns the time from the trigger to the new routing.
type situation struct {
	name string
	run  func(ctx context.Context) (time.Duration, error)
}

// Paces of the load. With the demo's thresholds (overload at 150 req/s,
// low usage under 40 req/s) the normal load keeps both instances between
// the two.
const (
	acmePace     = 80 * time.Millisecond  // 4 clients: about 50 req/s
	busyPace     = 40 * time.Millisecond  // globex and initech: about 25 req/s each
	umbrellaPace = 20 * time.Millisecond  // about 50 req/s
	quietPace    = 250 * time.Millisecond // about 4 req/s
)

// situationTimeout bounds the wait for DFLB to handle one situation.
const situationTimeout = 60 * time.Second

func (d *demo) situations(loadCtx context.Context) []situation {
	return []situation{
		{"1 normal flow", func(ctx context.Context) (time.Duration, error) {
			d.load.Start(loadCtx, "acme", 4, acmePace)
			d.load.Start(loadCtx, "globex", 1, busyPace)
			d.load.Start(loadCtx, "initech", 1, busyPace)
			d.load.Start(loadCtx, "umbrella", 1, umbrellaPace)
			if err := sleep(ctx, 5*time.Second); err != nil {
				return 0, err
			}
			d.sayf("   placement: %s\n", d.watch.describePlacement())
			return 0, nil
		}},
		{"2 instance overload", func(ctx context.Context) (time.Duration, error) {
			d.sayf("   acme's clients stop pacing: i1 goes past 150 req/s\n")
			trigger := time.Now()
			d.load.SetPace("acme", 0)
			sw, err := d.watch.waitFor(ctx, "switch", trigger, situationTimeout)
			d.load.SetPace("acme", acmePace)
			if err != nil {
				return 0, err
			}
			if _, err := d.watch.waitFor(ctx, "scale_out_done", trigger, situationTimeout); err != nil {
				return 0, err
			}
			d.sayf("   placement: %s\n", d.watch.describePlacement())
			return sw.Time.Sub(trigger), nil
		}},
		{"3 low-loaded instance", func(ctx context.Context) (time.Duration, error) {
			d.sayf("   umbrella slows down to about 4 req/s: i2 falls under 40 req/s\n")
			trigger := time.Now()
			d.load.SetPace("umbrella", quietPace)
			sw, err := d.watch.waitFor(ctx, "switch", trigger, situationTimeout)
			if err != nil {
				return 0, err
			}
			if _, err := d.watch.waitFor(ctx, "scale_in_done", trigger, situationTimeout); err != nil {
				return 0, err
			}
			d.sayf("   placement: %s\n", d.watch.describePlacement())
			return sw.Time.Sub(trigger), nil
		}},
		{"4 broken component", func(ctx context.Context) (time.Duration, error) {
			inst := d.watch.instanceOf("globex")
			pid, err := d.componentPID(inst)
			if err != nil {
				return 0, err
			}
			d.sayf("   killing the component of %s (pid %d), which serves globex\n", inst, pid)
			trigger := time.Now()
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				return 0, fmt.Errorf("killing component %d: %w", pid, err)
			}
			return d.failoverAndBack(ctx, trigger)
		}},
		{"5 broken instance", func(ctx context.Context) (time.Duration, error) {
			inst := d.watch.instanceOf("acme")
			d.sayf("   freezing every process of %s, which serves acme (SIGSTOP)\n", inst)
			trigger := time.Now()
			if err := d.provider.Hang(ctx, inst); err != nil {
				return 0, fmt.Errorf("hanging %s: %w", inst, err)
			}
			return d.failoverAndBack(ctx, trigger)
		}},
	}
}

// failoverAndBack waits for the failover after trigger and for the
// failback once the instance recovered, and returns the failover's time.
func (d *demo) failoverAndBack(ctx context.Context, trigger time.Time) (time.Duration, error) {
	fo, err := d.watch.waitFor(ctx, "failover", trigger, situationTimeout)
	if err != nil {
		return 0, err
	}
	if _, err := d.watch.waitFor(ctx, "failback", trigger, situationTimeout); err != nil {
		return 0, err
	}
	// Let traffic run on the recovered instance for a moment.
	if err := sleep(ctx, 2*time.Second); err != nil {
		return 0, err
	}
	return fo.Time.Sub(trigger), nil
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
