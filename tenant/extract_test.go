package tenant

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
)

var _ Header = (*fasthttp.RequestHeader)(nil)

// headers is a Header backed by a map with exact-case keys.
type headers map[string][]byte

func (h headers) Peek(key string) []byte { return h[key] }

func hdr(kv ...string) headers {
	h := headers{}
	for i := 0; i+1 < len(kv); i += 2 {
		h[kv[i]] = []byte(kv[i+1])
	}
	return h
}

// newDefaultExtractor builds the extractor of the default configuration plus
// two component rules.
func newDefaultExtractor(t testing.TB) *Extractor {
	t.Helper()
	e, err := New(Config{
		Rules: []Rule{
			{Host: "{tenant}.apps.localhost"},
			{Path: "/t/{tenant}/", Strip: true},
			{Header: "X-Tenant-ID"},
		},
		ComponentRules: []ComponentRule{
			{PathPrefix: "/compile/", Component: "compiler"},
			{Header: "X-Component"},
		},
		Components: []string{"app", "compiler"},
	})
	require.NoError(t, err)
	return e
}

// newPlaceholderExtractor builds an extractor whose rules name the component
// in a {component} host label or path segment.
func newPlaceholderExtractor(t testing.TB) *Extractor {
	t.Helper()
	e, err := New(Config{
		Rules: []Rule{
			{Host: "{tenant}.{component}.svc.localhost"},
			{Path: "/t/{tenant}/{component}/", Strip: true},
			{Path: "/n/{tenant}/{component}"},
		},
		ComponentRules: []ComponentRule{{Header: "X-Component"}},
		Components:     []string{"app", "compiler"},
	})
	require.NoError(t, err)
	return e
}

func TestExtractHost(t *testing.T) {
	e := newDefaultExtractor(t)
	f := func(host, wantTenant string) {
		t.Helper()
		var res Result
		err := e.Extract([]byte(host), []byte("/"), hdr(), &res)
		require.NoError(t, err, "host %q", host)
		assert.Equal(t, wantTenant, string(res.Tenant()), "host %q", host)
		assert.Equal(t, "app", res.Component, "host %q", host)
		assert.Zero(t, res.StripLen, "host %q", host)
	}
	f("acme.apps.localhost", "acme")
	f("acme.apps.localhost:8080", "acme")
	f("acme.apps.localhost:", "acme")
	f("ACME.Apps.LOCALHOST", "acme")
	f("Acme.apps.localhost:9001", "acme")
	f("acme.apps.localhost.", "acme")
	f("acme.apps.localhost.:8080", "acme")
	f("globex-2.apps.localhost", "globex-2")
	f(strings.Repeat("a", MaxIDLen)+".apps.localhost", strings.Repeat("a", MaxIDLen))
}

// A port is the digits after the last colon. A host with anything else
// there matches no host pattern, and the rules after it decide.
func TestExtractHostWithoutNumericPort(t *testing.T) {
	e := newDefaultExtractor(t)
	for _, host := range []string{"acme.apps.localhost:http", "acme.apps.localhost:80:80", "acme.apps.localhost:8o"} {
		var res Result
		err := e.Extract([]byte(host), []byte("/t/globex/"), hdr(), &res)
		require.NoError(t, err, "host %q", host)
		assert.Equal(t, "globex", string(res.Tenant()), "host %q must fall through to the path rule", host)
	}
}

// Tenant aliases the request when the ID was in lower case there, and
// Result's own buffer when Extract had to fold it.
func TestExtractTenantAliasesLowerCaseInput(t *testing.T) {
	e := newDefaultExtractor(t)

	var lower Result
	host := []byte("acme.apps.localhost")
	require.NoError(t, e.Extract(host, []byte("/"), hdr(), &lower))
	assert.Same(t, &host[0], &lower.Tenant()[0], "a lower-case ID must not be copied")

	var upper Result
	host = []byte("AcMe.apps.localhost")
	require.NoError(t, e.Extract(host, []byte("/"), hdr(), &upper))
	host[0] = 'x'
	assert.Equal(t, "acme", string(upper.Tenant()), "a folded ID must not depend on the request")
}

