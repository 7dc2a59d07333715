package tenant

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func FuzzExtract(f *testing.F) {
	seeds := []struct{ host, path, tenantHeader, componentHeader string }{
		{"acme.apps.localhost", "/", "", ""},
		{"acme.apps.localhost:8080", "/", "", ""},
		{"ACME.Apps.LOCALHOST", "/x", "", ""},
		{"acme.apps.localhost.", "/", "", ""},
		{"..x.apps.localhost", "/", "", ""},
		{".apps.localhost", "/", "", ""},
		{"a.b.apps.localhost", "/", "", ""},
		{strings.Repeat("a", 64) + ".apps.localhost", "/", "", ""},
		{"[::1]:8080", "/", "", ""},
		{"localhost", "/t/acme/x", "", ""},
		{"localhost", "/t/acme", "", ""},
		{"localhost", "/t/acme/", "", ""},
		{"localhost", "/t//x", "", ""},
		{"localhost", "/t/ac%00me/", "", ""},
		{"localhost", "/t/acme/compile/x", "", ""},
		{"acme.compiler.svc.localhost", "/", "", ""},
		{"acme.web.svc.localhost", "/", "", ""},
		{"localhost", "/c/acme/compiler/x", "", ""},
		{"localhost", "/c/acme/favicon.ico", "", ""},
		{"localhost", "/", "acme", ""},
		{"localhost", "/", "..x", ""},
		{"localhost", "/", "ac\x00me", ""},
		{"localhost", "/", strings.Repeat("b", 64), ""},
		{"localhost", "/", "acme", "compiler"},
		{"localhost", "/", "acme", "web"},
		{"", "", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.host, s.path, s.tenantHeader, s.componentHeader)
	}

	components := []string{"app", "compiler"}
	e, err := New(Config{
		Rules: []Rule{
			{Host: "{tenant}.apps.localhost"},
			{Host: "{tenant}.{component}.svc.localhost"},
			{Path: "/c/{tenant}/{component}/", Strip: true},
			{Path: "/t/{tenant}/", Strip: true},
			{Header: "X-Tenant-ID"},
		},
		ComponentRules: []ComponentRule{
			{PathPrefix: "/compile/", Component: "compiler"},
			{Header: "X-Component"},
		},
		Components: components,
	})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, host, path, tenantHeader, componentHeader string) {
		h := hdr("X-Tenant-ID", tenantHeader, "X-Component", componentHeader)
		var res Result

		err := e.Extract([]byte(host), []byte(path), h, &res)

		if err != nil {
			if !errors.Is(err, ErrNoTenant) && !errors.Is(err, ErrInvalidTenant) && !errors.Is(err, ErrUnknownComponent) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			if strings.ContainsFunc(err.Error(), func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("error message contains a raw control character: %q", err.Error())
			}
			return
		}

		var check [MaxIDLen]byte
		normalized, err := Normalize(res.Tenant(), &check)
		if err != nil {
			t.Fatalf("Extract returned tenant %q, which Normalize rejects: %v", res.Tenant(), err)
		}
		if string(normalized) != string(res.Tenant()) {
			t.Fatalf("Extract returned tenant %q, not in normal form %q", res.Tenant(), normalized)
		}
		if !slices.Contains(components, res.Component) {
			t.Fatalf("Extract returned unknown component %q", res.Component)
		}
		if res.StripLen < 0 || res.StripLen > len(path) {
			t.Fatalf("StripLen %d is outside the path %q", res.StripLen, path)
		}
		if res.StripLen > 0 && res.StripLen < len(path) && path[res.StripLen] != '/' {
			t.Fatalf("StripLen %d leaves path %q without a leading '/'", res.StripLen, path[res.StripLen:])
		}
	})
}
