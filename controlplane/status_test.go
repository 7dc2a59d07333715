package controlplane

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/balancer"
	"github.com/dflb/dflb/dfmapi"
)

func TestBuildStatusPlacementAndHealth(t *testing.T) {
	specs := []balancer.InstanceSpec{
		{ID: "i2", Components: map[string]string{"app": "127.0.0.1:9002"}, Tenants: []string{"initech", "acme"}},
		{ID: "i1", Components: map[string]string{"app": "127.0.0.1:9001"}, Tenants: []string{"globex", "acme"}},
	}
	pool := balancer.NewPool(nil, balancer.HealthConfig{Failures: 1, Cooloff: time.Minute}, nil)
	_, err := pool.Build(specs, nil)
	require.NoError(t, err)
	for _, b := range pool.Backends() {
		if b.Instance == "i2" {
			b.MarkDown(time.Now().Add(time.Minute).UnixNano())
		}
	}
	rates := balancer.Rates{
		Span:      10 * time.Second,
		Tenants:   map[string]balancer.Rate{"acme": {Requests: 12.5, Errors: 0.5, P99: 3 * time.Millisecond}},
		Instances: map[string]balancer.Rate{"i1": {Requests: 10}},
	}
	recent := []dfmapi.Notification{{Instance: "i2", Kind: dfmapi.KindComponentDown, Component: "app"}}

	st := BuildStatus(time.Unix(100, 0), specs, pool.Backends(), rates, recent)

	require.Len(t, st.Instances, 2)
	assert.Equal(t, "i1", st.Instances[0].ID, "instances are sorted")
	assert.Equal(t, []string{"acme", "globex"}, st.Instances[0].Tenants)
	assert.Equal(t, []BackendStatus{{Component: "app", Addr: "127.0.0.1:9001", Up: true}}, st.Instances[0].Backends)
	assert.False(t, st.Instances[1].Backends[0].Up, "i2 was marked down")
	assert.Equal(t, 10.0, st.Instances[0].Traffic.RequestsPerSecond)

	require.Len(t, st.Tenants, 3)
	assert.Equal(t, "acme", st.Tenants[0].Tenant)
	assert.Equal(t, []string{"i1", "i2"}, st.Tenants[0].Instances)
	assert.Equal(t, 12.5, st.Tenants[0].Traffic.RequestsPerSecond)
	assert.Equal(t, Duration(3*time.Millisecond), st.Tenants[0].Traffic.P99)
	assert.Equal(t, []string{"i2"}, st.Tenants[2].Instances, "initech")

	assert.Equal(t, Duration(10*time.Second), st.Window)
	assert.Equal(t, recent, st.Notifications)
}
