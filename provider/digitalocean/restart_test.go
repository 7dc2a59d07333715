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

func TestRestartReboots(t *testing.T) {
	env := newTestEnv(t, nil)
	inst, err := env.p.Create(testContext(t), testSpec("i1"))
	require.NoError(t, err)
	id, _ := strconv.Atoi(inst.ID)

	require.NoError(t, env.p.Restart(testContext(t), inst.ID))

	assert.Equal(t, []string{"create", "reboot"}, env.api.actionKinds(id))
	assert.NotContains(t, env.log.String(), "power cycling")
}

func TestRestartPowerCyclesWhenRebootTimesOut(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.RebootTimeout = time.Minute })
	inst, err := env.p.Create(testContext(t), testSpec("i1"))
	require.NoError(t, err)
	id, _ := strconv.Atoi(inst.ID)
	env.api.setActionDelay("reboot", never)

	require.NoError(t, env.p.Restart(testContext(t), inst.ID))

	assert.Equal(t, []string{"create", "reboot", "power_cycle"}, env.api.actionKinds(id))
	assert.Contains(t, env.log.String(), "reboot did not complete, power cycling the droplet")
	assert.Greater(t, env.api.requestCount(http.MethodGet, "/v2/droplets/"+inst.ID+"/actions/36804637"), 1,
		"the reboot action was polled")
}

func TestRestartFailsWhenPowerCycleTimesOut(t *testing.T) {
	env := newTestEnv(t, func(c *Config) {
		c.RebootTimeout = time.Minute
		c.ActionTimeout = time.Minute
	})
	inst, err := env.p.Create(testContext(t), testSpec("i1"))
	require.NoError(t, err)
	env.api.setActionDelay("reboot", never)
	env.api.setActionDelay("power_cycle", never)

	err = env.p.Restart(testContext(t), inst.ID)
	require.Error(t, err)

	assert.ErrorIs(t, err, provider.ErrTransient)
	assert.Contains(t, err.Error(), "power_cycle action")
	assert.Contains(t, err.Error(), "still in-progress after 1m0s")
}

func TestRestartPowersOnDropletThatIsOff(t *testing.T) {
	env := newTestEnv(t, nil)
	id := env.api.addDroplet("test-i1", "dflb-cluster:test", "dflb-instance:test:i1")
	env.api.setDropletStatus(id, "off")

	require.NoError(t, env.p.Restart(testContext(t), strconv.Itoa(id)))

	assert.Equal(t, []string{"power_on"}, env.api.actionKinds(id))
}

func TestRestartUnknownDroplet(t *testing.T) {
	env := newTestEnv(t, nil)

	err := env.p.Restart(testContext(t), "12345")
	require.Error(t, err)

	assert.ErrorIs(t, err, provider.ErrNotFound)
	assert.Contains(t, err.Error(), "The resource you were accessing could not be found.")
}
