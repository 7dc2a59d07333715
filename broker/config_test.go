package broker

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigValid(t *testing.T) {
	require.NoError(t, testConfig().Validate())
}

func TestConfigDefaultsNeedServiceAndPlans(t *testing.T) {
	err := DefaultConfig().Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "service_id: missing")
	assert.Contains(t, err.Error(), "plans: no plans")
}

func TestConfigValidateErrors(t *testing.T) {
	cases := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"service name with space", func(c *Config) { c.ServiceName = "dflb tenant" }, "service_name: \"dflb tenant\" has ' '"},
		{"service ID with slash", func(c *Config) { c.ServiceID = "a/b" }, "service_id: \"a/b\""},
		{"empty description", func(c *Config) { c.ServiceDescription = " " }, "service_description: missing"},
		{"bad env name", func(c *Config) { c.PasswordEnv = "1PASS" }, "password_env: \"1PASS\""},
		{"same env names", func(c *Config) { c.PasswordEnv = c.UsernameEnv }, "is also username_env"},
		{"URL without placeholder", func(c *Config) { c.TenantURL = "http://apps.localhost" }, "tenant_url: \"http://apps.localhost\" has no {tenant}"},
		{"URL not http", func(c *Config) { c.TenantURL = "ftp://{tenant}.example.com" }, "absolute http or https URL"},
		{"duplicate plan name", func(c *Config) { c.Plans[1].Name = "free" }, "plans[1].name: \"free\" is also the name of plans[0]"},
		{"duplicate plan ID", func(c *Config) { c.Plans[1].ID = testFreePlanID }, "plans[1].id"},
		{"plan ID is service ID", func(c *Config) { c.Plans[0].ID = testServiceID }, "has the service_id"},
		{"plan without description", func(c *Config) { c.Plans[0].Description = "" }, "plans[0].description: missing"},
		{"negative limit", func(c *Config) { c.Plans[0].Limits.MaxConcurrent = -1 }, "plans[0].limits: max_concurrent -1"},
		{"negative weight", func(c *Config) { c.Plans[1].Weight = -1 }, "plans[1].weight: -1"},
		{"unknown default plan", func(c *Config) { c.DefaultPlan = "gold" }, "default_plan: no plan is named \"gold\"; use one of: free, pro"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			tc.change(&cfg)
			err := cfg.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestConfigTenantPlansDefaultFirst(t *testing.T) {
	cfg := testConfig()
	assert.Equal(t, "free", cfg.TenantPlans()[0].Name, "no default plan keeps the order")

	cfg.DefaultPlan = "pro"
	plans := cfg.TenantPlans()
	require.Len(t, plans, 2)
	assert.Equal(t, "pro", plans[0].Name)
	assert.Equal(t, "free", plans[1].Name)
	assert.Equal(t, "free", cfg.Plans[0].Name, "TenantPlans must not reorder the configuration")
}

func TestConfigCheckCredentials(t *testing.T) {
	cfg := testConfig()
	t.Setenv(testUsernameEnv, "")
	t.Setenv(testPasswordEnv, "pw-secret-value")
	err := cfg.CheckCredentials()
	require.Error(t, err)
	assert.Contains(t, err.Error(), testUsernameEnv)
	assert.NotContains(t, err.Error(), testPasswordEnv, "only the unset variable is named")
	assert.NotContains(t, err.Error(), "pw-secret-value")

	t.Setenv(testUsernameEnv, testUsername)
	assert.NoError(t, cfg.CheckCredentials())
}

func TestTenantURL(t *testing.T) {
	cfg := DefaultConfig()
	assert.Equal(t, "http://acme.apps.localhost:8080", cfg.tenantURL("acme"))
	cfg.TenantURL = "https://apps.example.com/t/{tenant}/"
	assert.Equal(t, "https://apps.example.com/t/acme/", cfg.tenantURL("acme"))
}
