package strictyaml

import (
	"fmt"
	"strings"
)

// Lines maps the key path of each decoded value to its line in File, for
// errors that validation finds after decoding. The zero value has no lines.
type Lines struct {
	File  string
	lines map[string]int
}

// LineOf returns the line of path, or of its nearest parent that has one,
// or 0 when none is known.
func (l Lines) LineOf(path string) int {
	for path != "" {
		if line, ok := l.lines[path]; ok {
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

// Errorf formats an error about the value at path. It starts with file:line
// when the line of path is known.
func (l Lines) Errorf(path, format string, args ...any) error {
	if line := l.LineOf(path); line > 0 {
		return fmt.Errorf("%s:%d: %s: "+format, append([]any{l.File, line, path}, args...)...)
	}
	return fmt.Errorf("%s: "+format, append([]any{path}, args...)...)
}

// Describe returns path followed by its line when the line is known, for
// messages that point at a second value.
func (l Lines) Describe(path string) string {
	if line := l.LineOf(path); line > 0 {
		return fmt.Sprintf("%s (line %d)", path, line)
	}
	return path
}
