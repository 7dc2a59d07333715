package provider

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestErrorIsMatchesKind(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", &Error{Kind: KindNotFound, Op: "get", ID: "i-1", Err: errors.New("no such dir")})

	assert.ErrorIs(t, err, ErrNotFound)
	assert.NotErrorIs(t, err, ErrTransient)
	assert.NotErrorIs(t, err, ErrPermanent)
	assert.NotErrorIs(t, err, ErrRateLimited)
}

func TestErrorUnwrapsCause(t *testing.T) {
	err := &Error{Kind: KindTransient, Op: "create", ID: "i-1", Err: fmt.Errorf("waiting: %w", context.DeadlineExceeded)}

	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, ErrTransient)
}

func TestErrorMessage(t *testing.T) {
	withID := &Error{Kind: KindPermanent, Op: "create", ID: "i-1", Err: errors.New("invalid name")}
	withoutID := &Error{Kind: KindTransient, Op: "list", Err: errors.New("read failed")}

	assert.Equal(t, "provider: create i-1: invalid name", withID.Error())
	assert.Equal(t, "provider: list: read failed", withoutID.Error())
}

func TestIsRetryable(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		retryable bool
		after     time.Duration
	}{
		{"transient", &Error{Kind: KindTransient, Err: errors.New("x")}, true, 0},
		{"rate limited", &Error{Kind: KindRateLimited, RetryAfter: 3 * time.Second, Err: errors.New("x")}, true, 3 * time.Second},
		{"wrapped transient", fmt.Errorf("outer: %w", &Error{Kind: KindTransient, Err: errors.New("x")}), true, 0},
		{"permanent", &Error{Kind: KindPermanent, Err: errors.New("x")}, false, 0},
		{"not found", &Error{Kind: KindNotFound, Err: errors.New("x")}, false, 0},
		{"plain error", errors.New("x"), false, 0},
		{"nil", nil, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			retryable, after := IsRetryable(tt.err)
			assert.Equal(t, tt.retryable, retryable)
			assert.Equal(t, tt.after, after)
		})
	}
}

func TestKindString(t *testing.T) {
	assert.Equal(t, "not found", KindNotFound.String())
	assert.Equal(t, "Kind(42)", Kind(42).String())
}
