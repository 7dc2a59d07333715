package digitalocean

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/provider"
)

func TestCreateReturnsActiveInstance(t *testing.T) {
	env := newTestEnv(t, nil)

	inst, err := env.p.Create(testContext(t), testSpec("i1"))
	require.NoError(t, err)

	assert.Equal(t, "3164444", inst.ID)
	assert.Equal(t, "i1", inst.Name)
	assert.Equal(t, "10.116.0.2", inst.Address)
	assert.Equal(t, "http://10.116.0.2:7070", inst.DFMURL)
	assert.Equal(t, provider.StateActive, inst.State)
	assert.False(t, inst.Created.IsZero())
	assert.Equal(t, 1, env.api.dropletCount())
	assert.Contains(t, env.health.probes(), "10.116.0.2:7070/healthz")
}

func TestCreateSendsDropletSettings(t *testing.T) {
	env := newTestEnv(t, nil)

	_, err := env.p.Create(testContext(t), testSpec("i1"))
	require.NoError(t, err)

	bodies := env.api.createRequests()
	require.Len(t, bodies, 1)
	body := bodies[0]
	assert.Equal(t, "test-i1", body["name"])
	assert.Equal(t, "nyc3", body["region"])
	assert.Equal(t, "s-1vcpu-1gb", body["size"])
	assert.Equal(t, float64(123456), body["image"], "a numeric image is sent as an ID")
	assert.Equal(t, fakeVPC, body["vpc_uuid"])
	assert.Equal(t, []any{"3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa", float64(289794)}, body["ssh_keys"])
	assert.ElementsMatch(t, []any{"dflb-cluster:test", "dflb-instance:test:i1", "dflb-firewall"}, body["tags"])
	userData, _ := body["user_data"].(string)
	assert.True(t, strings.HasPrefix(userData, "#cloud-config\n"), "user data: %q", userData)
}

func TestCreateImageSlugAndSpecImage(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.Image = "dflb-dfm-2024" })

	_, err := env.p.Create(testContext(t), testSpec("i1"))
	require.NoError(t, err)
	spec := testSpec("i2")
	spec.Image = "987654"
	_, err = env.p.Create(testContext(t), spec)
	require.NoError(t, err)

	bodies := env.api.createRequests()
	require.Len(t, bodies, 2)
	assert.Equal(t, "dflb-dfm-2024", bodies[0]["image"])
	assert.Equal(t, float64(987654), bodies[1]["image"])
}

func TestCreateExistingNameReturnsSameDroplet(t *testing.T) {
	env := newTestEnv(t, nil)
	ctx := testContext(t)

	first, err := env.p.Create(ctx, testSpec("i1"))
	require.NoError(t, err)
	second, err := env.p.Create(ctx, testSpec("i1"))
	require.NoError(t, err)

	assert.Equal(t, first.ID, second.ID)
	assert.Equal(t, 1, env.api.dropletCount())
	assert.Equal(t, 1, env.api.requestCount(http.MethodPost, "/v2/droplets"))
}

func TestCreateFindsDropletOfLostResponse(t *testing.T) {
	env := newTestEnv(t, nil)
	// The fake creates the droplet but never responds, so the client times
	// out after RequestTimeout without knowing the outcome.
	env.api.addFault("POST /v2/droplets", fault{lose: true})

	inst, err := env.p.Create(testContext(t), testSpec("i1"))
	require.NoError(t, err)

	assert.Equal(t, 1, env.api.dropletCount(), "a lost response must not lead to a second droplet")
	assert.Equal(t, 1, env.api.requestCount(http.MethodPost, "/v2/droplets"))
	assert.Equal(t, "3164444", inst.ID)
	assert.Contains(t, env.log.String(), "found the droplet of a create request whose response was lost")
}

