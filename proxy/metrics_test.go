package proxy

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each metric family of the proxy has one TYPE line, as the Prometheus
// text format requires, with metadata on as dflb runs it.
func TestPrometheusOneTypePerFamily(t *testing.T) {
	metrics.ExposeMetadata(true)
	t.Cleanup(func() { metrics.ExposeMetadata(false) })
	tp := startProxy(t, Options{MaxConns: 10})
	require.NoError(t, tp.SetTenantLimits(map[string]TenantLimit{"acme": {Rate: 10}}))
	// One request, so that the server has started serving before the
	// cleanup shuts it down.
	resp, err := http.Get("http://" + tp.addr + "/")
	require.NoError(t, err)
	resp.Body.Close()

	var buf bytes.Buffer
	tp.WritePrometheus(&buf)
	types := map[string]int{}
	for _, line := range strings.Split(buf.String(), "\n") {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			types[strings.Fields(name)[0]]++
		}
	}
	for _, family := range []string{"dflb_proxy_rejected_total", "dflb_websocket_tunnels", "dflb_proxy_connections",
		"dflb_proxy_connections_rejected_total", "dflb_tenant_limited_total", "dflb_tenant_queued"} {
		assert.Equal(t, 1, types[family], "TYPE lines of %s in\n%s", family, buf.String())
	}
}
