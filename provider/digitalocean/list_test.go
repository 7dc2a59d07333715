package digitalocean

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/provider"
)

func TestListFollowsEveryPage(t *testing.T) {
	env := newTestEnv(t, nil)
	env.p.pageSize = 2
	var want []string
	for i := 1; i <= 5; i++ {
		name := "i" + strconv.Itoa(i)
		id := env.api.addDroplet("test-"+name, "dflb-cluster:test", "dflb-instance:test:"+name)
		want = append(want, strconv.Itoa(id))
	}
	env.api.addDroplet("other-i1", "dflb-cluster:other", "dflb-instance:other:i1")
	env.api.addDroplet("unrelated")

	instances, err := env.p.List(testContext(t))
	require.NoError(t, err)

	var ids, names []string
	for _, inst := range instances {
		ids = append(ids, inst.ID)
		names = append(names, inst.Name)
	}
	assert.Equal(t, want, ids)
	assert.Equal(t, []string{"i1", "i2", "i3", "i4", "i5"}, names)

	var pages []string
	for _, r := range env.api.requestLog() {
		if r.method == http.MethodGet && r.path == "/v2/droplets" {
			assert.Equal(t, "dflb-cluster:test", r.query.Get("tag_name"))
			assert.Equal(t, "2", r.query.Get("per_page"))
			pages = append(pages, r.query.Get("page"))
		}
	}
	assert.Equal(t, []string{"1", "2", "3"}, pages)
}

func TestListSinglePageWithoutLinks(t *testing.T) {
	env := newTestEnv(t, nil)
	env.api.addDroplet("test-i1", "dflb-cluster:test", "dflb-instance:test:i1")

	instances, err := env.p.List(testContext(t))
	require.NoError(t, err)

	require.Len(t, instances, 1)
	assert.Equal(t, "i1", instances[0].Name)
	assert.Equal(t, 1, env.api.requestCount(http.MethodGet, "/v2/droplets"))
}

func TestListReportsStates(t *testing.T) {
	env := newTestEnv(t, nil)
	healthy := env.api.addDroplet("test-a", "dflb-cluster:test", "dflb-instance:test:a")
	hung := env.api.addDroplet("test-b", "dflb-cluster:test", "dflb-instance:test:b")
	off := env.api.addDroplet("test-c", "dflb-cluster:test", "dflb-instance:test:c")
	env.api.setDropletStatus(off, "off")
	env.health.setDown("10.116.0.3:7070", true)

	instances, err := env.p.List(testContext(t))
	require.NoError(t, err)

	states := make(map[string]provider.State)
	for _, inst := range instances {
		states[inst.ID] = inst.State
	}
	assert.Equal(t, provider.StateActive, states[strconv.Itoa(healthy)])
	assert.Equal(t, provider.StateUnknown, states[strconv.Itoa(hung)])
	assert.Equal(t, provider.StateOff, states[strconv.Itoa(off)])
}

func TestListRetriesServerErrors(t *testing.T) {
	env := newTestEnv(t, nil)
	env.api.addDroplet("test-i1", "dflb-cluster:test", "dflb-instance:test:i1")
	env.api.addFault("GET /v2/droplets", fault{status: http.StatusInternalServerError})
	env.api.addFault("GET /v2/droplets", fault{status: http.StatusBadGateway})

	instances, err := env.p.List(testContext(t))
	require.NoError(t, err)

	assert.Len(t, instances, 1)
	assert.Equal(t, 3, env.api.requestCount(http.MethodGet, "/v2/droplets"))
	assert.Len(t, env.clock.recorded(), 2, "one backoff before each repeat")
}

func TestListGivesUpAfterMaxRetries(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.MaxRetries = 2 })
	for range 3 {
		env.api.addFault("GET /v2/droplets", fault{status: http.StatusServiceUnavailable, message: "Service Unavailable"})
	}

	_, err := env.p.List(testContext(t))
	require.Error(t, err)

	assert.ErrorIs(t, err, provider.ErrTransient)
	assert.Contains(t, err.Error(), "503")
	assert.Equal(t, 3, env.api.requestCount(http.MethodGet, "/v2/droplets"))
}

func TestListRetriesSlowAnswer(t *testing.T) {
	env := newTestEnv(t, nil)
	env.api.addDroplet("test-i1", "dflb-cluster:test", "dflb-instance:test:i1")
	// Longer than RequestTimeout, so the first request times out.
	env.api.addFault("GET /v2/droplets", fault{delay: 2 * time.Second})

	instances, err := env.p.List(testContext(t))
	require.NoError(t, err)

	assert.Len(t, instances, 1)
	assert.Equal(t, 2, env.api.requestCount(http.MethodGet, "/v2/droplets"))
}

func TestGetReturnsInstance(t *testing.T) {
	env := newTestEnv(t, nil)
	created, err := env.p.Create(testContext(t), testSpec("i1"))
	require.NoError(t, err)

	inst, err := env.p.Get(testContext(t), created.ID)
	require.NoError(t, err)

	assert.Equal(t, created.ID, inst.ID)
	assert.Equal(t, "i1", inst.Name)
	assert.Equal(t, "10.116.0.2", inst.Address)
	assert.Equal(t, provider.StateActive, inst.State)
}

func TestGetNotFound(t *testing.T) {
	env := newTestEnv(t, nil)
	outside := env.api.addDroplet("web-1", "web")

	for _, id := range []string{"999", "abc", "0", strconv.Itoa(outside)} {
		t.Run(id, func(t *testing.T) {
			_, err := env.p.Get(testContext(t), id)
			require.Error(t, err)
			assert.ErrorIs(t, err, provider.ErrNotFound)
		})
	}
}