func TestCreateServerErrorListsBeforeRetry(t *testing.T) {
	env := newTestEnv(t, nil)
	env.api.addFault("POST /v2/droplets", fault{status: http.StatusInternalServerError, message: "Unexpected server-side error"})

	_, err := env.p.Create(testContext(t), testSpec("i1"))
	require.NoError(t, err)

	assert.Equal(t, 1, env.api.dropletCount())
	assert.Equal(t, 2, env.api.requestCount(http.MethodPost, "/v2/droplets"))

	// Between the two create requests the provider listed by the
	// instance tag.
	var afterFirstPost []string
	posts := 0
	for _, r := range env.api.requestLog() {
		if r.method == http.MethodPost && r.path == "/v2/droplets" {
			posts++
			continue
		}
		if posts == 1 {
			afterFirstPost = append(afterFirstPost, r.String())
		}
	}
	require.NotEmpty(t, afterFirstPost)
	assert.Contains(t, afterFirstPost[0], "tag_name=dflb-instance%3Atest%3Ai1")
}

func TestCreateWaitsForRateLimitReset(t *testing.T) {
	env := newTestEnv(t, nil)
	reset := env.clock.now().Add(3 * time.Second)
	env.api.addFault("POST /v2/droplets", fault{
		status:  http.StatusTooManyRequests,
		message: "API Rate limit exceeded.",
		headers: map[string]string{
			"Ratelimit-Limit":     "5000",
			"Ratelimit-Remaining": "0",
			"Ratelimit-Reset":     strconv.FormatInt(reset.Unix()+1, 10),
		},
	})

	inst, err := env.p.Create(testContext(t), testSpec("i1"))
	require.NoError(t, err)

	assert.Equal(t, provider.StateActive, inst.State)
	assert.Equal(t, 1, env.api.dropletCount())
	assert.Equal(t, 2, env.api.requestCount(http.MethodPost, "/v2/droplets"))
	waited := false
	for _, d := range env.clock.recorded() {
		if d >= 2*time.Second && d <= 5*time.Second {
			waited = true
		}
	}
	assert.True(t, waited, "no wait until the reset among %v", env.clock.recorded())
}

func TestCreateRateLimitBeyondMaxWaitFails(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.RateLimitMaxWait = time.Minute })
	env.api.addFault("POST /v2/droplets", fault{
		status:  http.StatusTooManyRequests,
		headers: map[string]string{"Retry-After": "600"},
	})

	_, err := env.p.Create(testContext(t), testSpec("i1"))
	require.Error(t, err)

	assert.ErrorIs(t, err, provider.ErrRateLimited)
	retryable, after := provider.IsRetryable(err)
	assert.True(t, retryable)
	assert.Equal(t, 10*time.Minute, after)
	assert.Equal(t, 0, env.api.dropletCount())
}

func TestCreateInvalidSizeIsNotRetried(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.Size = "s-64vcpu-1tb" })

	_, err := env.p.Create(testContext(t), testSpec("i1"))
	require.Error(t, err)

	assert.ErrorIs(t, err, provider.ErrPermanent)
	assert.Contains(t, err.Error(), "test-i1", "the error names the droplet")
	assert.Contains(t, err.Error(), "You specified an invalid size for Droplet creation.")
	assert.Contains(t, err.Error(), "422")
	assert.Equal(t, 1, env.api.requestCount(http.MethodPost, "/v2/droplets"))
	assert.Equal(t, 0, env.api.dropletCount())
}

func TestCreateStopsAtMaxDroplets(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.MaxDroplets = 2 })
	ctx := testContext(t)
	env.api.addDroplet("other", "dflb-cluster:other")

	for _, name := range []string{"i1", "i2"} {
		_, err := env.p.Create(ctx, testSpec(name))
		require.NoError(t, err)
	}
	_, err := env.p.Create(ctx, testSpec("i3"))
	require.Error(t, err)

	assert.ErrorIs(t, err, provider.ErrPermanent)
	assert.Contains(t, err.Error(), "max_droplets is 2")
	assert.Contains(t, err.Error(), "test-i3")
	assert.Equal(t, 2, env.api.requestCount(http.MethodPost, "/v2/droplets"))
	assert.Equal(t, 3, env.api.dropletCount())
}

func TestCreateTimesOutWhenDropletStaysNew(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.CreateTimeout = time.Minute })
	env.api.setActiveAfter(never)

	_, err := env.p.Create(testContext(t), testSpec("i1"))
	require.Error(t, err)

	assert.ErrorIs(t, err, provider.ErrTransient)
	assert.Contains(t, err.Error(), "not active with a VPC address after 1m0s")
	assert.Contains(t, err.Error(), `status "new"`)
}