func TestExtractPath(t *testing.T) {
	e := newDefaultExtractor(t)
	f := func(path, wantTenant string, wantStrip int) {
		t.Helper()
		var res Result
		err := e.Extract([]byte("localhost:8080"), []byte(path), hdr(), &res)
		require.NoError(t, err, "path %q", path)
		assert.Equal(t, wantTenant, string(res.Tenant()), "path %q", path)
		assert.Equal(t, "app", res.Component, "path %q", path)
		assert.Equal(t, wantStrip, res.StripLen, "path %q", path)
	}
	// The proxy passes the path without the query, so "/t/acme/x?q" arrives as "/t/acme/x".
	f("/t/acme/x", "acme", len("/t/acme"))
	f("/t/acme", "acme", len("/t/acme"))
	f("/t/acme/", "acme", len("/t/acme"))
	f("/t/acme//x", "acme", len("/t/acme"))
	f("/t/ACME/x/y/z", "acme", len("/t/acme"))
	f("/t/initech/compiler", "initech", len("/t/initech"))
}

func TestExtractPathWithoutStrip(t *testing.T) {
	e, err := New(Config{
		Rules:      []Rule{{Path: "/api/v1/tenants/{tenant}"}},
		Components: []string{"app"},
	})
	require.NoError(t, err)
	f := func(path, wantTenant string) {
		t.Helper()
		var res Result
		err := e.Extract(nil, []byte(path), nil, &res)
		require.NoError(t, err, "path %q", path)
		assert.Equal(t, wantTenant, string(res.Tenant()), "path %q", path)
		assert.Zero(t, res.StripLen, "path %q", path)
	}
	f("/api/v1/tenants/acme", "acme")
	f("/api/v1/tenants/acme/users", "acme")

	var res Result
	err = e.Extract(nil, []byte("/API/v1/tenants/acme"), nil, &res)
	require.ErrorIs(t, err, ErrNoTenant, "literal path segments are case-sensitive")
}

func TestExtractHeader(t *testing.T) {
	e := newDefaultExtractor(t)
	f := func(value, wantTenant string) {
		t.Helper()
		var res Result
		err := e.Extract([]byte("localhost"), []byte("/x"), hdr("X-Tenant-ID", value), &res)
		require.NoError(t, err, "header %q", value)
		assert.Equal(t, wantTenant, string(res.Tenant()), "header %q", value)
		assert.Equal(t, "app", res.Component, "header %q", value)
		assert.Zero(t, res.StripLen, "header %q", value)
	}
	f("acme", "acme")
	f("UMBRELLA", "umbrella")
	f("a", "a")
}

func TestExtractRuleOrder(t *testing.T) {
	e := newDefaultExtractor(t)
	f := func(host, path string, h headers, wantTenant string, wantStrip int) {
		t.Helper()
		var res Result
		err := e.Extract([]byte(host), []byte(path), h, &res)
		require.NoError(t, err, "host %q path %q", host, path)
		assert.Equal(t, wantTenant, string(res.Tenant()), "host %q path %q", host, path)
		assert.Equal(t, wantStrip, res.StripLen, "host %q path %q", host, path)
	}
	f("acme.apps.localhost", "/t/globex/x", hdr("X-Tenant-ID", "initech"), "acme", 0)
	f("localhost", "/t/globex/x", hdr("X-Tenant-ID", "initech"), "globex", len("/t/globex"))
	f("localhost", "/x", hdr("X-Tenant-ID", "initech"), "initech", 0)
	f("a.b.apps.localhost", "/x", hdr("X-Tenant-ID", "initech"), "initech", 0)
}

