package controlplane

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/balancer"
	"github.com/dflb/dflb/dfmapi"
)

func TestComponentHealthFollowsNotifications(t *testing.T) {
	pool := balancer.NewPool(nil, balancer.HealthConfig{Failures: 3, Cooloff: time.Second}, nil)
	table, err := pool.Build([]balancer.InstanceSpec{
		{ID: "i1", Components: map[string]string{"app": "127.0.0.1:9001", "compiler": "127.0.0.1:9002"}, Tenants: []string{"acme"}},
		{ID: "i2", Components: map[string]string{"app": "127.0.0.1:9003"}, Tenants: []string{"acme"}},
	}, nil)
	require.NoError(t, err)
	h := &ComponentHealth{Pool: pool, Hold: time.Minute, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	now := time.Unix(1000, 0)

	backend := func(instance, component string) *balancer.Backend {
		route, err := table.Lookup([]byte("acme"), component)
		require.NoError(t, err)
		for _, target := range route.Targets {
			if target.Backend.Instance == instance {
				return target.Backend
			}
		}
		t.Fatalf("no backend for %s/%s", instance, component)
		return nil
	}

	down := dfmapi.Notification{Instance: "i1", Kind: dfmapi.KindComponentDown, Component: "app"}
	assert.Equal(t, 1, h.Apply(down, now))
	assert.False(t, backend("i1", "app").Available(now.UnixNano()), "i1/app must leave rotation")
	assert.True(t, backend("i1", "compiler").Available(now.UnixNano()), "another component of i1 is not affected")
	assert.True(t, backend("i2", "app").Available(now.UnixNano()), "another instance is not affected")
	assert.True(t, backend("i1", "app").Available(now.Add(2*time.Minute).UnixNano()), "the mark ends after Hold")

	assert.Equal(t, 0, h.Apply(down, now), "a repeated notification changes nothing")

	up := dfmapi.Notification{Instance: "i1", Kind: dfmapi.KindComponentUp, Component: "app"}
	assert.Equal(t, 1, h.Apply(up, now))
	assert.True(t, backend("i1", "app").Available(now.UnixNano()))

	failed := dfmapi.Notification{Instance: "i2", Kind: dfmapi.KindComponentFailed, Component: "app"}
	assert.Equal(t, 1, h.Apply(failed, now))
	assert.False(t, backend("i2", "app").Available(now.UnixNano()))

	overload := dfmapi.Notification{Instance: "i1", Kind: dfmapi.KindOverload}
	assert.Equal(t, 0, h.Apply(overload, now), "load notifications do not touch health")
}
