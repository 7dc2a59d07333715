package bench

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTargetsOrder(t *testing.T) {
	targets, err := ParseTargets("dflb, direct")
	require.NoError(t, err)
	assert.Equal(t, []string{TargetDirect, TargetDFLB}, targets)
}

func TestParseTargetsRejects(t *testing.T) {
	for _, list := range []string{"", ",", "apache", "nginx,nginx"} {
		_, err := ParseTargets(list)
		assert.Error(t, err, list)
	}
}

func TestPlatformSplitsTenants(t *testing.T) {
	instances := platform()
	require.Len(t, instances, 2)

	seen := map[string]int{}
	for _, in := range instances {
		assert.Len(t, in.tenants, tenantCount/2+1, in.id)
		assert.Contains(t, in.tenants, BenchTenant, in.id)
		for _, id := range in.tenants {
			seen[id]++
		}
	}
	assert.Len(t, seen, tenantCount+1)
	assert.Equal(t, 2, seen[BenchTenant])
	assert.Equal(t, 1, seen["t0001"])
	assert.Equal(t, 1, seen["t1000"])
}
