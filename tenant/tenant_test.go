package tenant

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNormalize(t *testing.T) {
	ok := func(raw, want string) {
		t.Helper()
		var buf [MaxIDLen]byte
		got, err := Normalize([]byte(raw), &buf)
		require.NoError(t, err, "raw %q", raw)
		assert.Equal(t, want, string(got), "raw %q", raw)
	}
	ok("acme", "acme")
	ok("ACME", "acme")
	ok("Acme-Corp-2", "acme-corp-2")
	ok("0", "0")
	ok("a-b", "a-b")
	ok(strings.Repeat("x", MaxIDLen), strings.Repeat("x", MaxIDLen))

	fail := func(raw, wantText string) {
		t.Helper()
		var buf [MaxIDLen]byte
		got, err := Normalize([]byte(raw), &buf)
		require.ErrorIs(t, err, ErrInvalidTenant, "raw %q", raw)
		assert.Nil(t, got, "raw %q", raw)
		assert.Contains(t, err.Error(), wantText, "raw %q", raw)
	}
	fail("", "empty")
	fail(strings.Repeat("x", MaxIDLen+1), "64 bytes is longer than the maximum of 63")
	fail("..x", `byte "." at offset 0`)
	fail("a.b", `byte "." at offset 1`)
	fail("-acme", "starts or ends with '-'")
	fail("acme-", "starts or ends with '-'")
	fail("ac me", `byte " " at offset 2`)
	fail("ac_me", `byte "_" at offset 2`)
	fail("ac\x00me", `"ac\x00me": byte "\x00" at offset 2`)
	fail("ac\r\nme", `byte "\r" at offset 2`)
	fail("caf\xc3\xa9", `byte "\xc3" at offset 3`)
	fail("a%2Fb", `byte "%" at offset 1`)
}

func TestNormalizeQuotesAtMost80Bytes(t *testing.T) {
	var buf [MaxIDLen]byte
	raw := strings.Repeat("\x01", 200)

	_, err := Normalize([]byte(raw), &buf)

	require.ErrorIs(t, err, ErrInvalidTenant)
	msg := err.Error()
	assert.Contains(t, msg, `"`+strings.Repeat(`\x01`, 80)+`"...`)
	assert.NotContains(t, msg, strings.Repeat(`\x01`, 81))
	assert.NotContains(t, msg, "\x01", "raw control characters must not reach the message")
}

func TestNormalizeWritesIntoBuffer(t *testing.T) {
	var buf [MaxIDLen]byte

	got, err := Normalize([]byte("GLOBEX"), &buf)

	require.NoError(t, err)
	assert.Equal(t, "globex", string(buf[:6]))
	assert.Same(t, &buf[0], &got[0], "the result must alias buf")
}

func TestNormalizeReturnsLowerCaseInput(t *testing.T) {
	var buf [MaxIDLen]byte
	raw := []byte("globex-2")

	got, err := Normalize(raw, &buf)

	require.NoError(t, err)
	assert.Same(t, &raw[0], &got[0], "an ID in normal form must be returned as it is")
	assert.Equal(t, [MaxIDLen]byte{}, buf, "buf must stay untouched")
}
