package agent

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/dflb/dflb/tenant"
)

// normalizeTenants validates tenant IDs, lower-cases them and drops
// repeats, keeping the first order.
func normalizeTenants(ids []string) ([]string, error) {
	out := make([]string, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	var buf [tenant.MaxIDLen]byte
	for _, raw := range ids {
		id, err := tenant.Normalize([]byte(strings.TrimSpace(raw)), &buf)
		if err != nil {
			return nil, err
		}
		if seen[string(id)] {
			continue
		}
		seen[string(id)] = true
		out = append(out, string(id))
	}
	return out, nil
}

// writeTenantsFile replaces path with one tenant ID per line. The component
// reads either the old or the new set, never a mix.
func writeTenantsFile(path string, tenants []string) error {
	var b bytes.Buffer
	b.WriteString("# Tenant IDs served by this component, one a line. DFM rewrites this file.\n")
	for _, id := range tenants {
		b.WriteString(id)
		b.WriteByte('\n')
	}
	return writeFileAtomic(path, b.Bytes())
}

// readTenantsFile returns the tenants in path, or none when the file does not
// exist. Blank lines and lines starting with '#' are skipped.
func readTenantsFile(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return []string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read tenants file: %w", err)
	}

	var ids []string
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; scanner.Scan(); line++ {
		text := strings.TrimSpace(scanner.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		ids = append(ids, text)
		if _, err := normalizeTenants([]string{text}); err != nil {
			return nil, fmt.Errorf("%s:%d: %w; fix the line or delete the file", path, line, err)
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("read tenants file %s: %w", path, err)
	}
	return normalizeTenants(ids)
}
