package agent

import (
	"fmt"
	"time"
)

// restartPolicy decides, after each crash, whether a component is restarted
// and after how long. It is not safe for concurrent use: the component's
// supervisor goroutine owns it.
type restartPolicy struct {
	cfg    RestartConfig
	random func() float64 // uniform in [0, 1)

	attempt int         // crashes since the last reset, for the backoff
	crashes []time.Time // crash times within the crash-loop window
}

// crashVerdict is the decision after a crash.
type crashVerdict struct {
	failed bool          // true: stop restarting
	reason string        // cause of failed
	delay  time.Duration // wait before the next spawn when failed is false
}

// crash records a crash at now of a process that ran since upSince (zero if
// it never became ready) and returns the verdict. exitCode is -1 for a
// process that a signal ended or that never started.
func (p *restartPolicy) crash(now, upSince time.Time, exitCode int) crashVerdict {
	for _, code := range p.cfg.NoRetryExitCodes {
		if exitCode == code {
			return crashVerdict{failed: true, reason: fmt.Sprintf("exit code %d is in no_retry_exit_codes", code)}
		}
	}

	cutoff := now.Add(-p.cfg.CrashLoopWindow)
	recent := p.crashes[:0]
	for _, t := range p.crashes {
		if t.After(cutoff) {
			recent = append(recent, t)
		}
	}
	p.crashes = append(recent, now)
	if len(p.crashes) >= p.cfg.CrashLoopMax {
		return crashVerdict{failed: true, reason: fmt.Sprintf("crash loop: %d crashes within %s", len(p.crashes), p.cfg.CrashLoopWindow)}
	}

	if !upSince.IsZero() && now.Sub(upSince) >= p.cfg.ResetAfter {
		p.attempt = 0
	}
	p.attempt++
	return crashVerdict{delay: p.delay(p.attempt)}
}

// delay returns the wait before spawn number attempt+1: BackoffMin doubled
// per attempt up to BackoffMax, then lowered by up to 20% at random so that
// components that crashed together do not restart in step. It is never
// below BackoffMin.
func (p *restartPolicy) delay(attempt int) time.Duration {
	base := p.cfg.BackoffMin
	for i := 1; i < attempt && base < p.cfg.BackoffMax; i++ {
		base *= 2
	}
	base = min(base, p.cfg.BackoffMax)
	jittered := base - time.Duration(0.2*p.random()*float64(base))
	return max(jittered, p.cfg.BackoffMin)
}

// reset clears every recorded crash, for an operator's reset.
func (p *restartPolicy) reset() {
	p.attempt = 0
	p.crashes = nil
}
