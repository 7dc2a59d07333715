package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decoder walks a yaml.Node tree into a Config. It collects every error
// instead of stopping at the first, and records the line of each key.
type decoder struct {
	file  string
	lines map[string]int
	errs  []error
}

// field is one key that a mapping accepts.
type field struct {
	key    string
	decode func(path string, n *yaml.Node)
}

// errorf records an error about the value n at path. An empty path is the
// top level of the file.
func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	if path == "" {
		d.errs = append(d.errs, fmt.Errorf("%s:%d: top level: "+format, append([]any{d.file, n.Line}, args...)...))
		return
	}
	d.errs = append(d.errs, fmt.Errorf("%s:%d: %s: "+format, append([]any{d.file, n.Line, path}, args...)...))
}

// mapping decodes the keys of n with fields. A key that no field accepts, a
// repeated key and a non-scalar key are errors. A key with a null value keeps
// its default.
func (d *decoder) mapping(path string, n *yaml.Node, fields ...field) {
	if !d.expectKind(path, n, yaml.MappingNode) {
		return
	}
	firstLine := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], n.Content[i+1]
		if key.Kind != yaml.ScalarNode {
			d.errorf(key, path, "found %s as a key; keys must be plain names", describeNode(key))
			continue
		}
		if line, dup := firstLine[key.Value]; dup {
			d.errorf(key, joinPath(path, key.Value), "key is already set at line %d; remove one of them", line)
			continue
		}
		firstLine[key.Value] = key.Line

		f := findField(fields, key.Value)
		if f == nil {
			d.errs = append(d.errs, fmt.Errorf("%s:%d: unknown key %q %s; valid keys are %s",
				d.file, key.Line, key.Value, sectionName(path), fieldKeys(fields)))
			continue
		}
		childPath := joinPath(path, key.Value)
		d.lines[childPath] = key.Line
		if isNull(value) {
			continue
		}
		f.decode(childPath, value)
	}
}

// sequence calls item for every element of the sequence n and records its line.
func (d *decoder) sequence(path string, n *yaml.Node, item func(path string, n *yaml.Node)) {
	if !d.expectKind(path, n, yaml.SequenceNode) {
		return
	}
	for i, child := range n.Content {
		childPath := fmt.Sprintf("%s[%d]", path, i)
		d.lines[childPath] = child.Line
		item(childPath, child)
	}
}

// expectKind reports whether n has the given kind and records an error if not.
// Aliases are rejected here because following them can expand a small file
// into an exponentially large tree.
func (d *decoder) expectKind(path string, n *yaml.Node, kind yaml.Kind) bool {
	if n.Kind == yaml.AliasNode {
		d.errorf(n, path, "aliases (*%s) are not supported; write the value out", n.Value)
		return false
	}
	if n.Kind != kind {
		d.errorf(n, path, "expected %s, found %s", kindName(kind), describeNode(n))
		return false
	}
	return true
}

// scalar returns the text of a scalar that is not null.
func (d *decoder) scalar(path string, n *yaml.Node) (string, bool) {
	if !d.expectKind(path, n, yaml.ScalarNode) {
		return "", false
	}
	if isNull(n) {
		d.errorf(n, path, "value is null; write a value or remove the entry")
		return "", false
	}
	return n.Value, true
}

// stringValue decodes any non-null scalar as its text, so "007" stays "007".
func (d *decoder) stringValue(dst *string) func(string, *yaml.Node) {
	return func(path string, n *yaml.Node) {
		if s, ok := d.scalar(path, n); ok {
			*dst = s
		}
	}
}

func (d *decoder) boolValue(dst *bool) func(string, *yaml.Node) {
	return func(path string, n *yaml.Node) {
		s, ok := d.scalar(path, n)
		if !ok {
			return
		}
		if n.ShortTag() != "!!bool" || n.Decode(dst) != nil {
			d.errorf(n, path, "invalid boolean %q; use true or false", s)
		}
	}
}

