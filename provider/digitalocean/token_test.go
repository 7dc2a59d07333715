package digitalocean

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTokenNeverInLogsOrErrors drives every kind of failure and checks
// that neither the errors nor the debug log contain the token.
func TestTokenNeverInLogsOrErrors(t *testing.T) {
	env := newTestEnv(t, func(c *Config) {
		c.MaxRetries = 1
		c.RateLimitMaxWait = time.Second
		c.CreateTimeout = time.Minute
	})
	ctx := testContext(t)
	var errs []error
	record := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	env.api.addFault("GET /v2/vpcs/{id}", fault{status: http.StatusUnauthorized, message: "Unable to authenticate you"})
	_, err := env.p.Create(ctx, testSpec("i1"))
	record(err)

	env.api.addFault("POST /v2/droplets", fault{status: http.StatusUnprocessableEntity, message: "Size is not available"})
	_, err = env.p.Create(ctx, testSpec("i1"))
	record(err)

	for range 2 {
		env.api.addFault("GET /v2/droplets", fault{status: http.StatusInternalServerError})
	}
	_, err = env.p.List(ctx)
	record(err)

	env.api.addFault("POST /v2/droplets", fault{status: http.StatusTooManyRequests, headers: map[string]string{"Retry-After": "3600"}})
	_, err = env.p.Create(ctx, testSpec("i1"))
	record(err)

	env.api.addFault("POST /v2/droplets", fault{lose: true})
	env.api.setActiveAfter(never)
	_, err = env.p.Create(ctx, testSpec("i2"))
	record(err)

	record(env.p.Restart(ctx, "424242"))
	outside := env.api.addDroplet("database", "prod")
	record(env.p.Delete(ctx, strconv.Itoa(outside)))

	require.Len(t, errs, 7, "every step above fails")
	for _, err := range errs {
		assert.NotContains(t, err.Error(), testToken)
	}
	assert.NotContains(t, env.log.String(), testToken)
	assert.Contains(t, errs[0].Error(), "check the token in the environment variable "+testTokenEnv)
}

func TestTokenTransportSendsTokenOnlyToAPIHost(t *testing.T) {
	var got []string
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization"))
	}))
	t.Cleanup(server.Close)
	transport := &tokenTransport{base: http.DefaultTransport, token: testToken, host: server.Listener.Addr().String()}

	req := httptest.NewRequest(http.MethodGet, server.URL+"/v2/account", nil)
	req.RequestURI = ""
	resp, err := transport.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, []string{"Bearer " + testToken}, got)
	assert.Empty(t, req.Header.Get("Authorization"), "the caller's request stays without the token")

	other := httptest.NewRequest(http.MethodGet, "http://127.0.0.2:1/v2/account", nil)
	other.RequestURI = ""
	_, err = transport.RoundTrip(other)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), testToken)
	assert.Len(t, got, 1)
}