// TestExtractFirstMatchDecides checks that a rule that matches with an invalid
// tenant ID ends the search instead of falling through to later rules.
func TestExtractFirstMatchDecides(t *testing.T) {
	e := newDefaultExtractor(t)
	var res Result

	err := e.Extract([]byte("localhost"), []byte("/t/a_b/x"), hdr("X-Tenant-ID", "acme"), &res)

	require.ErrorIs(t, err, ErrInvalidTenant)
	assert.Contains(t, err.Error(), `path rule "/t/{tenant}/": invalid tenant ID "a_b"`)
}

func TestExtractComponentRules(t *testing.T) {
	e := newDefaultExtractor(t)
	f := func(host, path string, h headers, wantComponent string) {
		t.Helper()
		var res Result
		err := e.Extract([]byte(host), []byte(path), h, &res)
		require.NoError(t, err, "host %q path %q", host, path)
		assert.Equal(t, "acme", string(res.Tenant()), "host %q path %q", host, path)
		assert.Equal(t, wantComponent, res.Component, "host %q path %q", host, path)
	}
	f("acme.apps.localhost", "/compile/x", hdr(), "compiler")
	f("acme.apps.localhost", "/compile", hdr(), "compiler")
	f("acme.apps.localhost", "/compile/", hdr(), "compiler")
	f("acme.apps.localhost", "/compiler", hdr(), "app")
	f("acme.apps.localhost", "/x/compile/", hdr(), "app")
	f("localhost", "/t/acme/compile/x", hdr(), "compiler")
	f("localhost", "/t/acme/compile", hdr(), "compiler")
	f("localhost", "/compile/x", hdr("X-Tenant-ID", "acme"), "compiler")
	f("acme.apps.localhost", "/x", hdr("X-Component", "compiler"), "compiler")
	f("acme.apps.localhost", "/x", hdr("X-Component", "Compiler"), "compiler")
	f("acme.apps.localhost", "/x", hdr("X-Component", ""), "app")
	f("acme.apps.localhost", "/compile/x", hdr("X-Component", "app"), "compiler")
	f("acme.apps.localhost", "/", nil, "app")
}

func TestExtractPlaceholders(t *testing.T) {
	e := newPlaceholderExtractor(t)
	f := func(host, path string, h headers, wantComponent string, wantStrip int) {
		t.Helper()
		var res Result
		err := e.Extract([]byte(host), []byte(path), h, &res)
		require.NoError(t, err, "host %q path %q", host, path)
		assert.Equal(t, "acme", string(res.Tenant()), "host %q path %q", host, path)
		assert.Equal(t, wantComponent, res.Component, "host %q path %q", host, path)
		assert.Equal(t, wantStrip, res.StripLen, "host %q path %q", host, path)
	}
	f("acme.compiler.svc.localhost", "/x", hdr(), "compiler", 0)
	f("ACME.App.svc.localhost:8080", "/x", hdr(), "app", 0)
	f("acme.compiler.svc.localhost", "/x", hdr("X-Component", "app"), "compiler", 0)
	f("localhost", "/t/acme/compiler/x", hdr(), "compiler", len("/t/acme/compiler"))
	f("localhost", "/t/acme/app", hdr(), "app", len("/t/acme/app"))
	f("localhost", "/t/acme/APP/", hdr(), "app", len("/t/acme/APP"))
	f("localhost", "/n/acme/compiler/x", hdr(), "compiler", 0)
}

