package digitalocean

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/digitalocean/godo"

	"github.com/dflb/dflb/provider"
)

// apiError is a failed API request, classified by what the caller can do
// about it. Its message names the request and the API's message, never
// the token.
type apiError struct {
	kind       provider.Kind
	retryAfter time.Duration
	// ambiguous means that the request may have taken effect although no
	// success status arrived: a timeout, a broken connection, a 5xx status
	// or an unreadable success body.
	ambiguous bool
	endpoint  string // such as "POST /v2/droplets"
	status    int    // HTTP status, or 0 when no response arrived
	message   string // the API's message
	requestID string
	hint      string // the next step for the user, if the status suggests one
	err       error  // the transport or decoding error, if any
}

func (e *apiError) Error() string {
	if e.status == 0 {
		return fmt.Sprintf("%s: no valid response: %v", e.endpoint, e.err)
	}
	text := fmt.Sprintf("%s: %d %s", e.endpoint, e.status, http.StatusText(e.status))
	if e.message != "" {
		text += ": " + e.message
	}
	if e.requestID != "" {
		text += " (request ID " + e.requestID + ")"
	}
	if e.hint != "" {
		text += "; " + e.hint
	}
	return text
}

func (e *apiError) Unwrap() error { return e.err }

// classify turns the result of one godo call into an *apiError. ctx is
// the caller's context, whose end is no reason to retry.
func (p *Provider) classify(ctx context.Context, endpoint string, resp *godo.Response, err error) *apiError {
	e := &apiError{endpoint: endpoint, err: err}

	var apiErr *godo.ErrorResponse
	if !errors.As(err, &apiErr) || apiErr.Response == nil {
		// No status: the request timed out, the connection broke, or the
		// success body could not be decoded. The API may have acted on it.
		e.kind = provider.KindTransient
		e.ambiguous = true
		if ctxErr := ctx.Err(); ctxErr != nil {
			e.err = fmt.Errorf("%w (last error: %v)", ctxErr, err)
		}
		return e
	}

	// The godo error is dropped from the chain because its text repeats
	// the full URL, and the fields below contain the rest of it.
	e.err = nil
	e.status = apiErr.Response.StatusCode
	e.message = apiErr.Message
	if e.message == "" && apiErr.NestedError != nil {
		e.message = apiErr.NestedError.Message
	}
	e.requestID = apiErr.RequestID

	switch {
	case e.status == http.StatusTooManyRequests:
		e.kind = provider.KindRateLimited
		e.retryAfter = p.rate.waitAfter429(resp, p.now())
		e.hint = "rate limited: retry after " + e.retryAfter.Round(time.Second).String()
	case e.status == http.StatusNotFound:
		e.kind = provider.KindNotFound
	case e.status == http.StatusUnauthorized || e.status == http.StatusForbidden:
		e.kind = provider.KindPermanent
		e.hint = "check the token in the environment variable " + p.cfg.TokenEnv + " and its scopes"
	case e.status >= 500:
		e.kind = provider.KindTransient
		e.ambiguous = true
	default:
		e.kind = provider.KindPermanent
	}
	return e
}

// opError returns the provider error of operation op on the instance or
// droplet id.
func opError(kind provider.Kind, op, id string, err error) error {
	return &provider.Error{Kind: kind, Op: op, ID: id, Err: err}
}

// apiOpError wraps an API failure with its kind and retry hint.
func apiOpError(op, id string, err error) error {
	var e *apiError
	if errors.As(err, &e) {
		return &provider.Error{Kind: e.kind, RetryAfter: e.retryAfter, Op: op, ID: id, Err: err}
	}
	return &provider.Error{Kind: provider.KindTransient, Op: op, ID: id, Err: err}
}

// isNotFound reports whether err is an API 404.
func isNotFound(err error) bool {
	var e *apiError
	return errors.As(err, &e) && e.kind == provider.KindNotFound
}

// isAmbiguous reports whether the failed request may have taken effect.
func isAmbiguous(err error) bool {
	var e *apiError
	return errors.As(err, &e) && e.ambiguous
}
