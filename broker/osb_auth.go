package broker

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Open Service Broker API versions accepted in X-Broker-API-Version. 2.13
// is the oldest whose request and response fields this broker relies on.
const (
	apiVersionHeader  = "X-Broker-API-Version"
	requestIDHeader   = "X-Broker-API-Request-Identity"
	apiMajor          = 2
	minAPIMinor       = 13
	minAPIVersionText = "2.13"
)

// basicAuth checks HTTP basic authentication against the configured
// credentials.
type basicAuth struct {
	// Digests of the credentials, so that the comparison takes the same
	// time whatever the length of the value sent.
	username [sha256.Size]byte
	password [sha256.Size]byte
}

func newBasicAuth(c credentials) basicAuth {
	return basicAuth{
		username: sha256.Sum256([]byte(c.username)),
		password: sha256.Sum256([]byte(c.password)),
	}
}

// valid reports whether r carries the configured user name and password.
// Both are always compared, so the time taken does not reveal which was
// wrong.
func (a basicAuth) valid(r *http.Request) bool {
	username, password, ok := r.BasicAuth()
	if !ok {
		return false
	}
	gotUser := sha256.Sum256([]byte(username))
	gotPassword := sha256.Sum256([]byte(password))
	userOK := subtle.ConstantTimeCompare(gotUser[:], a.username[:])
	passwordOK := subtle.ConstantTimeCompare(gotPassword[:], a.password[:])
	return userOK&passwordOK == 1
}

// checkAPIVersion returns an error for a missing X-Broker-API-Version or a
// version before 2.13 or after 2.x.
func checkAPIVersion(r *http.Request) error {
	raw := r.Header.Get(apiVersionHeader)
	if raw == "" {
		return fmt.Errorf("the %s header is missing; send %s %s or a later 2.x version", apiVersionHeader, apiVersionHeader, minAPIVersionText)
	}
	majorText, minorText, _ := strings.Cut(raw, ".")
	major, errMajor := strconv.Atoi(majorText)
	minor, errMinor := strconv.Atoi(minorText)
	if errMajor != nil || errMinor != nil {
		return fmt.Errorf("%s %.20q is not of the form MAJOR.MINOR; send %s or a later 2.x version", apiVersionHeader, raw, minAPIVersionText)
	}
	if major != apiMajor || minor < minAPIMinor {
		return fmt.Errorf("%s %d.%d is not supported; this broker implements %s and later 2.x versions", apiVersionHeader, major, minor, minAPIVersionText)
	}
	return nil
}
