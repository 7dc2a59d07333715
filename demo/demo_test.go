package demo

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/internal/testutil"
)

// The demo, as `make demo` runs it: every situation is handled, and no
// request fails or is misrouted.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo runs for about a minute")
	}
	bin, err := testutil.BuildCommands("dflb", "dfm", "component")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(bin) })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out bytes.Buffer
	res, err := Run(ctx, Options{BinDir: bin, Dir: t.TempDir(), Out: &out})
	t.Log("\n" + out.String())
	require.NoError(t, err)

	t.Logf("demo: sent %d failed %d misrouted %d", res.Sent, res.Failed, res.Misrouted)
	for name, took := range res.Took {
		t.Logf("situation %s: trigger to new routing %s", name, took.Round(time.Millisecond))
	}
	assert.Greater(t, res.Sent, int64(1000))
	assert.Zero(t, res.Failed)
	assert.Zero(t, res.Misrouted)
	assert.Len(t, res.Took, 4, "situations 2 to 5 each report their time to new routing")
}
