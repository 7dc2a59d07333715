// Package tenant finds the tenant ID and the target component of a request.
//
// An Extractor applies ordered rules to the request host, path and headers.
// It validates the tenant ID, folds it to lower case in the caller's Result
// when it has upper-case letters, and resolves the component from a
// {component} placeholder, component rules or a default. On success it
// allocates nothing, so the proxy can call it for every request.
package tenant

import (
	"errors"
	"fmt"
)

// MaxIDLen is the maximum length of a tenant ID in bytes, the length limit of a DNS label.
const MaxIDLen = 63

// maxQuotedLen is the number of bytes of a request value that error messages quote.
const maxQuotedLen = 80

// Errors returned by Extract and Normalize wrap one of these sentinels, so
// callers can map them to a status with errors.Is.
var (
	// ErrNoTenant means that no rule found a tenant in the request. The proxy responds with 400.
	ErrNoTenant = errors.New("no tenant in request")
	// ErrInvalidTenant means that a rule matched but the tenant ID is malformed. The proxy responds with 400.
	ErrInvalidTenant = errors.New("invalid tenant ID")
	// ErrUnknownComponent means that the request names a component that is not configured. The proxy responds with 404.
	ErrUnknownComponent = errors.New("unknown component")
)

// Normalize validates one tenant ID and returns it in lower case: raw
// itself when it has no upper-case letter, or else a lower-case copy in buf.
//
// A valid ID is a DNS label: 1 to MaxIDLen bytes of a-z, 0-9 and '-', not
// starting or ending with '-'. ASCII upper case is folded to lower case. The
// error wraps ErrInvalidTenant and quotes raw, cut to 80 bytes.
func Normalize(raw []byte, buf *[MaxIDLen]byte) ([]byte, error) {
	folded, err := normalize(raw, buf)
	if err != nil {
		return nil, err
	}
	if folded {
		return buf[:len(raw)], nil
	}
	return raw, nil
}

// normalize validates raw as Normalize does. If raw has an upper-case
// letter, normalize writes the lower-case ID into buf and reports true.
// Most IDs arrive in lower case, and then nothing is copied. That also
// spares the routing table's hash, whose wide reads of a just-copied ID
// waited in profiles until the byte stores reached the cache.
func normalize(raw []byte, buf *[MaxIDLen]byte) (folded bool, err error) {
	n := len(raw)
	if n == 0 {
		return false, fmt.Errorf("%w: the ID is empty; use 1 to %d bytes of a-z, 0-9 and '-'", ErrInvalidTenant, MaxIDLen)
	}
	if n > MaxIDLen {
		return false, fmt.Errorf("%w %s: %d bytes is longer than the maximum of %d", ErrInvalidTenant, quote(raw), n, MaxIDLen)
	}

	for i, c := range raw {
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case 'A' <= c && c <= 'Z':
			folded = true
		case c == '-':
			if i == 0 || i == n-1 {
				return false, fmt.Errorf("%w %s: the ID starts or ends with '-'; use '-' only between letters or digits", ErrInvalidTenant, quote(raw))
			}
		default:
			return false, fmt.Errorf("%w %s: byte %s at offset %d is not allowed; use only a-z, 0-9 and '-'", ErrInvalidTenant, quote(raw), quote(raw[i:i+1]), i)
		}
	}
	if !folded {
		return false, nil
	}

	for i, c := range raw {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return true, nil
}

// quote formats a request value for an error message: Go-quoted, so control
// characters are escaped, and cut to maxQuotedLen bytes.
func quote(b []byte) string {
	if len(b) > maxQuotedLen {
		return fmt.Sprintf("%q...", b[:maxQuotedLen])
	}
	return fmt.Sprintf("%q", b)
}