func (d *decoder) intValue(dst *int) func(string, *yaml.Node) {
	return func(path string, n *yaml.Node) {
		s, ok := d.scalar(path, n)
		if !ok {
			return
		}
		if n.ShortTag() != "!!int" || n.Decode(dst) != nil {
			d.errorf(n, path, "invalid integer %q; write a whole number such as 3", s)
		}
	}
}

// sizeValue decodes a byte count: a plain integer or a string such as "64MiB".
func (d *decoder) sizeValue(dst *int64) func(string, *yaml.Node) {
	return func(path string, n *yaml.Node) {
		s, ok := d.scalar(path, n)
		if !ok {
			return
		}
		if n.ShortTag() == "!!int" {
			if err := n.Decode(dst); err != nil {
				d.errorf(n, path, "invalid size %q; write bytes as a whole number or with a unit such as 16KiB", s)
			}
			return
		}
		size, err := ParseSize(s)
		if err != nil {
			d.errorf(n, path, "%w", err)
			return
		}
		*dst = size
	}
}

// durationValue decodes a Go duration string such as "30s" or "1m30s".
func (d *decoder) durationValue(dst *time.Duration) func(string, *yaml.Node) {
	return func(path string, n *yaml.Node) {
		s, ok := d.scalar(path, n)
		if !ok {
			return
		}
		if n.ShortTag() == "!!int" || n.ShortTag() == "!!float" {
			d.errorf(n, path, "duration %q has no unit; write it with a unit such as %ss", s, s)
			return
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			d.errorf(n, path, "invalid duration %q; write a number with a unit such as 500ms, 30s or 2m: %w", s, err)
			return
		}
		*dst = v
	}
}

func (d *decoder) stringList(dst *[]string) func(string, *yaml.Node) {
	return func(path string, n *yaml.Node) {
		list := []string{}
		d.sequence(path, n, func(itemPath string, item *yaml.Node) {
			if s, ok := d.scalar(itemPath, item); ok {
				list = append(list, s)
			}
		})
		*dst = list
	}
}

// prefixList decodes CIDRs such as "10.0.0.0/8". A bare address is a
// single-host prefix. A prefix with host bits set is an error that suggests
// the masked form.
func (d *decoder) prefixList(dst *[]netip.Prefix) func(string, *yaml.Node) {
	return func(path string, n *yaml.Node) {
		list := []netip.Prefix{}
		d.sequence(path, n, func(itemPath string, item *yaml.Node) {
			s, ok := d.scalar(itemPath, item)
			if !ok {
				return
			}
			prefix, err := parsePrefix(s)
			if err != nil {
				d.errorf(item, itemPath, "%w", err)
				return
			}
			list = append(list, prefix)
		})
		*dst = list
	}
}

func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		addr, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR %q; write a network such as 10.0.0.0/8 or a single address: %w", s, err)
		}
		return netip.PrefixFrom(addr, addr.BitLen()), nil
	}
	prefix, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid CIDR %q; write a network such as 10.0.0.0/8 or a single address: %w", s, err)
	}
	if masked := prefix.Masked(); masked != prefix {
		return netip.Prefix{}, fmt.Errorf("CIDR %q has host bits set; write %q", s, masked.String())
	}
	return prefix, nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func kindName(kind yaml.Kind) string {
	switch kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a single value"
	case yaml.AliasNode:
		return "an alias"
	default:
		return "a document"
	}
}

func describeNode(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return fmt.Sprintf("the value %q", n.Value)
	}
	return kindName(n.Kind)
}

func findField(fields []field, key string) *field {
	for i := range fields {
		if fields[i].key == key {
			return &fields[i]
		}
	}
	return nil
}

func fieldKeys(fields []field) string {
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = f.key
	}
	return strings.Join(keys, ", ")
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func sectionName(path string) string {
	if path == "" {
		return "at the top level"
	}
	return "in " + path
}
