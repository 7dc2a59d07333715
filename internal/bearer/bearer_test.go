package bearer

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValid(t *testing.T) {
	f := func(header string, secret string, want bool) {
		t.Helper()
		r, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		assert.Equal(t, want, Valid(r, []byte(secret)), "header %q", header)
	}
	f("Bearer s3cret", "s3cret", true)
	f("Bearer s3cre", "s3cret", false)
	f("Bearer s3cret ", "s3cret", false)
	f("bearer s3cret", "s3cret", false)
	f("Basic czNjcmV0", "s3cret", false)
	f("s3cret", "s3cret", false)
	f("", "s3cret", false)
	f("Bearer ", "", false)
}