func TestExtractErrors(t *testing.T) {
	e := newDefaultExtractor(t)
	f := func(host, path string, h headers, wantErr error, wantText string) {
		t.Helper()
		var res Result
		err := e.Extract([]byte(host), []byte(path), h, &res)
		require.ErrorIs(t, err, wantErr, "host %q path %q", host, path)
		assert.Contains(t, err.Error(), wantText, "host %q path %q", host, path)
		assert.Zero(t, res, "host %q path %q", host, path)
	}
	f("localhost", "/", hdr(), ErrNoTenant,
		`no tenant in request: host "localhost", path "/" and headers match none of the rules (host rule "{tenant}.apps.localhost", path rule "/t/{tenant}/", header X-Tenant-ID)`)
	f("localhost", "/", nil, ErrNoTenant, "match none of the rules")
	f("..x.apps.localhost", "/", hdr(), ErrNoTenant, `host "..x.apps.localhost"`)
	f("..x.apps.localhost", "/", hdr(), ErrNoTenant, `; for host rule "{tenant}.apps.localhost", "..x" has 3 labels where the pattern expects 1 label; send`)
	f("a.b.apps.localhost", "/", hdr(), ErrNoTenant, "match none of the rules")
	f("A.b.Apps.localhost", "/", hdr(), ErrNoTenant, `"A.b" has 2 labels where the pattern expects 1 label`)
	f("apps.localhost", "/", hdr(), ErrNoTenant, "match none of the rules")
	f("localhost", "/tx/acme", hdr(), ErrNoTenant, "match none of the rules")
	f("localhost", "/T/acme", hdr(), ErrNoTenant, "match none of the rules")
	f("localhost", "/", hdr("X-Tenant-ID", ""), ErrNoTenant, "match none of the rules")

	f("localhost", "/", hdr("X-Tenant-ID", "..x"), ErrInvalidTenant, `header X-Tenant-ID: invalid tenant ID "..x": byte "." at offset 0`)
	f(".apps.localhost", "/", hdr(), ErrInvalidTenant, `host rule "{tenant}.apps.localhost": invalid tenant ID: the ID is empty`)
	f("localhost", "/t//x", hdr(), ErrInvalidTenant, `path rule "/t/{tenant}/": invalid tenant ID: the ID is empty`)
	f(strings.Repeat("a", 64)+".apps.localhost", "/", hdr(), ErrInvalidTenant, "64 bytes is longer than the maximum of 63")
	f("localhost", "/", hdr("X-Tenant-ID", strings.Repeat("b", 64)), ErrInvalidTenant, "64 bytes is longer than the maximum of 63")
	f("localhost", "/", hdr("X-Tenant-ID", "ac\x00me"), ErrInvalidTenant, `"ac\x00me": byte "\x00" at offset 2`)
	f("localhost", "/", hdr("X-Tenant-ID", "acme\x7f"), ErrInvalidTenant, `byte "\x7f" at offset 4`)
	f("localhost", "/t/ac%20me/", hdr(), ErrInvalidTenant, `byte "%" at offset 2`)
	f("-acme.apps.localhost", "/", hdr(), ErrInvalidTenant, "starts or ends with '-'")

	f("acme.apps.localhost", "/", hdr("X-Component", "web"), ErrUnknownComponent,
		`unknown component "web" from header X-Component; use one of app, compiler`)
	f("acme.apps.localhost", "/", hdr("X-Component", "\x1b[31m"), ErrUnknownComponent, `"\x1b[31m"`)
}

// Only a host with a rule's literal labels and a different number of
// labels between them gets a hint.
func TestExtractNoLabelHintForOtherHosts(t *testing.T) {
	e := newDefaultExtractor(t)
	for _, host := range []string{"localhost", "acme.apps.example.com", "apps.localhost"} {
		var res Result
		err := e.Extract([]byte(host), []byte("/"), hdr(), &res)
		require.ErrorIs(t, err, ErrNoTenant, "host %q", host)
		assert.NotContains(t, err.Error(), "; for host rule", "host %q", host)
	}
}