func TestCreateWaitsUntilDFMIsHealthy(t *testing.T) {
	env := newTestEnv(t, nil)
	env.health.failNext("10.116.0.2:7070", 5)

	inst, err := env.p.Create(testContext(t), testSpec("i1"))
	require.NoError(t, err)

	assert.Equal(t, provider.StateActive, inst.State)
	assert.GreaterOrEqual(t, len(env.health.probes()), 6)
}

func TestCreateFailsWhenDFMNeverAnswers(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.ReadyTimeout = 2 * time.Minute })
	env.health.setDown("10.116.0.2:7070", true)

	_, err := env.p.Create(testContext(t), testSpec("i1"))
	require.Error(t, err)

	assert.ErrorIs(t, err, provider.ErrTransient)
	assert.Contains(t, err.Error(), "http://10.116.0.2:7070/healthz")
	assert.Contains(t, err.Error(), "cloud-init-output.log")
}

func TestCreateRejectsInvalidSpec(t *testing.T) {
	env := newTestEnv(t, nil)
	tests := []struct {
		name string
		spec func() provider.Spec
		want string
	}{
		{"dot in name", func() provider.Spec { return testSpec("i.1") }, `invalid instance name "i.1"`},
		{"upper case", func() provider.Spec { return testSpec("I1") }, `invalid instance name "I1"`},
		{"no secret", func() provider.Spec { s := testSpec("i1"); s.Bootstrap.Secret = ""; return s }, "missing Bootstrap.Secret"},
		{"quote in secret", func() provider.Spec { s := testSpec("i1"); s.Bootstrap.Secret = "a'b"; return s }, "single quote"},
		{"relative notify URL", func() provider.Spec { s := testSpec("i1"); s.Bootstrap.NotifyURL = "/v1/notifications"; return s }, "invalid Bootstrap.NotifyURL"},
		{"bad label", func() provider.Spec { s := testSpec("i1"); s.Tags = []string{"a b"}; return s }, `invalid Spec.Tags[0] "a b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := env.p.Create(testContext(t), tt.spec())
			require.Error(t, err)
			assert.ErrorIs(t, err, provider.ErrPermanent)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	assert.Equal(t, 0, env.api.requestCount(http.MethodPost, "/v2/droplets"))
}

func TestCreateUnknownVPCIsPermanent(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.VPCUUID = "00000000-0000-0000-0000-000000000000" })

	_, err := env.p.Create(testContext(t), testSpec("i1"))
	require.Error(t, err)

	assert.ErrorIs(t, err, provider.ErrPermanent)
	assert.Contains(t, err.Error(), "vpc_uuid 00000000-0000-0000-0000-000000000000: no such VPC")
}

func TestCreatePowersOnExistingDropletThatIsOff(t *testing.T) {
	env := newTestEnv(t, nil)
	id := env.api.addDroplet("test-i1", "dflb-cluster:test", "dflb-instance:test:i1")
	env.api.setDropletStatus(id, "off")

	inst, err := env.p.Create(testContext(t), testSpec("i1"))
	require.NoError(t, err)

	assert.Equal(t, strconv.Itoa(id), inst.ID)
	assert.Equal(t, provider.StateActive, inst.State)
	assert.Equal(t, []string{"power_on"}, env.api.actionKinds(id))
	assert.Equal(t, 0, env.api.requestCount(http.MethodPost, "/v2/droplets"))
}

func TestCreateConcurrentSameNameMakesOneDroplet(t *testing.T) {
	env := newTestEnv(t, nil)
	ctx := testContext(t)

	ids := make([]string, 4)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			inst, err := env.p.Create(ctx, testSpec("i1"))
			ids[i], errs[i] = inst.ID, err
		})
	}
	wg.Wait()

	for i := range ids {
		require.NoError(t, errs[i])
		assert.Equal(t, ids[0], ids[i])
	}
	assert.Equal(t, 1, env.api.dropletCount())
}
