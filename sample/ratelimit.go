package sample

import (
	"sync/atomic"
	"time"
)

// logLimiter allows one log line per interval and counts the lines it drops,
// so a client that repeats a bad request cannot flood the log.
type logLimiter struct {
	interval   time.Duration
	last       atomic.Int64 // unix nanoseconds of the last allowed line
	suppressed atomic.Int64
}

// allow reports whether a line may be logged now. When it may, it also
// returns the number of lines dropped since the last allowed one.
func (l *logLimiter) allow(now time.Time) (ok bool, suppressed int64) {
	last := l.last.Load()
	if now.UnixNano()-last < int64(l.interval) || !l.last.CompareAndSwap(last, now.UnixNano()) {
		l.suppressed.Add(1)
		return false, 0
	}
	return true, l.suppressed.Swap(0)
}
