package local

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dflb/dflb/internal/testutil"
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
	var dir string
	dir, buildErr = testutil.BuildCommands("dfm", "component")
	dfmBinary = filepath.Join(dir, "dfm")
	componentBinary = filepath.Join(dir, "component")

	code := m.Run()
	if dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// requireBinaries fails a test that runs processes when TestMain could not
// build them.
func requireBinaries(t *testing.T) {
	t.Helper()
	if buildErr != nil {
		t.Fatalf("building the test binaries failed: %v", buildErr)
	}
}

// syncBuffer is a log sink that goroutines write to while a test reads it.
type syncBuffer = testutil.LogBuffer
