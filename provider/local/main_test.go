package local

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// testNetwork keeps this package's instances off 127.0.1.N, which a demo
// or the tests of other packages running in parallel may use.
const testNetwork = "127.0.77"

// Paths of the binaries that TestMain builds, and the build error if any.
var (
	dfmBinary       string
	componentBinary string
	buildErr        error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dflb-local-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating the binary directory:", err)
		os.Exit(1)
	}
	dfmBinary = filepath.Join(dir, "dfm")
	componentBinary = filepath.Join(dir, "component")
	buildErr = build(dfmBinary, "../../cmd/dfm")
	if err := build(componentBinary, "../../cmd/component"); err != nil {
		buildErr = err
	}

	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func build(output, pkg string) error {
	cmd := exec.Command("go", "build", "-o", output, pkg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, stderr.String())
	}
	return nil
}

// requireBinaries fails a test that runs processes when TestMain could not
// build them.
func requireBinaries(t *testing.T) {
	t.Helper()
	if buildErr != nil {
		t.Fatalf("building the test binaries failed: %v", buildErr)
	}
}

// syncBuffer is a bytes.Buffer that loggers in several goroutines may
// write to.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
