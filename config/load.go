package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/dflb/dflb/internal/strictyaml"
)

// Load reads and parses the configuration file at path. See Parse.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("configuration file %s not found: pass -config with its path, for example config/local.yaml: %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("reading configuration file %s: %w", path, err)
	}
	return Parse(data, path)
}

// Parse decodes a YAML configuration, fills defaults for missing keys and
// validates the result. name is the file name that error messages start with.
//
// The returned error joins every problem found. Each one names the file, the
// line and the key, as in `dflb.yaml:12: unknown key "listne" in proxy`.
func Parse(data []byte, name string) (*Config, error) {
	root, err := strictyaml.ReadDocument(data, name)
	if err != nil {
		return nil, err
	}
	if root == nil {
		// The file has no document, only comments or nothing at all.
		return Default(), nil
	}

	c := Default()
	c.Routing.DefaultComponent = ""
	d := &decoder{strictyaml.NewDecoder(name)}
	d.config(root, c)
	if err := d.Err(); err != nil {
		return nil, err
	}

	c.fillDerivedDefaults()
	lines := d.Lines()
	c.origin = &lines
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// errorf formats an error about the value at path. It starts with file:line
// when the value was parsed from a file.
func (c *Config) errorf(path, format string, args ...any) error {
	if c.origin != nil {
		return c.origin.Errorf(path, format, args...)
	}
	return fmt.Errorf("%s: "+format, append([]any{path}, args...)...)
}

// describe returns path followed by its line when the line is known, for
// messages that point at a second value.
func (c *Config) describe(path string) string {
	if c.origin != nil {
		return c.origin.Describe(path)
	}
	return path
}
