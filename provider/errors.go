package provider

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies a provider error by what the caller should do about it.
type Kind int

// Error kinds.
const (
	// KindPermanent means that retrying the same call fails again until
	// someone changes the request or the configuration.
	KindPermanent Kind = iota
	// KindNotFound means that no instance has the given ID.
	KindNotFound
	// KindRateLimited means that the provider rejected the call because of
	// its rate limit. Error.RetryAfter is the wait before a retry, when known.
	KindRateLimited
	// KindTransient means that the call may succeed when retried, for
	// example after a timeout.
	KindTransient
)

// String returns the kind's name as used in error messages.
func (k Kind) String() string {
	switch k {
	case KindPermanent:
		return "permanent"
	case KindNotFound:
		return "not found"
	case KindRateLimited:
		return "rate limited"
	case KindTransient:
		return "transient"
	default:
		return fmt.Sprintf("Kind(%d)", int(k))
	}
}

// Sentinel errors that errors.Is matches against an *Error of that kind.
var (
	ErrNotFound    = errors.New("provider: instance not found")
	ErrRateLimited = errors.New("provider: rate limited")
	ErrTransient   = errors.New("provider: transient failure")
	ErrPermanent   = errors.New("provider: permanent failure")
)

// Error is the error that providers return.
type Error struct {
	// Kind classifies the error by whether a retry may succeed.
	Kind Kind
	// RetryAfter is how long to wait before retrying, or 0 when the
	// provider gave no hint.
	RetryAfter time.Duration
	// Op is the operation that failed, such as "create" or "restart".
	Op string
	// ID is the instance ID or name that the operation was about, if any.
	ID string
	// Err is the underlying error.
	Err error
}

// Error formats the error as "provider: <op> <id>: <err>".
func (e *Error) Error() string {
	if e.ID == "" {
		return fmt.Sprintf("provider: %s: %v", e.Op, e.Err)
	}
	return fmt.Sprintf("provider: %s %s: %v", e.Op, e.ID, e.Err)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is matches the sentinel error of e's kind, so that
// errors.Is(err, ErrNotFound) works for every provider.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Kind == KindNotFound
	case ErrRateLimited:
		return e.Kind == KindRateLimited
	case ErrTransient:
		return e.Kind == KindTransient
	case ErrPermanent:
		return e.Kind == KindPermanent
	}
	return false
}

// IsRetryable reports whether retrying the call that returned err may
// succeed, and the wait before the retry that the provider returned, if any. Only
// rate-limited and transient *Error values are retryable.
func IsRetryable(err error) (bool, time.Duration) {
	var e *Error
	if !errors.As(err, &e) {
		return false, 0
	}
	switch e.Kind {
	case KindRateLimited, KindTransient:
		return true, e.RetryAfter
	default:
		return false, 0
	}
}