func TestExtractPlaceholderErrors(t *testing.T) {
	e := newPlaceholderExtractor(t)
	f := func(host, path string, wantErr error, wantText string) {
		t.Helper()
		var res Result
		err := e.Extract([]byte(host), []byte(path), hdr(), &res)
		require.ErrorIs(t, err, wantErr, "host %q path %q", host, path)
		assert.Contains(t, err.Error(), wantText, "host %q path %q", host, path)
	}
	f("acme.web.svc.localhost", "/", ErrUnknownComponent, `unknown component "web" from host rule "{tenant}.{component}.svc.localhost"; use one of app, compiler`)
	f("localhost", "/t/acme/favicon.ico", ErrUnknownComponent, `unknown component "favicon.ico" from path rule "/t/{tenant}/{component}/"`)
	f("localhost", "/t/acme//x", ErrUnknownComponent, `unknown component ""`)
	f("localhost", "/t/acme", ErrNoTenant, "match none of the rules")
	f("acme.svc.localhost", "/", ErrNoTenant, `"acme" has 1 label where the pattern expects 2 labels`)
	f("localhost", "/t/a.b/app", ErrInvalidTenant, `invalid tenant ID "a.b"`)
}

func TestExtractErrorMessagesQuoteRequestValues(t *testing.T) {
	e := newDefaultExtractor(t)
	var res Result
	host := strings.Repeat("\x07", 300)

	err := e.Extract([]byte(host), []byte("/\r\n"), nil, &res)

	require.ErrorIs(t, err, ErrNoTenant)
	msg := err.Error()
	assert.Contains(t, msg, `"`+strings.Repeat(`\a`, 80)+`"...`)
	assert.Contains(t, msg, `path "/\r\n"`)
	assert.NotContains(t, msg, "\x07")
	assert.NotContains(t, msg, "\r")
}

func TestExtractWithFasthttpHeader(t *testing.T) {
	e := newDefaultExtractor(t)
	var h fasthttp.RequestHeader
	h.Set("x-tenant-id", "Globex")
	h.Set("X-COMPONENT", "compiler")
	var res Result

	err := e.Extract([]byte("localhost"), []byte("/"), &h, &res)

	require.NoError(t, err)
	assert.Equal(t, "globex", string(res.Tenant()))
	assert.Equal(t, "compiler", res.Component)
}

func TestExtractZeroAllocs(t *testing.T) {
	defaults := newDefaultExtractor(t)
	placeholders := newPlaceholderExtractor(t)
	var fh fasthttp.RequestHeader
	fh.Set("X-Tenant-ID", "acme")
	fh.Set("X-Component", "compiler")

	f := func(e *Extractor, host, path string, h Header) {
		t.Helper()
		hostBytes, pathBytes := []byte(host), []byte(path)
		total := 0
		allocs := testing.AllocsPerRun(200, func() {
			var res Result
			err := e.Extract(hostBytes, pathBytes, h, &res)
			if err != nil {
				panic(err)
			}
			total += len(res.Tenant()) + len(res.Component) + res.StripLen
		})
		assert.Zero(t, allocs, "host %q path %q", host, path)
		assert.Positive(t, total)
	}
	f(defaults, "ACME.apps.localhost:8080", "/", hdr())
	f(defaults, "localhost", "/t/acme/compile/x", hdr())
	f(defaults, "localhost", "/", hdr("X-Tenant-ID", "acme", "X-Component", "compiler"))
	f(defaults, "localhost", "/", &fh)
	f(placeholders, "acme.compiler.svc.localhost", "/", hdr())
	f(placeholders, "localhost", "/t/acme/compiler/x", nil)
}

func BenchmarkExtract(b *testing.B) {
	defaults := newDefaultExtractor(b)
	var fh fasthttp.RequestHeader
	fh.Set("X-Tenant-ID", "acme")
	cases := []struct {
		name       string
		host, path string
		h          Header
	}{
		{"host", "acme.apps.localhost:8080", "/api/v1/items", hdr()},
		{"path", "localhost:8080", "/t/acme/api/v1/items", hdr()},
		{"header", "localhost:8080", "/api/v1/items", hdr("X-Tenant-ID", "acme")},
		{"fasthttp_header", "localhost:8080", "/api/v1/items", &fh},
		{"component_header", "acme.apps.localhost", "/api", hdr("X-Component", "compiler")},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			host, path := []byte(c.host), []byte(c.path)
			var res Result
			b.ReportAllocs()
			for b.Loop() {
				if err := defaults.Extract(host, path, c.h, &res); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
