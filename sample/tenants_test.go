package sample

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateTenant(t *testing.T) {
	for _, id := range []string{"a", "acme", "t0001", "my-org", strings.Repeat("a", 63)} {
		assert.NoError(t, ValidateTenant(id), id)
	}
	for _, id := range []string{"", "-a", "a-", "Acme", "a.b", "a b", "a\x00", strings.Repeat("a", 64)} {
		assert.Error(t, ValidateTenant(id), "%q", id)
	}
}

func TestParseTenantList(t *testing.T) {
	tenants, err := ParseTenantList(" Acme, globex,,t0001 ")
	require.NoError(t, err)
	assert.Equal(t, []string{"acme", "globex", "t0001"}, tenants)

	tenants, err = ParseTenantList("")
	require.NoError(t, err)
	assert.Empty(t, tenants)

	_, err = ParseTenantList("acme,bad_id")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"bad_id"`)
}

func TestParseTenantFile(t *testing.T) {
	tenants, err := ParseTenantFile(strings.NewReader("# served tenants\nacme\n\n  Globex  \n"), "tenants.txt")
	require.NoError(t, err)
	assert.Equal(t, []string{"acme", "globex"}, tenants)

	_, err = ParseTenantFile(strings.NewReader("acme\nno/slash\n"), "tenants.txt")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "tenants.txt:2:")
}

func TestTenantSetContainsNoAlloc(t *testing.T) {
	set := newTenantSet([]string{"acme"})
	id := []byte("ACME")

	allocs := testing.AllocsPerRun(100, func() {
		if !set.contains(id) {
			t.Fatal("acme not found")
		}
	})
	assert.Zero(t, allocs)
	assert.False(t, set.contains([]byte(strings.Repeat("a", 64))))
	assert.False(t, set.contains(nil))
}
