package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads and parses the configuration file at path. See Parse.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, path)
}

// Parse decodes a YAML configuration, fills defaults for missing keys and
// validates the result. name is the file name that error messages start with.
//
// The returned error joins every problem found. Each one names the file, the
// line and the key, as in `dflb.yaml:12: unknown key "listne" in proxy`.
func Parse(data []byte, name string) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) {
		// The file has no document, only comments or nothing at all.
		return Default(), nil
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

	c := Default()
	c.Routing.DefaultComponent = ""
	d := &decoder{file: name, lines: map[string]int{}}
	if len(doc.Content) == 1 && !isNull(doc.Content[0]) {
		d.config(doc.Content[0], c)
	}
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}

	c.fillDerivedDefaults()
	c.origin = &origin{file: name, lines: d.lines}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// origin maps the key path of each parsed value, such as "proxy.balance" or
// "instances[1].tenants[0]", to its line in the file.
type origin struct {
	file  string
	lines map[string]int
}

// errorf formats an error about the value at path. It starts with file:line
// when the value was parsed from a file.
func (c *Config) errorf(path, format string, args ...any) error {
	if c.origin != nil {
		if line := c.origin.lineOf(path); line > 0 {
			return fmt.Errorf("%s:%d: %s: "+format, append([]any{c.origin.file, line, path}, args...)...)
		}
	}
	return fmt.Errorf("%s: "+format, append([]any{path}, args...)...)
}

// describe returns path followed by its line when the line is known, for
// messages that point at a second value.
func (c *Config) describe(path string) string {
	if c.origin != nil {
		if line := c.origin.lineOf(path); line > 0 {
			return fmt.Sprintf("%s (line %d)", path, line)
		}
	}
	return path
}

// lineOf returns the line of path, or of its nearest parent that has one,
// or 0 when none is known.
func (o *origin) lineOf(path string) int {
	for path != "" {
		if line, ok := o.lines[path]; ok {
			return line
		}
		cut := max(strings.LastIndexByte(path, '.'), strings.LastIndexByte(path, '['))
		if cut < 0 {
			return 0
		}
		path = path[:cut]
	}
	return 0
}
