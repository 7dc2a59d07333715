package digitalocean

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func validConfig() Config {
	return Config{
		TokenEnv: testTokenEnv,
		Cluster:  "prod",
		Region:   "nyc3",
		Size:     "s-1vcpu-1gb",
		Image:    "123456",
		VPCUUID:  fakeVPC,
	}
}

func TestNewFillsDefaults(t *testing.T) {
	t.Setenv(testTokenEnv, testToken)

	p, err := New(validConfig(), nil)
	require.NoError(t, err)

	cfg := p.cfg
	assert.Equal(t, DefaultAPIURL, cfg.APIURL)
	assert.Equal(t, 10, cfg.MaxDroplets)
	assert.Equal(t, 7070, cfg.DFMPort)
	assert.Equal(t, "/usr/local/bin/component", cfg.ComponentBinary)
	assert.Equal(t, []ComponentTemplate{{Name: "app", Port: 9001}}, cfg.Components)
	assert.Equal(t, 5*time.Minute, cfg.CreateTimeout)
	assert.Equal(t, 5*time.Minute, cfg.ReadyTimeout)
	assert.Equal(t, 2*time.Minute, cfg.RebootTimeout)
	assert.Equal(t, 5*time.Minute, cfg.ActionTimeout)
	assert.Equal(t, 5*time.Second, cfg.PollInterval)
	assert.Equal(t, 30*time.Second, cfg.RequestTimeout)
	assert.Equal(t, 2*time.Second, cfg.HealthRequestTimeout)
	assert.Equal(t, 4, cfg.MaxRetries)
	assert.Equal(t, time.Minute, cfg.RateLimitMaxWait)
}

func TestNewDefaultTokenEnv(t *testing.T) {
	t.Setenv(DefaultTokenEnv, "")
	cfg := validConfig()
	cfg.TokenEnv = ""

	_, err := New(cfg, nil)
	require.Error(t, err)

	assert.Contains(t, err.Error(), "the environment variable DIGITALOCEAN_TOKEN is empty")
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	t.Setenv(testTokenEnv, testToken)
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"no cluster", func(c *Config) { c.Cluster = "" }, "cluster is missing: set provider.digitalocean.cluster"},
		{"bad cluster", func(c *Config) { c.Cluster = "Prod_1" }, `cluster "Prod_1" is invalid`},
		{"no region", func(c *Config) { c.Region = "" }, "region is missing: set provider.digitalocean.region"},
		{"no size", func(c *Config) { c.Size = "" }, "size is missing"},
		{"no image", func(c *Config) { c.Image = "" }, "image is missing"},
		{"bad image", func(c *Config) { c.Image = "my image" }, `image "my image" is invalid`},
		{"no vpc", func(c *Config) { c.VPCUUID = "" }, "vpc_uuid is missing"},
		{"bad vpc", func(c *Config) { c.VPCUUID = "default" }, `vpc_uuid "default" is not a UUID`},
		{"empty ssh key", func(c *Config) { c.SSHKeys = []string{""} }, "ssh_keys[0] is empty"},
		{"bad tag", func(c *Config) { c.Tags = []string{"team web"} }, `tags[0] "team web" is invalid`},
		{"negative max droplets", func(c *Config) { c.MaxDroplets = -1 }, "max_droplets -1 is less than 1"},
		{"dfm port", func(c *Config) { c.DFMPort = 70000 }, "dfm_port 70000 is out of range"},
		{"relative component binary", func(c *Config) { c.ComponentBinary = "bin/component" }, `component_binary "bin/component" is not an absolute path`},
		{"component port is dfm port", func(c *Config) { c.Components = []ComponentTemplate{{Name: "app", Port: 7070}} }, "components[0].port 7070 is already used by DFM"},
		{"component name", func(c *Config) { c.Components = []ComponentTemplate{{Name: "App", Port: 9001}} }, `components[0].name "App" is invalid`},
		{"negative duration", func(c *Config) { c.RebootTimeout = -time.Second }, "reboot_timeout -1s is negative"},
		{"negative retries", func(c *Config) { c.MaxRetries = -1 }, "max_retries -1 is negative"},
		{"api url path", func(c *Config) { c.APIURL = "http://127.0.0.1:8080/fake/" }, `has the path "/fake/", which godo drops`},
		{"api url plain http", func(c *Config) { c.APIURL = "http://api.example.com" }, "plain http to a host that is not loopback"},
		{"api url credentials", func(c *Config) { c.APIURL = "https://user:hunter2@api.example.com" }, "contains credentials"},
		{"api url scheme", func(c *Config) { c.APIURL = "ftp://api.example.com" }, `api_url "ftp://api.example.com" is invalid`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig()
			tt.change(&cfg)

			_, err := New(cfg, nil)
			require.Error(t, err)

			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "hunter2")
		})
	}
}

func TestNewAcceptsLoopbackHTTP(t *testing.T) {
	t.Setenv(testTokenEnv, testToken)
	cfg := validConfig()
	cfg.APIURL = "http://127.0.0.1:8080"

	_, err := New(cfg, nil)

	assert.NoError(t, err)
}
