package dfmapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClientSendsTokenAndDecodesStatus(t *testing.T) {
	var gotAuth, gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		var req TenantsRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		gotBody = req.Tenants[0]
		_ = json.NewEncoder(w).Encode(Status{Instance: "i-1", Components: []ComponentStatus{{Name: "app", State: ComponentUp}}})
	}))
	defer srv.Close()

	c := &Client{BaseURL: srv.URL, Token: "s3cret"}
	st, err := c.SetTenants(context.Background(), TenantsRequest{Tenants: []string{"a"}})
	require.NoError(t, err)
	assert.Equal(t, "Bearer s3cret", gotAuth)
	assert.Equal(t, "a", gotBody)
	app, ok := st.Component("app")
	require.True(t, ok)
	assert.Equal(t, ComponentUp, app.State)
}

func TestClientReturnsAPIError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"missing or invalid bearer token"}`))
	}))
	defer srv.Close()

	c := &Client{BaseURL: srv.URL, Token: "wrong-token"}
	err := c.Restart(context.Background(), "app")
	require.Error(t, err)
	assert.True(t, IsUnauthorized(err))
	assert.Contains(t, err.Error(), "missing or invalid bearer token")
	assert.NotContains(t, err.Error(), "wrong-token")
}

func TestClientReturnsLast5xxAfterRetries(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls++
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"shutting down"}`))
	}))
	defer srv.Close()

	httpClient := NewRetryClient(nil)
	httpClient.RetryMax = 1
	httpClient.RetryWaitMin = time.Millisecond
	httpClient.RetryWaitMax = time.Millisecond
	c := &Client{BaseURL: srv.URL, HTTP: httpClient}
	err := c.Shutdown(context.Background(), ShutdownRequest{Deadline: Duration(5 * time.Second)})
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusServiceUnavailable, apiErr.StatusCode)
	assert.Equal(t, "shutting down", apiErr.Message)
	assert.Equal(t, 2, calls)
}

func TestDurationJSON(t *testing.T) {
	data, err := json.Marshal(ShutdownRequest{Deadline: Duration(30 * time.Second)})
	require.NoError(t, err)
	assert.JSONEq(t, `{"deadline":"30s"}`, string(data))

	var req ShutdownRequest
	require.NoError(t, json.Unmarshal([]byte(`{"deadline":"1m30s"}`), &req))
	assert.Equal(t, Duration(90*time.Second), req.Deadline)

	assert.Error(t, json.Unmarshal([]byte(`{"deadline":30}`), &req))
	assert.Error(t, json.Unmarshal([]byte(`{"deadline":"-1s"}`), &req))
}

func TestNotificationValidate(t *testing.T) {
	valid := Notification{Instance: "i-1", Seq: 1, Time: time.Now(), Kind: KindComponentDown, Component: "app"}
	assert.NoError(t, valid.Validate())

	missing := Notification{Kind: "reboot"}
	err := missing.Validate()
	require.Error(t, err)
	for _, field := range []string{"field instance", "field seq", "field time", "field kind"} {
		assert.Contains(t, err.Error(), field)
	}

	noComponent := valid
	noComponent.Component = ""
	assert.ErrorContains(t, noComponent.Validate(), "field component")
}
