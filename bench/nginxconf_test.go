package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testNginxConfig(dir string) NginxConfig {
	c := NginxConfig{
		Dir:       dir,
		Listen:    "127.0.0.1:18081",
		Workers:   2,
		Keepalive: 256,
		Upstreams: []NginxUpstream{
			{Name: "i1", Servers: []string{"127.0.0.1:19101"}},
			{Name: "i2", Servers: []string{"127.0.0.1:19102"}},
			{Name: "i1_i2", Servers: []string{"127.0.0.1:19101", "127.0.0.1:19102"}},
		},
	}
	first, second := SplitTenants(TenantIDs(1000))
	for _, id := range first {
		c.Routes = append(c.Routes, NginxRoute{Host: id + HostSuffix, Upstream: "i1"})
	}
	for _, id := range second {
		c.Routes = append(c.Routes, NginxRoute{Host: id + HostSuffix, Upstream: "i2"})
	}
	c.Routes = append(c.Routes, NginxRoute{Host: BenchTenant + HostSuffix, Upstream: "i1_i2"})
	return c
}

func TestWriteNginxConfContent(t *testing.T) {
	var b strings.Builder
	require.NoError(t, WriteNginxConf(&b, testNginxConfig("/tmp/bench")))
	conf := b.String()

	for _, want := range []string{
		"worker_processes 2;",
		"daemon off;",
		"pid /tmp/bench/nginx.pid;",
		"error_log /tmp/bench/error.log warn;",
		"access_log off;",
		"keepalive 256;",
		"proxy_http_version 1.1;",
		`proxy_set_header Connection "";`,
		"proxy_set_header Host $http_host;",
		"proxy_set_header X-Request-ID $request_id;",
		"proxy_set_header X-Tenant-ID $tenant;",
		"listen 127.0.0.1:18081;",
		"t0001.apps.localhost i1;",
		"t1000.apps.localhost i2;",
		"bench.apps.localhost i1_i2;",
		"server 127.0.0.1:19102;",
	} {
		assert.Contains(t, conf, want)
	}
	assert.Equal(t, 1001, strings.Count(conf, ".apps.localhost i"), "one map entry per tenant host")
}

func TestWriteNginxConfRejects(t *testing.T) {
	for name, edit := range map[string]func(*NginxConfig){
		"relative dir":       func(c *NginxConfig) { c.Dir = "tmp" },
		"no workers":         func(c *NginxConfig) { c.Workers = 0 },
		"no keepalive":       func(c *NginxConfig) { c.Keepalive = 0 },
		"bad upstream":       func(c *NginxConfig) { c.Upstreams[0].Name = "a;b" },
		"empty upstream":     func(c *NginxConfig) { c.Upstreams[0].Servers = nil },
		"bad host":           func(c *NginxConfig) { c.Routes[0].Host = "a b" },
		"undefined upstream": func(c *NginxConfig) { c.Routes[0].Upstream = "i9" },
	} {
		c := testNginxConfig("/tmp/bench")
		edit(&c)
		assert.Error(t, WriteNginxConf(&strings.Builder{}, c), name)
	}
}

// TestNginxAcceptsConf runs `nginx -t` on the generated file when NGINX is installed.
func TestNginxAcceptsConf(t *testing.T) {
	nginx, err := FindNginx("")
	if err != nil {
		t.Skipf("nginx not installed: %v", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "nginx.conf")
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, WriteNginxConf(f, testNginxConfig(dir)))
	require.NoError(t, f.Close())

	out, err := exec.Command(nginx, "-t", "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", path).CombinedOutput()
	require.NoError(t, err, "nginx -t:\n%s", out)
	assert.Contains(t, string(out), "test is successful")
}
