package digitalocean

import (
	"fmt"
	"net"
	"net/http"
	"net/url"

	"github.com/digitalocean/godo"
)

// newAPIClient returns a godo client without godo's retries, so that each
// godo call sends its request once.
//
// godo.NewFromToken and godo.WithRetryAndBackoffs wrap the client in
// go-retryablehttp, which repeats every method, POST /v2/droplets
// included. The API has no idempotency key, so a repeated create after a
// lost response makes a second droplet. godo.New with a plain http.Client
// and no RetryConfig keeps godo's request building and JSON types while
// this package decides which requests to repeat (see call.go).
func newAPIClient(apiURL, token string) (*godo.Client, error) {
	base, err := url.Parse(apiURL)
	if err != nil {
		return nil, fmt.Errorf("digitalocean: api_url %q is invalid: %w", apiURL, err)
	}
	httpClient := &http.Client{
		Transport: &tokenTransport{
			base:  http.DefaultTransport.(*http.Transport).Clone(),
			token: token,
			host:  base.Host,
		},
		// A redirect could carry the request, and with it the token, to
		// another host. The API does not redirect, so none is followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	client, err := godo.New(httpClient, godo.SetBaseURL(base.String()), godo.SetUserAgent("dflb"))
	if err != nil {
		return nil, fmt.Errorf("digitalocean: creating the API client: %w", err)
	}
	return client, nil
}

// tokenTransport adds the bearer token to requests for the API host and
// to no other. It is the only place that reads the token.
type tokenTransport struct {
	base  http.RoundTripper
	token string
	host  string
}

// RoundTrip sends a copy of req with the Authorization header, so that
// the caller's request, which errors and responses refer to, never
// contains the token.
func (t *tokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != t.host {
		return nil, fmt.Errorf("refusing to send the API token to %s: only %s is the configured API host", req.URL.Host, t.host)
	}
	out := req.Clone(req.Context())
	out.Header.Set("Authorization", "Bearer "+t.token)
	return t.base.RoundTrip(out)
}

// validateAPIURL accepts an absolute http or https URL without a path.
// godo resolves request paths such as "v2/droplets" against the base URL,
// which drops any path prefix. Plain http would send the token
// unencrypted, so it is accepted only for loopback hosts such as a fake.
func validateAPIURL(apiURL string) error {
	u, err := url.Parse(apiURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("digitalocean: api_url %q is invalid: use an absolute https URL such as %s", apiURL, DefaultAPIURL)
	}
	// Redacted hides a password, in case someone put one into the URL.
	redacted := u.Redacted()
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("digitalocean: api_url %q contains credentials, a query or a fragment: use only scheme and host", redacted)
	}
	if u.Path != "" && u.Path != "/" {
		return fmt.Errorf("digitalocean: api_url %q has the path %q, which godo drops: serve the API at the root of the host", redacted, u.Path)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("digitalocean: api_url %q uses plain http to a host that is not loopback, which would send the token unencrypted: use https", redacted)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
