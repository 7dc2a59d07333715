package digitalocean

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/provider"
)

func TestDeleteRemovesDroplet(t *testing.T) {
	env := newTestEnv(t, nil)
	inst, err := env.p.Create(testContext(t), testSpec("i1"))
	require.NoError(t, err)

	require.NoError(t, env.p.Delete(testContext(t), inst.ID))

	assert.Equal(t, 0, env.api.dropletCount())
	assert.Equal(t, 1, env.api.requestCount(http.MethodDelete, "/v2/droplets/"+inst.ID))
	_, err = env.p.Get(testContext(t), inst.ID)
	assert.ErrorIs(t, err, provider.ErrNotFound)
}

func TestDeleteUnknownIsNil(t *testing.T) {
	env := newTestEnv(t, nil)

	assert.NoError(t, env.p.Delete(testContext(t), "999"))
	assert.NoError(t, env.p.Delete(testContext(t), "not-a-droplet-id"))
}

func TestDeleteNotFoundOnDeleteIsNil(t *testing.T) {
	env := newTestEnv(t, nil)
	id := env.api.addDroplet("test-i1", "dflb-cluster:test", "dflb-instance:test:i1")
	// The droplet goes away between the read and the delete request.
	env.api.addFault("DELETE /v2/droplets/{id}", fault{status: http.StatusNotFound, message: "The resource you were accessing could not be found."})

	assert.NoError(t, env.p.Delete(testContext(t), strconv.Itoa(id)))
}

func TestDeleteRetriesLostResponse(t *testing.T) {
	env := newTestEnv(t, nil)
	id := env.api.addDroplet("test-i1", "dflb-cluster:test", "dflb-instance:test:i1")
	env.api.addFault("DELETE /v2/droplets/{id}", fault{lose: true})

	require.NoError(t, env.p.Delete(testContext(t), strconv.Itoa(id)))

	assert.Equal(t, 0, env.api.dropletCount())
	assert.Equal(t, 2, env.api.requestCount(http.MethodDelete, "/v2/droplets/"+strconv.Itoa(id)))
}

func TestDeleteKeepsDropletOutsideCluster(t *testing.T) {
	env := newTestEnv(t, nil)
	id := env.api.addDroplet("database", "prod")

	err := env.p.Delete(testContext(t), strconv.Itoa(id))
	require.Error(t, err)

	assert.ErrorIs(t, err, provider.ErrPermanent)
	assert.Contains(t, err.Error(), "not tagged dflb-cluster:test")
	assert.Equal(t, 1, env.api.dropletCount())
	assert.Equal(t, 0, env.api.requestCount(http.MethodDelete, "/v2/droplets/"+strconv.Itoa(id)))
}

func TestDeleteNeverDeletesByTag(t *testing.T) {
	env := newTestEnv(t, nil)
	ctx := testContext(t)
	first, err := env.p.Create(ctx, testSpec("i1"))
	require.NoError(t, err)
	_, err = env.p.Create(ctx, testSpec("i2"))
	require.NoError(t, err)

	require.NoError(t, env.p.Delete(ctx, first.ID))

	assert.Equal(t, 1, env.api.dropletCount())
	for _, r := range env.api.requestLog() {
		if r.method == http.MethodDelete {
			assert.Empty(t, r.query.Get("tag_name"), "request %s", r)
		}
	}
}
