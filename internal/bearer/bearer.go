// Package bearer checks "Authorization: Bearer <secret>" headers, the
// authentication of DFLB's admin API, DFM's API and DFM's notifications.
package bearer

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// Valid reports whether r carries "Authorization: Bearer <secret>". The
// comparison takes the same time whatever the token sent, so a client
// cannot find the secret byte by byte. An empty secret matches nothing.
func Valid(r *http.Request, secret []byte) bool {
	if len(secret) == 0 {
		return false
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(token), secret) == 1
}
