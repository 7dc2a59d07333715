package sample

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxTenantLen is the longest tenant ID: one DNS label.
const maxTenantLen = 63

// tenantSet is an immutable set of tenant IDs. The server swaps the whole set
// on reload, so a request uses either the old set or the new one.
type tenantSet map[string]struct{}

func newTenantSet(tenants []string) tenantSet {
	set := make(tenantSet, len(tenants))
	for _, t := range tenants {
		t = strings.ToLower(strings.TrimSpace(t))
		if t != "" {
			set[t] = struct{}{}
		}
	}
	return set
}

// contains reports whether the set contains id, folding ASCII upper case.
// It does not allocate: the lookup key is built in a stack buffer.
func (s tenantSet) contains(id []byte) bool {
	if len(id) == 0 || len(id) > maxTenantLen {
		return false
	}
	var buf [maxTenantLen]byte
	for i, c := range id {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	_, ok := s[string(buf[:len(id)])]
	return ok
}

// ValidateTenant checks that id is a tenant ID: a DNS label of 1 to 63 bytes
// from [a-z0-9-] that neither starts nor ends with '-'. Upper case is rejected,
// so callers lower-case first if they accept it.
func ValidateTenant(id string) error {
	if id == "" {
		return errors.New("invalid tenant ID: it is empty")
	}
	if len(id) > maxTenantLen {
		return fmt.Errorf("invalid tenant ID %q: it has %d bytes, the maximum is %d", cut(id), len(id), maxTenantLen)
	}
	if id[0] == '-' || id[len(id)-1] == '-' {
		return fmt.Errorf("invalid tenant ID %q: it must not start or end with '-'", id)
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return fmt.Errorf("invalid tenant ID %q: only a-z, 0-9 and '-' are allowed", id)
		}
	}
	return nil
}

// ParseTenantList splits a comma-separated list of tenant IDs, lower-cases and
// validates each one. Empty items are skipped, so "" returns no tenants.
func ParseTenantList(list string) ([]string, error) {
	var tenants []string
	for item := range strings.SplitSeq(list, ",") {
		id := strings.ToLower(strings.TrimSpace(item))
		if id == "" {
			continue
		}
		if err := ValidateTenant(id); err != nil {
			return nil, err
		}
		tenants = append(tenants, id)
	}
	return tenants, nil
}

// ParseTenantFile reads one tenant ID per line. Blank lines and lines starting
// with '#' are skipped. name is used in error messages only.
func ParseTenantFile(r io.Reader, name string) ([]string, error) {
	var tenants []string
	scanner := bufio.NewScanner(r)
	line := 0
	for scanner.Scan() {
		line++
		id := strings.ToLower(strings.TrimSpace(scanner.Text()))
		if id == "" || strings.HasPrefix(id, "#") {
			continue
		}
		if err := ValidateTenant(id); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		tenants = append(tenants, id)
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("read tenant file %s: %w", name, err)
	}
	return tenants, nil
}

// cut shortens s to 80 bytes for error messages.
func cut(s string) string {
	const maxLen = 80
	if len(s) <= maxLen {
		return s
	}
	return s[:maxLen] + "..."
}
