package tenant

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostPatterns covers a placeholder at the start, in the middle and at the
// end, alone and with {component} next to it or apart from it.
var hostPatterns = []string{
	"{tenant}.apps.localhost",
	"{tenant}",
	"www.{tenant}",
	"a.{tenant}.b.c",
	"{tenant}.{component}.svc.localhost",
	"{component}.{tenant}",
	"x.{tenant}.y.{component}.z",
}

// checkAgainstLabels matches host with hp and with a plain label-by-label
// walk of all the pattern's parts, and fails if the two disagree.
func checkAgainstLabels(t *testing.T, pattern string, parts []part, hp *hostPattern, host string) {
	t.Helper()
	var got, want match
	gotOK := hp.match([]byte(host), &got)
	wantOK := matchLabels(parts, []byte(host), &want)
	require.Equal(t, wantOK, gotOK, "pattern %q, host %q", pattern, host)
	if wantOK {
		assert.Equal(t, string(want.tenant), string(got.tenant), "tenant of pattern %q, host %q", pattern, host)
		assert.Equal(t, string(want.component), string(got.component), "component of pattern %q, host %q", pattern, host)
		assert.Equal(t, want.hasComponent, got.hasComponent, "pattern %q, host %q", pattern, host)
	}
}

func TestHostPatternMatchesLabelByLabel(t *testing.T) {
	hosts := []string{
		"", ".", "..", "acme", "ACME", "acme.", ".acme",
		"acme.apps.localhost", "Acme.APPS.localhost", ".apps.localhost", "apps.localhost",
		"a.b.apps.localhost", "acme.apps.localhostx", "acme.appsxlocalhost", "acme.apps.localhost.x",
		"www.acme", "WWW.acme", "www.", "www", "wwwx.acme", "www.a.b",
		"a.acme.b.c", "a..b.c", "a.acme.b.c.d", "A.acme.B.C",
		"acme.web.svc.localhost", "acme..svc.localhost", "acme.web.x.svc.localhost",
		"web.acme", "web.acme.x", "x.acme.y.web.z", "x.acme.y.web", "x.acme.Y.web.Z", "x..y..z",
	}
	for _, pattern := range hostPatterns {
		parts, err := compileHostPattern(pattern)
		require.NoError(t, err, pattern)
		hp := newHostPattern(parts)
		for _, host := range hosts {
			checkAgainstLabels(t, pattern, parts, &hp, host)
		}
	}
}

// TestHostPatternRandomHosts compares the two matchers on hosts built from
// the patterns' own labels, so that many of them match or nearly match.
func TestHostPatternRandomHosts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"", "a", "A", "acme", "apps", "APPS", "localhost", "svc", "web", "www", "x", "y", "z", "b", "c", "-"}
	for _, pattern := range hostPatterns {
		parts, err := compileHostPattern(pattern)
		require.NoError(t, err, pattern)
		hp := newHostPattern(parts)
		for range 20000 {
			labels := make([]string, rng.IntN(7))
			for i := range labels {
				labels[i] = words[rng.IntN(len(words))]
			}
			checkAgainstLabels(t, pattern, parts, &hp, strings.Join(labels, "."))
		}
	}
}

func FuzzHostPattern(f *testing.F) {
	for _, seed := range []string{"acme.apps.localhost", "a.b.apps.localhost", ".apps.localhost", "x.acme.y.web.z", "www."} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, host string) {
		for _, pattern := range hostPatterns {
			parts, err := compileHostPattern(pattern)
			require.NoError(t, err, pattern)
			hp := newHostPattern(parts)
			checkAgainstLabels(t, pattern, parts, &hp, host)
		}
	})
}

// TestFoldLiteralEveryByte changes one byte of a matching input to each of
// the 256 values, at every position, and compares with equalFold.
func TestFoldLiteralEveryByte(t *testing.T) {
	for _, text := range []string{"", "a", ".apps.localhost", "abcdefgh", "z-09.az-09.azaz"} {
		f := newFoldLiteral(text)
		for pos := range len(text) {
			for c := range 256 {
				input := []byte(strings.ToUpper(text))
				input[pos] = byte(c)
				require.Equal(t, equalFold(input, text), f.equal(input), "literal %q, input %q", text, input)
			}
		}
		assert.True(t, f.equal([]byte(text)), "literal %q against itself", text)
		assert.False(t, f.equal([]byte(text+"a")), "literal %q against a longer input", text)
	}
}
