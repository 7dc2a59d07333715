package config

import (
	"fmt"
	"net/netip"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/dflb/dflb/internal/strictyaml"
)

// decoder walks a yaml.Node tree into a Config. The generic parts, such as
// unknown-key errors and line tracking, come from strictyaml.
type decoder struct {
	*strictyaml.Decoder
}

// field is one key that a mapping accepts.
type field struct {
	key    string
	decode func(path string, n *yaml.Node)
}

// mapping decodes the keys of n with fields, as strictyaml.Decoder.Mapping.
func (d *decoder) mapping(path string, n *yaml.Node, fields ...field) {
	keys := make([]strictyaml.Field, len(fields))
	for i, f := range fields {
		keys[i] = strictyaml.Field{Key: f.key, Decode: f.decode}
	}
	d.Mapping(path, n, keys...)
}

// sizeValue decodes a byte count: a plain integer or a string such as "64MiB".
func (d *decoder) sizeValue(dst *int64) func(string, *yaml.Node) {
	return func(path string, n *yaml.Node) {
		s, ok := d.Scalar(path, n)
		if !ok {
			return
		}
		if n.ShortTag() == "!!int" {
			if err := n.Decode(dst); err != nil {
				d.Errorf(n, path, "invalid size %q; write bytes as a whole number or with a unit such as 16KiB", s)
			}
			return
		}
		size, err := ParseSize(s)
		if err != nil {
			d.Errorf(n, path, "%w", err)
			return
		}
		*dst = size
	}
}

// prefixList decodes CIDRs such as "10.0.0.0/8". A bare address is a
// single-host prefix. A prefix with host bits set is an error that suggests
// the masked form.
func (d *decoder) prefixList(dst *[]netip.Prefix) func(string, *yaml.Node) {
	return func(path string, n *yaml.Node) {
		list := []netip.Prefix{}
		d.Sequence(path, n, func(itemPath string, item *yaml.Node) {
			s, ok := d.Scalar(itemPath, item)
			if !ok {
				return
			}
			prefix, err := parsePrefix(s)
			if err != nil {
				d.Errorf(item, itemPath, "%w", err)
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
