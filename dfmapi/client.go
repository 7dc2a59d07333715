package dfmapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// maxResponseBytes limits how much of a DFM response the client reads.
const maxResponseBytes = 1 << 20

// Client calls the HTTP API of one DFM. Its methods are safe for concurrent
// use once the fields are set.
type Client struct {
	// BaseURL is DFM's address, such as "http://127.0.1.3:7070".
	BaseURL string
	// Token is the bearer secret. The client never puts it in an error.
	Token string
	// HTTP sends the requests. Nil means NewRetryClient(nil). A client with
	// an ErrorHandler other than retryablehttp.PassthroughErrorHandler turns
	// a 5xx after the last retry into its own error instead of an *APIError.
	HTTP *retryablehttp.Client
}

// NewRetryClient returns a retryablehttp client with 3 retries, backoff from
// 100 ms to 2 s, a 10 s timeout per attempt, and the last response of a
// failed series returned to the caller. logger receives retryablehttp's
// debug lines, and nil discards them.
func NewRetryClient(logger retryablehttp.LeveledLogger) *retryablehttp.Client {
	c := retryablehttp.NewClient()
	c.RetryMax = 3
	c.RetryWaitMin = 100 * time.Millisecond
	c.RetryWaitMax = 2 * time.Second
	c.HTTPClient.Timeout = 10 * time.Second
	c.ErrorHandler = retryablehttp.PassthroughErrorHandler
	c.Logger = nil
	if logger != nil {
		c.Logger = logger
	}
	return c
}

// APIError is a response of DFM with a status other than 2xx.
type APIError struct {
	Method     string
	Path       string
	StatusCode int
	// Message is the "error" field of the response, or its start when the
	// body is not JSON.
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("dfm %s %s: %d %s: %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode), e.Message)
}

// IsUnauthorized reports whether err is a 401 from DFM, which means the
// client's token differs from DFM's.
func IsUnauthorized(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusUnauthorized
}

// Health returns nil when GET /healthz returns 200. It needs no token.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, PathHealth, nil, nil)
}

// Status returns GET /v1/status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.do(ctx, http.MethodGet, PathStatus, nil, &st)
	return st, err
}

// SetTenants applies a tenant set with PUT /v1/tenants and returns the status
// after the change.
func (c *Client) SetTenants(ctx context.Context, req TenantsRequest) (Status, error) {
	var st Status
	err := c.do(ctx, http.MethodPut, PathTenants, req, &st)
	return st, err
}

// Start starts components with POST /v1/components/start. DFM responds before
// the components are up, so poll Status to see them reach "up".
func (c *Client) Start(ctx context.Context, req StartRequest) error {
	return c.do(ctx, http.MethodPost, PathStart, req, nil)
}

// Restart restarts the component name.
func (c *Client) Restart(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodPost, RestartPath(name), nil, nil)
}

// Reset clears the failed state of the component name and starts it.
func (c *Client) Reset(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodPost, ResetPath(name), nil, nil)
}

// Shutdown requests that DFM stop its components and exit. DFM responds at
// once and sends shutdown_complete when it is done.
func (c *Client) Shutdown(ctx context.Context, req ShutdownRequest) error {
	return c.do(ctx, http.MethodPost, PathShutdown, req, nil)
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return fmt.Errorf("dfm %s %s: encode request: %w", method, path, err)
		}
	}
	url := strings.TrimSuffix(c.BaseURL, "/") + path
	req, err := retryablehttp.NewRequestWithContext(ctx, method, url, raw)
	if err != nil {
		return fmt.Errorf("dfm %s %s: invalid base URL %q: %w", method, path, c.BaseURL, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}

	httpClient := c.HTTP
	if httpClient == nil {
		httpClient = NewRetryClient(nil)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return fmt.Errorf("dfm %s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("dfm %s %s: read response: %w", method, path, err)
	}

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &APIError{Method: method, Path: path, StatusCode: resp.StatusCode, Message: errorMessage(data)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("dfm %s %s: decode response: %w", method, path, err)
	}
	return nil
}

// errorMessage extracts the "error" field, or the first line of a body that
// is not an ErrorResponse.
func errorMessage(data []byte) string {
	var e ErrorResponse
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		return e.Error
	}
	text := strings.TrimSpace(string(bytes.SplitN(data, []byte("\n"), 2)[0]))
	const maxLen = 200
	if len(text) > maxLen {
		text = text[:maxLen] + "..."
	}
	return text
}
