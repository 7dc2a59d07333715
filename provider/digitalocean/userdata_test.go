package digitalocean

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/dflb/dflb/agent"
)

// renderTestUserData renders the user data of instance i1 and decodes it.
func renderTestUserData(t *testing.T, configure func(*Config)) (string, map[string]cloudFile, cloudConfig) {
	t.Helper()
	env := newTestEnv(t, configure)
	userData, err := env.p.renderUserData(testSpec("i1"), "10.116.0.0/20")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(userData, "#cloud-config\n"))

	var cc cloudConfig
	require.NoError(t, yaml.Unmarshal([]byte(userData), &cc))
	files := make(map[string]cloudFile)
	for _, f := range cc.WriteFiles {
		files[f.Path] = f
	}
	return userData, files, cc
}

func TestUserDataWritesValidDFMConfig(t *testing.T) {
	_, files, _ := renderTestUserData(t, func(c *Config) {
		c.Components = []ComponentTemplate{{Name: "app", Port: 9001}, {Name: "worker", Port: 9002, Args: []string{"-mode", "batch"}}}
	})
	template, ok := files[dfmTemplatePath]
	require.True(t, ok, "user data writes %s", dfmTemplatePath)

	// The first-boot script replaces the placeholder with the VPC address.
	text := strings.ReplaceAll(template.Content, addressPlaceholder, "10.116.0.7")
	cfg, err := agent.Parse([]byte(text), dfmConfigPath)
	require.NoError(t, err, "DFM rejects its configuration:\n%s", text)

	assert.Equal(t, "i1", cfg.Instance)
	assert.Equal(t, "10.116.0.7:7070", cfg.Listen)
	assert.Equal(t, "DFM_TOKEN", cfg.TokenEnv)
	assert.Equal(t, "/var/lib/dfm", cfg.StateDir)
	assert.Equal(t, "http://10.116.0.100:9090/v1/notifications", cfg.Notify.URL)
	require.Len(t, cfg.Components, 2)
	assert.Equal(t, "/usr/local/bin/component", cfg.Components[0].Command)
	assert.Equal(t, []string{"-instance", "i1", "-component", "app", "-listen", "10.116.0.7:9001", "-tenants-file", "{tenants_file}"}, cfg.Components[0].Args)
	assert.Equal(t, []string{"-instance", "i1", "-component", "worker", "-listen", "10.116.0.7:9002", "-tenants-file", "{tenants_file}", "-mode", "batch"}, cfg.Components[1].Args)
	assert.NotContains(t, template.Content, testSpec("i1").Bootstrap.Secret, "the secret stays out of dfm.yaml")
}

func TestUserDataCarriesSecretInPrivateEnvFile(t *testing.T) {
	_, files, _ := renderTestUserData(t, nil)

	env, ok := files[dfmEnvPath]
	require.True(t, ok)
	assert.Equal(t, "0600", env.Permissions)
	assert.Equal(t, "root:root", env.Owner)
	assert.Equal(t, "DFM_TOKEN='"+testSpec("i1").Bootstrap.Secret+"'\n", env.Content)

	dropIn, ok := files[dfmDropInPath]
	require.True(t, ok)
	assert.Equal(t, "[Service]\nEnvironmentFile=/etc/dfm/dfm.env\n", dropIn.Content)
}

func TestUserDataStartsDFM(t *testing.T) {
	_, files, cc := renderTestUserData(t, nil)

	script, ok := files[configureScript]
	require.True(t, ok)
	assert.Equal(t, "0755", script.Permissions)
	assert.Contains(t, script.Content, "ip -4 route get 10.116.0.1 ")
	assert.Contains(t, script.Content, `sed "s/@PRIVATE_IPV4@/$address/g" /etc/dfm/dfm.yaml.in >/etc/dfm/dfm.yaml`)
	assert.Contains(t, script.Content, "systemctl enable --now dfm.service")
	assert.Equal(t, [][]string{{configureScript}}, cc.RunCmd)
}

func TestUserDataWithoutNotifyURL(t *testing.T) {
	env := newTestEnv(t, nil)
	spec := testSpec("i1")
	spec.Bootstrap.NotifyURL = ""

	data, err := env.p.renderDFMConfig(spec)
	require.NoError(t, err)

	assert.NotContains(t, string(data), "notify")
}

func TestUserDataRejectsNonIPv4Range(t *testing.T) {
	env := newTestEnv(t, nil)

	_, err := env.p.renderUserData(testSpec("i1"), "fd00::/64")
	require.Error(t, err)

	assert.Contains(t, err.Error(), `IP range "fd00::/64", which is not an IPv4 CIDR`)
}
