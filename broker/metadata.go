package broker

import (
	"fmt"
	"maps"
	"strings"
	"unicode/utf8"
)

// Limits on the metadata that the tenant API accepts. They keep a tenant
// record small, and do not apply to the service broker's own keys.
const (
	maxMetadataEntries  = 64
	maxMetadataKeyLen   = 128
	maxMetadataValueLen = 1024
)

// Metadata keys of the service broker. A tenant created through the Open
// Service Broker API carries osbInstanceKey, which is how the broker finds
// its tenant again after a restart.
const (
	osbKeyPrefix     = "osb_"
	osbInstanceKey   = "osb_instance_id"
	osbOrgKey        = "osb_organization_guid"
	osbSpaceKey      = "osb_space_guid"
	osbBindingPrefix = "osb_binding."
)

// checkMetadataEntry rejects a key or value that the tenant API does not
// accept.
func checkMetadataEntry(key, value string) error {
	if key == "" {
		return fmt.Errorf("metadata key is empty; use a name such as %q", "team")
	}
	if isBrokerKey(key) {
		return fmt.Errorf("metadata key %q starts with %q, which is reserved for the service broker; choose another key", key, osbKeyPrefix)
	}
	if len(key) > maxMetadataKeyLen {
		return fmt.Errorf("metadata key %.40q... is %d bytes, more than the maximum of %d", key, len(key), maxMetadataKeyLen)
	}
	if !printable(key) {
		return fmt.Errorf("metadata key %q contains control characters or invalid UTF-8; use printable text", key)
	}
	if len(value) > maxMetadataValueLen {
		return fmt.Errorf("metadata value of %q is %d bytes, more than the maximum of %d", key, len(value), maxMetadataValueLen)
	}
	if !printable(value) {
		return fmt.Errorf("metadata value of %q contains control characters or invalid UTF-8; use printable text", key)
	}
	return nil
}

// checkMetadataSize rejects metadata with more user keys than the limit.
// Keys of the service broker do not count.
func checkMetadataSize(metadata map[string]string) error {
	n := 0
	for key := range metadata {
		if !isBrokerKey(key) {
			n++
		}
	}
	if n > maxMetadataEntries {
		return fmt.Errorf("metadata has %d keys, more than the maximum of %d; remove some", n, maxMetadataEntries)
	}
	return nil
}

// cloneMetadata returns a copy of m that is never nil, for adding keys.
func cloneMetadata(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+1)
	maps.Copy(out, m)
	return out
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// isBrokerKey reports whether the metadata key belongs to the service broker.
func isBrokerKey(key string) bool {
	return strings.HasPrefix(key, osbKeyPrefix)
}
