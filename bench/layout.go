package bench

import (
	"fmt"
	"strings"
)

// Targets that wrk can load.
const (
	TargetDirect = "direct" // the backend i1 itself, tenant in X-Tenant-ID
	TargetNginx  = "nginx"
	TargetDFLB   = "dflb"
)

// Loopback addresses of the benchmark setup. They are fixed so that a
// config file or a log from one run reads the same as the next.
const (
	addrI1        = "127.0.0.1:19101"
	addrI2        = "127.0.0.1:19102"
	addrDFLB      = "127.0.0.1:18080"
	addrDFLBAdmin = "127.0.0.1:19090"
	addrNginx     = "127.0.0.1:18081"
)

// Size of the tenant population and of the response body in both scenarios.
const (
	tenantCount  = 1000
	responseSize = 1024
)

// instance is one sample component of the setup.
type instance struct {
	id      string
	addr    string
	tenants []string // including BenchTenant
}

// platform returns the two instances: each serves half of the tenants, and
// both serve BenchTenant.
func platform() []instance {
	first, second := SplitTenants(TenantIDs(tenantCount))
	return []instance{
		{id: "i1", addr: addrI1, tenants: append([]string{BenchTenant}, first...)},
		{id: "i2", addr: addrI2, tenants: append([]string{BenchTenant}, second...)},
	}
}

// ParseTargets splits a comma-separated list of targets and rejects unknown
// or repeated names. The result keeps the order direct, nginx, dflb.
func ParseTargets(list string) ([]string, error) {
	chosen := map[string]bool{}
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		switch name {
		case "":
			continue
		case TargetDirect, TargetNginx, TargetDFLB:
		default:
			return nil, fmt.Errorf("unknown target %q in %q: choose from direct, nginx, dflb", name, list)
		}
		if chosen[name] {
			return nil, fmt.Errorf("target %q is listed twice in %q", name, list)
		}
		chosen[name] = true
	}

	var targets []string
	for _, name := range []string{TargetDirect, TargetNginx, TargetDFLB} {
		if chosen[name] {
			targets = append(targets, name)
		}
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("no target in %q: name at least one of direct, nginx, dflb", list)
	}
	return targets, nil
}
