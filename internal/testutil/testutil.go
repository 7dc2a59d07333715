// Package testutil holds helpers that several packages' tests share: the
// programs of this module built once per test binary, a log sink that
// goroutines write to while a test reads it, and whether the race detector
// is on.
package testutil

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// BuildCommands builds each named program under cmd/ of this module, such as
// "dfm" or "component", into a new temporary directory and returns that
// directory. The caller removes it. It is meant for TestMain, before any test
// starts a process.
func BuildCommands(names ...string) (string, error) {
	dir, err := os.MkdirTemp("", "dflb-test-bin-")
	if err != nil {
		return "", fmt.Errorf("creating a directory for test binaries: %w", err)
	}
	for _, name := range names {
		pkg := "github.com/dflb/dflb/cmd/" + name
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, stderr.String())
		}
	}
	return dir, nil
}

// LogBuffer is a bytes.Buffer that loggers in several goroutines may write
// to while a test reads it.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
