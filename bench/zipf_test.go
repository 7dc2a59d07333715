package bench

import (
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestZipfCDFShape(t *testing.T) {
	cdf, err := ZipfCDF(1000, ZipfS, nil)
	require.NoError(t, err)
	require.Len(t, cdf, 1000)

	assert.Equal(t, 1.0, cdf[999])
	for i := 1; i < len(cdf); i++ {
		require.Greater(t, cdf[i], cdf[i-1], "CDF increases at rank %d", i+1)
	}
	// Rank 1 has weight 1 of the harmonic sum H(1000, 1.1), about 6.7.
	harmonic := 0.0
	for k := 1; k <= 1000; k++ {
		harmonic += math.Pow(float64(k), -ZipfS)
	}
	assert.InDelta(t, 1/harmonic, cdf[0], 1e-12)
}

func TestZipfCDFSubset(t *testing.T) {
	odd := func(rank int) bool { return rank%2 == 1 }
	cdf, err := ZipfCDF(1000, ZipfS, odd)
	require.NoError(t, err)
	require.Len(t, cdf, 500)
	assert.Equal(t, 1.0, cdf[499])

	// The weights keep their ratio: rank 1 over rank 3 is 3^1.1.
	assert.InDelta(t, math.Pow(3, ZipfS), cdf[0]/(cdf[1]-cdf[0]), 1e-9)
}

func TestZipfCDFRejects(t *testing.T) {
	_, err := ZipfCDF(0, ZipfS, nil)
	assert.Error(t, err)
	_, err = ZipfCDF(10, 0, nil)
	assert.Error(t, err)
	_, err = ZipfCDF(10, ZipfS, func(int) bool { return false })
	assert.Error(t, err)
}

func TestWriteZipfScriptContent(t *testing.T) {
	tenants := TenantIDs(3)
	cdf, err := ZipfCDF(3, ZipfS, nil)
	require.NoError(t, err)

	var host, header strings.Builder
	require.NoError(t, WriteZipfScript(&host, tenants, cdf, ByHost))
	require.NoError(t, WriteZipfScript(&header, tenants, cdf, ByHeader))

	assert.Contains(t, host.String(), `"t0003",`)
	assert.Contains(t, host.String(), "local by_host = true")
	assert.Contains(t, header.String(), "local by_host = false")
	assert.Contains(t, host.String(), "  1,\n}")
	assert.Error(t, WriteZipfScript(&host, tenants, cdf[:2], ByHost))
}

// TestZipfScriptRunsInWrk runs the script in wrk against a loopback server
// that counts the tenants it receives, when wrk is installed.
func TestZipfScriptRunsInWrk(t *testing.T) {
	wrk, err := FindWrk("")
	if err != nil {
		t.Skipf("wrk not installed: %v", err)
	}

	tenants := TenantIDs(1000)
	cdf, err := ZipfCDF(1000, ZipfS, nil)
	require.NoError(t, err)

	for _, sel := range []TenantSelector{ByHost, ByHeader} {
		var mu sync.Mutex
		counts := map[string]int{}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tenant := r.Header.Get("X-Tenant-ID")
			if sel == ByHost {
				tenant, _ = strings.CutSuffix(r.Host, HostSuffix)
			}
			mu.Lock()
			counts[tenant]++
			mu.Unlock()
		}))

		script := filepath.Join(t.TempDir(), "zipf.lua")
		f, err := os.Create(script)
		require.NoError(t, err)
		require.NoError(t, WriteZipfScript(f, tenants, cdf, sel))
		require.NoError(t, f.Close())

		out, err := exec.Command(wrk, "-t2", "-c4", "-d1s", "-s", script, srv.URL+"/?size=1").CombinedOutput()
		srv.Close()
		require.NoError(t, err, "wrk:\n%s", out)

		total := 0
		for tenant, n := range counts {
			assert.True(t, slices.Contains(tenants, tenant), "selector %d sent unknown tenant %q", sel, tenant)
			total += n
		}
		require.Greater(t, total, 1000, "wrk sent too few requests to compare shares:\n%s", out)
		// Rank 1 gets cdf[0] of the requests, about 15%.
		assert.InDelta(t, cdf[0], float64(counts["t0001"])/float64(total), 0.02, "selector %d", sel)
	}
}
