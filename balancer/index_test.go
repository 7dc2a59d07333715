package balancer

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTenantIndexAgreesWithMap looks up known and unknown IDs in indexes of
// several sizes and compares each result with a Go map. In the larger
// indexes many tenants share a home slot, so the lookups walk probe chains.
func TestTenantIndexAgreesWithMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 3, 7, 8, 1000, 4096} {
		firsts := make(map[string]*Route, n)
		for len(firsts) < n {
			id := randomID(rng)
			firsts[id] = &Route{Tenant: id}
		}
		x := newTenantIndex(firsts)
		require.GreaterOrEqual(t, len(x.slots), 2*n, "n=%d: the index must stay at most half full", n)

		for id, route := range firsts {
			require.Same(t, route, x.find([]byte(id)), "n=%d: tenant %q", n, id)
			require.Nil(t, x.find([]byte(id+"x")), "n=%d: tenant %q with a byte more", n, id)
			shorter := id[:len(id)-1]
			require.Equal(t, firsts[shorter], x.find([]byte(shorter)), "n=%d: tenant %q with a byte less", n, id)
		}
		for range 1000 {
			id := randomID(rng)
			assert.Equal(t, firsts[id], x.find([]byte(id)), "n=%d: tenant %q", n, id)
		}
		assert.Nil(t, x.find(nil), "n=%d: empty ID", n)
	}
}

// An ID whose 64-bit hash equals a tenant's is not that tenant.
func TestTenantIndexComparesIDsOnEqualHash(t *testing.T) {
	acme := &Route{Tenant: "acme"}
	x := newTenantIndex(map[string]*Route{"acme": acme})
	globex := maphash.String(x.seed, "globex")
	for i := range x.slots {
		if x.slots[i].route == acme {
			x.slots[i].hash = globex
		}
	}
	x.slots[globex&x.mask] = x.slots[maphash.String(x.seed, "acme")&x.mask]

	assert.Nil(t, x.find([]byte("globex")))
}

func TestTenantIndexZeroValueFindsNothing(t *testing.T) {
	var x tenantIndex
	assert.Nil(t, x.find([]byte("acme")))
}

// A tenant with several components is one index entry, and Lookup walks its
// routes.
func TestTableLookupManyComponents(t *testing.T) {
	components := map[string]string{}
	for i := range 5 {
		components[fmt.Sprintf("c%d", i)] = fmt.Sprintf("127.0.0.1:%d", 9001+i)
	}
	table, err := NewPool(nil, HealthConfig{}, nil).Build([]InstanceSpec{
		{ID: "i1", Components: components, Tenants: []string{"acme", "globex"}},
	}, nil)
	require.NoError(t, err)

	for _, tenant := range []string{"acme", "globex"} {
		for component, addr := range components {
			route, err := table.Lookup([]byte(tenant), component)
			require.NoError(t, err, "%s/%s", tenant, component)
			assert.Equal(t, tenant, route.Tenant)
			assert.Equal(t, component, route.Component)
			assert.Equal(t, addr, route.Targets[0].Backend.Addr)
		}
		_, err := table.Lookup([]byte(tenant), "c5")
		assert.ErrorIs(t, err, ErrUnknownComponent)
	}
}

// randomID returns a tenant ID of 1 to 12 bytes from a small alphabet, so
// that random draws repeat and prefixes of each other come up.
func randomID(rng *rand.Rand) string {
	const alphabet = "abc-1"
	b := make([]byte, 1+rng.IntN(12))
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}
