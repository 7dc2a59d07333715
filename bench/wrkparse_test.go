package bench

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	return string(data)
}

func TestParseWrkClean(t *testing.T) {
	r, err := ParseWrk(readTestdata(t, "wrk-ok.txt"))
	require.NoError(t, err)

	assert.Equal(t, int64(240317), r.Requests)
	assert.InDelta(t, 119605.50, r.RPS, 0.001)
	assert.Equal(t, 352*time.Microsecond, r.P50)
	assert.Equal(t, 5790*time.Microsecond, r.P99)
	assert.Zero(t, r.Non2xx3xx)
	assert.Zero(t, r.Socket)
	assert.Zero(t, r.Errors())
}

func TestParseWrkNon2xx(t *testing.T) {
	r, err := ParseWrk(readTestdata(t, "wrk-non2xx.txt"))
	require.NoError(t, err)

	assert.Equal(t, int64(127485), r.Non2xx3xx)
	assert.Equal(t, int64(127485), r.Errors())
}

func TestParseWrkSocketErrors(t *testing.T) {
	r, err := ParseWrk(readTestdata(t, "wrk-socket-errors.txt"))
	require.NoError(t, err)

	assert.Equal(t, SocketErrors{Connect: 3, Read: 17, Write: 0, Timeout: 42}, r.Socket)
	assert.Equal(t, int64(9), r.Non2xx3xx)
	assert.Equal(t, int64(71), r.Errors())
	assert.Equal(t, 1200*time.Millisecond, r.P99)
	assert.Equal(t, 2410*time.Microsecond, r.P50)
}

func TestParseWrkIncomplete(t *testing.T) {
	_, err := ParseWrk("unable to connect to 127.0.0.1:18080 Connection refused\n")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Requests/sec")

	_, err = ParseWrk("  100 requests in 1.00s, 1MB read\nRequests/sec: 100.00\n")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--latency")
}

func TestParseWrkDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"352.00us": 352 * time.Microsecond,
		"0.91ms":   910 * time.Microsecond,
		"1.50s":    1500 * time.Millisecond,
		"2.00m":    2 * time.Minute,
		"1.00h":    time.Hour,
	} {
		got, err := parseWrkDuration(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "ms", "12", "1.0xs", "-1ms"} {
		_, err := parseWrkDuration(in)
		assert.Error(t, err, in)
	}
}
