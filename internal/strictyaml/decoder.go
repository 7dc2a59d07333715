// Package strictyaml decodes YAML configuration files strictly. An unknown
// key, a repeated key, an alias or a value of the wrong type is an error that
// names the file, the line and the key path, such as
// `dfm.yaml:12: unknown key "comand" in components[0]`. The decoder collects
// every error instead of stopping at the first.
package strictyaml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Decoder walks a yaml.Node tree and records the line of each key path, such
// as "proxy.balance" or "instances[1].tenants[0]".
type Decoder struct {
	file   string
	lines  map[string]int
	labels map[string]string
	errs   []error
}

// NewDecoder returns a decoder whose errors start with file.
func NewDecoder(file string) *Decoder {
	return &Decoder{file: file, lines: map[string]int{}, labels: map[string]string{}}
}

// Field is one key that a mapping accepts.
type Field struct {
	Key    string
	Decode func(path string, n *yaml.Node)
}

// Err returns every recorded error joined, or nil.
func (d *Decoder) Err() error { return errors.Join(d.errs...) }

// Lines returns the line of every decoded key path.
func (d *Decoder) Lines() Lines { return Lines{File: d.file, lines: d.lines} }

// SetLine records the line of a key path that a custom decode function
// reads itself.
func (d *Decoder) SetLine(path string, line int) { d.lines[path] = line }

// Label adds label to the errors about path and the paths under it, so that
// an error in a list item names the item, as in `components[0] (component
// "app")`, and not only its index.
func (d *Decoder) Label(path, label string) { d.labels[path] = label }

// display returns path followed by the label of its nearest labelled parent.
func (d *Decoder) display(path string) string {
	for prefix := path; prefix != ""; {
		if label, ok := d.labels[prefix]; ok {
			return path + " (" + label + ")"
		}
		cut := max(strings.LastIndexByte(prefix, '.'), strings.LastIndexByte(prefix, '['))
		if cut < 0 {
			break
		}
		prefix = prefix[:cut]
	}
	return path
}

// Errorf records an error about the value n at path. An empty path is the
// top level of the file.
func (d *Decoder) Errorf(n *yaml.Node, path, format string, args ...any) {
	if path == "" {
		d.errs = append(d.errs, fmt.Errorf("%s:%d: top level: "+format, append([]any{d.file, n.Line}, args...)...))
		return
	}
	d.errs = append(d.errs, fmt.Errorf("%s:%d: %s: "+format, append([]any{d.file, n.Line, d.display(path)}, args...)...))
}

// Mapping decodes the keys of n with fields. A key that no field accepts, a
// repeated key and a non-scalar key are errors. A key with a null value keeps
// its default.
func (d *Decoder) Mapping(path string, n *yaml.Node, fields ...Field) {
	if !d.ExpectKind(path, n, yaml.MappingNode) {
		return
	}
	firstLine := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], n.Content[i+1]
		if key.Kind != yaml.ScalarNode {
			d.Errorf(key, path, "found %s as a key; keys must be plain names", describeNode(key))
			continue
		}
		if line, dup := firstLine[key.Value]; dup {
			d.Errorf(key, JoinPath(path, key.Value), "key is already set at line %d; remove one of them", line)
			continue
		}
		firstLine[key.Value] = key.Line

		f := findField(fields, key.Value)
		if f == nil {
			d.errs = append(d.errs, fmt.Errorf("%s:%d: unknown key %q %s; valid keys are %s",
				d.file, key.Line, key.Value, sectionName(d.display(path)), fieldKeys(fields)))
			continue
		}
		childPath := JoinPath(path, key.Value)
		d.lines[childPath] = key.Line
		if IsNull(value) {
			continue
		}
		f.Decode(childPath, value)
	}
}

// Sequence calls item for every element of the sequence n and records its line.
func (d *Decoder) Sequence(path string, n *yaml.Node, item func(path string, n *yaml.Node)) {
	if !d.ExpectKind(path, n, yaml.SequenceNode) {
		return
	}
	for i, child := range n.Content {
		childPath := fmt.Sprintf("%s[%d]", path, i)
		d.lines[childPath] = child.Line
		item(childPath, child)
	}
}

// ExpectKind reports whether n has the given kind and records an error if not.
// Aliases are rejected here because following them can expand a small file
// into an exponentially large tree.
func (d *Decoder) ExpectKind(path string, n *yaml.Node, kind yaml.Kind) bool {
	if n.Kind == yaml.AliasNode {
		d.Errorf(n, path, "aliases (*%s) are not supported; write the value out", n.Value)
		return false
	}
	if n.Kind != kind {
		d.Errorf(n, path, "expected %s, found %s", kindName(kind), describeNode(n))
		return false
	}
	return true
}

// Scalar returns the text of a scalar that is not null.
func (d *Decoder) Scalar(path string, n *yaml.Node) (string, bool) {
	if !d.ExpectKind(path, n, yaml.ScalarNode) {
		return "", false
	}
	if IsNull(n) {
		d.Errorf(n, path, "value is null; write a value or remove the entry")
		return "", false
	}
	return n.Value, true
}

