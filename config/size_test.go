package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSize(t *testing.T) {
	ok := func(s string, want int64) {
		t.Helper()
		got, err := ParseSize(s)
		require.NoError(t, err, "size %q", s)
		assert.Equal(t, want, got, "size %q", s)
	}
	ok("0", 0)
	ok("512", 512)
	ok("512B", 512)
	ok("16KiB", 16<<10)
	ok("64MiB", 64<<20)
	ok("64 MiB", 64<<20)
	ok(" 1GiB ", 1<<30)
	ok("2TiB", 2<<40)
	ok("1KB", 1000)
	ok("5MB", 5_000_000)
	ok("3GB", 3_000_000_000)
	ok("1TB", 1_000_000_000_000)
	ok("8388607TiB", 8388607<<40)

	fail := func(s, want string) {
		t.Helper()
		_, err := ParseSize(s)
		require.Error(t, err, "size %q", s)
		assert.Contains(t, err.Error(), want, "size %q", s)
	}
	fail("", `invalid size ""; write a whole number of bytes`)
	fail("MiB", `invalid size "MiB"`)
	fail("-1", `invalid size "-1"`)
	fail("+1", `invalid size "+1"`)
	fail("1.5GiB", "write a whole number, with a smaller unit if needed")
	fail("16kib", `unknown unit "kib"`)
	fail("16 K", `unknown unit "K"`)
	fail("16KiB extra", `unknown unit "KiB extra"`)
	fail("8388608TiB", "it is larger than 9223372036854775807 bytes")
	fail("99999999999999999999", "the number is larger than 9223372036854775807")
}
