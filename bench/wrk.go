package bench

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// scenario is one load pattern, run against every target.
type scenario struct {
	name string
	// args returns wrk's target-specific arguments: headers or script, then the URL.
	args func(target string) []string
}

// scenarios returns the single-tenant and the Zipf scenario. The Zipf
// scripts must exist in h.dir (see writeScripts).
func (h *harness) scenarios() []scenario {
	path := "/?size=" + strconv.Itoa(responseSize)
	return []scenario{
		{
			name: "1KiB single tenant",
			args: func(target string) []string {
				if target == TargetDirect {
					return []string{"-H", "X-Tenant-ID: " + BenchTenant, baseURL(target) + path}
				}
				return []string{"-H", "Host: " + BenchTenant + HostSuffix, baseURL(target) + path}
			},
		},
		{
			name: fmt.Sprintf("1KiB zipf %d tenants", tenantCount),
			args: func(target string) []string {
				script := filepath.Join(h.dir, "zipf-host.lua")
				if target == TargetDirect {
					script = filepath.Join(h.dir, "zipf-direct.lua")
				}
				return []string{"-s", script, baseURL(target) + path}
			},
		},
	}
}

// writeScripts writes the Zipf scripts: zipf-host.lua names all tenants by
// Host, zipf-direct.lua names only the tenants of i1 by X-Tenant-ID because
// the direct target is i1 alone.
func (h *harness) writeScripts() error {
	tenants := TenantIDs(tenantCount)
	cdf, err := ZipfCDF(tenantCount, ZipfS, nil)
	if err != nil {
		return err
	}
	path := filepath.Join(h.dir, "zipf-host.lua")
	if err := writeFile(path, func(f *os.File) error { return WriteZipfScript(f, tenants, cdf, ByHost) }); err != nil {
		return err
	}

	i1Tenants, _ := SplitTenants(tenants)
	// SplitTenants gives i1 the odd ranks.
	i1CDF, err := ZipfCDF(tenantCount, ZipfS, func(rank int) bool { return rank%2 == 1 })
	if err != nil {
		return err
	}
	path = filepath.Join(h.dir, "zipf-direct.lua")
	return writeFile(path, func(f *os.File) error { return WriteZipfScript(f, i1Tenants, i1CDF, ByHeader) })
}

func baseURL(target string) string {
	switch target {
	case TargetNginx:
		return "http://" + addrNginx
	case TargetDFLB:
		return "http://" + addrDFLB
	default:
		return "http://" + addrI1
	}
}

// runWrk runs wrk for d with the given target arguments and parses its output.
// The run is killed when it lasts 30 s longer than d.
func (h *harness) runWrk(ctx context.Context, d time.Duration, args []string) (WrkResult, error) {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()

	full := append([]string{
		"-t" + strconv.Itoa(h.opts.Threads),
		"-c" + strconv.Itoa(h.opts.Connections),
		"-d" + wrkSeconds(d),
		"--latency",
	}, args...)
	cmd := exec.CommandContext(ctx, h.wrk, full...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil && ctx.Err() != nil {
		return WrkResult{}, fmt.Errorf("wrk %v stopped early: %w", full, ctx.Err())
	}
	if err != nil {
		return WrkResult{}, fmt.Errorf("wrk %v failed: %w; output:\n%s", full, err, out)
	}
	result, err := ParseWrk(string(out))
	if err != nil {
		return WrkResult{}, fmt.Errorf("wrk %v: %w", full, err)
	}
	return result, nil
}

// wrkSeconds formats d for wrk's -d flag, which takes whole seconds.
func wrkSeconds(d time.Duration) string {
	return strconv.Itoa(int(math.Ceil(d.Seconds()))) + "s"
}