// String decodes any non-null scalar as its text, so "007" stays "007".
func (d *Decoder) String(dst *string) func(string, *yaml.Node) {
	return func(path string, n *yaml.Node) {
		if s, ok := d.Scalar(path, n); ok {
			*dst = s
		}
	}
}

// Bool decodes true or false.
func (d *Decoder) Bool(dst *bool) func(string, *yaml.Node) {
	return func(path string, n *yaml.Node) {
		s, ok := d.Scalar(path, n)
		if !ok {
			return
		}
		if n.ShortTag() != "!!bool" || n.Decode(dst) != nil {
			d.Errorf(n, path, "invalid boolean %q; use true or false", s)
		}
	}
}

// Int decodes a whole number.
func (d *Decoder) Int(dst *int) func(string, *yaml.Node) {
	return func(path string, n *yaml.Node) {
		s, ok := d.Scalar(path, n)
		if !ok {
			return
		}
		if n.ShortTag() != "!!int" || n.Decode(dst) != nil {
			d.Errorf(n, path, "invalid integer %q; write a whole number such as 3", s)
		}
	}
}

// Float decodes a number such as 0.8 or 1.
func (d *Decoder) Float(dst *float64) func(string, *yaml.Node) {
	return func(path string, n *yaml.Node) {
		s, ok := d.Scalar(path, n)
		if !ok {
			return
		}
		tag := n.ShortTag()
		if (tag != "!!float" && tag != "!!int") || n.Decode(dst) != nil {
			d.Errorf(n, path, "invalid number %q; write a decimal number such as 0.8", s)
		}
	}
}

// Duration decodes a Go duration string such as "30s" or "1m30s".
func (d *Decoder) Duration(dst *time.Duration) func(string, *yaml.Node) {
	return func(path string, n *yaml.Node) {
		s, ok := d.Scalar(path, n)
		if !ok {
			return
		}
		if n.ShortTag() == "!!int" || n.ShortTag() == "!!float" {
			d.Errorf(n, path, "duration %q has no unit; write it with a unit such as %ss", s, s)
			return
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			d.Errorf(n, path, "invalid duration %q; write a number with a unit such as 500ms, 30s or 2m: %w", s, err)
			return
		}
		*dst = v
	}
}

// StringList decodes a list of scalars as their text.
func (d *Decoder) StringList(dst *[]string) func(string, *yaml.Node) {
	return func(path string, n *yaml.Node) {
		list := []string{}
		d.Sequence(path, n, func(itemPath string, item *yaml.Node) {
			if s, ok := d.Scalar(itemPath, item); ok {
				list = append(list, s)
			}
		})
		*dst = list
	}
}

// IntList decodes a list of whole numbers.
func (d *Decoder) IntList(dst *[]int) func(string, *yaml.Node) {
	return func(path string, n *yaml.Node) {
		list := []int{}
		d.Sequence(path, n, func(itemPath string, item *yaml.Node) {
			var v int
			d.Int(&v)(itemPath, item)
			list = append(list, v)
		})
		*dst = list
	}
}

// StringMap decodes a mapping of names to scalars, such as environment
// variables.
func (d *Decoder) StringMap(dst *map[string]string) func(string, *yaml.Node) {
	return func(path string, n *yaml.Node) {
		values := map[string]string{}
		if !d.ExpectKind(path, n, yaml.MappingNode) {
			return
		}
		firstLine := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, value := n.Content[i], n.Content[i+1]
			name, ok := d.Scalar(path, key)
			if !ok {
				continue
			}
			childPath := JoinPath(path, name)
			if line, dup := firstLine[name]; dup {
				d.Errorf(key, childPath, "key is already set at line %d; remove one of them", line)
				continue
			}
			firstLine[name] = key.Line
			d.lines[childPath] = key.Line
			if s, ok := d.Scalar(childPath, value); ok {
				values[name] = s
			}
		}
		*dst = values
	}
}

// ReadDocument parses data as exactly one YAML document and returns its root
// node, or nil when data has no document (only comments or nothing at all).
// name is the file name that error messages start with.
func ReadDocument(data []byte, name string) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: invalid YAML: %w", name, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, fmt.Errorf("%s: invalid YAML: %w", name, err)
	default:
		return nil, fmt.Errorf("%s:%d: a second YAML document starts here; put the whole configuration in one document", name, extra.Line)
	}
	if len(doc.Content) != 1 || IsNull(doc.Content[0]) {
		return nil, nil
	}
	return doc.Content[0], nil
}

// IsNull reports whether n is a null scalar, such as an empty value.
func IsNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// JoinPath appends key to a key path.
func JoinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
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

func findField(fields []Field, key string) *Field {
	for i := range fields {
		if fields[i].Key == key {
			return &fields[i]
		}
	}
	return nil
}

func fieldKeys(fields []Field) string {
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = f.Key
	}
	return strings.Join(keys, ", ")
}

func sectionName(path string) string {
	if path == "" {
		return "at the top level"
	}
	return "in " + path
}
