package tenant

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Placeholders in host and path patterns. Each must fill a whole label or segment.
const (
	tenantPlaceholder    = "{tenant}"
	componentPlaceholder = "{component}"
)

// Rule is a description of where a request carries its tenant ID. Exactly one
// of Host, Path and Header is set.
type Rule struct {
	// Host is a host pattern such as "{tenant}.apps.example.com", matched label
	// by label, case-insensitively and with the exact label count. The port of the
	// request host is ignored. One label may be "{component}", as in
	// "{tenant}.{component}.apps.example.com". Default: empty.
	Host string
	// Path is a path pattern such as "/t/{tenant}/", matched segment by segment
	// against the start of the request path, without the query. One segment may be
	// "{component}", as in "/t/{tenant}/{component}/". A trailing '/' in the
	// pattern changes nothing. Literal segments are case-sensitive. Default: empty.
	Path string
	// Header is the name of a header whose value is the tenant ID, such as
	// "X-Tenant-ID". A missing or empty header does not match. Default: empty.
	Header string
	// Strip, when true, makes the proxy forward the path without the matched
	// prefix, so "/t/acme/x" goes out as "/x" and "/t/acme" as "/". It is valid
	// on path rules only. Default: false.
	Strip bool
}

// ComponentRule is a rule that selects the component of a request whose tenant
// rule had no {component} placeholder. Exactly one of PathPrefix and Header is set.
type ComponentRule struct {
	// PathPrefix selects Component for paths that start with these segments.
	// "/compile/" and "/compile" both match "/compile" and "/compile/x" but not
	// "/compiler". After a path tenant rule the prefix is matched against the
	// rest of the path behind the tenant prefix, whether or not the rule strips
	// it. Default: empty.
	PathPrefix string
	// Header is the name of a header whose value is the component name, which
	// must be one of Config.Components. A missing or empty header does not match.
	// Default: empty.
	Header string
	// Component is the component that PathPrefix selects. Default: empty.
	Component string
}

// Config configures an Extractor.
type Config struct {
	// Rules are tried in order, and the first rule that matches decides the
	// tenant, even when its tenant ID is invalid. At least one is required.
	// Default: none.
	Rules []Rule
	// ComponentRules are tried in order when the matching tenant rule has no
	// {component} placeholder. Default: none.
	ComponentRules []ComponentRule
	// DefaultComponent is the component of requests that no placeholder or
	// component rule assigns. Default: the first of Components.
	DefaultComponent string
	// Components are the known component names: lower-case DNS labels such as
	// "app" or "compiler". At least one is required. Default: none.
	Components []string
}

// Validate checks that exactly one of Host, Path and Header is set and that
// the pattern or header name is well formed.
func (r Rule) Validate() error {
	_, err := compileRule(r)
	return err
}

// Validate checks that exactly one of PathPrefix and Header is set, that the
// prefix or header name is well formed and that Component is one of components.
func (r ComponentRule) Validate(components []string) error {
	_, err := compileComponentRule(r, components)
	return err
}

type ruleKind uint8

const (
	hostRule ruleKind = iota + 1
	pathRule
	headerRule
)

type partKind uint8

const (
	literalPart partKind = iota
	tenantPart
	componentPart
)

// part is one label of a host pattern or one segment of a path pattern.
type part struct {
	kind partKind
	text string // literal text, lower case in host patterns
}

type compiledRule struct {
	kind   ruleKind
	host   hostPattern // host rules
	parts  []part      // path rules
	header string
	strip  bool
	source string // the rule as the user wrote it, for error messages
}

type compiledComponentRule struct {
	prefix    string // PathPrefix without a trailing '/'
	header    string
	component string
	source    string
}

func compileRule(r Rule) (compiledRule, error) {
	set := 0
	for _, s := range []string{r.Host, r.Path, r.Header} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		return compiledRule{}, fmt.Errorf("tenant rule sets %d of host %q, path %q and header %q; set exactly one", set, r.Host, r.Path, r.Header)
	}
	if r.Strip && r.Path == "" {
		return compiledRule{}, errors.New("strip is set on a tenant rule without a path; strip applies to path rules only")
	}

	switch {
	case r.Host != "":
		parts, err := compileHostPattern(r.Host)
		if err != nil {
			return compiledRule{}, err
		}
		return compiledRule{kind: hostRule, host: newHostPattern(parts), source: fmt.Sprintf("host rule %q", r.Host)}, nil
	case r.Path != "":
		parts, err := compilePathPattern(r.Path)
		if err != nil {
			return compiledRule{}, err
		}
		return compiledRule{kind: pathRule, parts: parts, strip: r.Strip, source: fmt.Sprintf("path rule %q", r.Path)}, nil
	default:
		if err := validateHeaderName(r.Header); err != nil {
			return compiledRule{}, err
		}
		return compiledRule{kind: headerRule, header: r.Header, source: "header " + r.Header}, nil
	}
}

func compileHostPattern(pattern string) ([]part, error) {
	if strings.Contains(pattern, ":") {
		return nil, fmt.Errorf("host pattern %q contains ':'; remove the port because host matching ignores it", pattern)
	}
	labels := strings.Split(strings.ToLower(pattern), ".")
	parts := make([]part, 0, len(labels))
	for i, label := range labels {
		if label == "" {
			return nil, fmt.Errorf("host pattern %q: label %d is empty; separate labels with single dots", pattern, i+1)
		}
		p, err := compilePart(label)
		if err != nil {
			return nil, fmt.Errorf("host pattern %q: %w", pattern, err)
		}
		if p.kind == literalPart {
			if err := validateLabel(label); err != nil {
				return nil, fmt.Errorf("host pattern %q: %w", pattern, err)
			}
		}
		parts = append(parts, p)
	}
	if err := checkPlaceholders(parts, "label"); err != nil {
		return nil, fmt.Errorf("host pattern %q: %w", pattern, err)
	}
	return parts, nil
}

func compilePathPattern(pattern string) ([]part, error) {
	if !strings.HasPrefix(pattern, "/") {
		return nil, fmt.Errorf("path pattern %q does not start with '/'; write it like \"/t/{tenant}/\"", pattern)
	}
	segments := strings.Split(strings.TrimSuffix(pattern[1:], "/"), "/")
	parts := make([]part, 0, len(segments))
	for i, segment := range segments {
		if segment == "" {
			return nil, fmt.Errorf("path pattern %q: segment %d is empty; separate segments with single slashes", pattern, i+1)
		}
		if strings.ContainsAny(segment, "?#%") || hasControl(segment) {
			return nil, fmt.Errorf("path pattern %q: segment %q contains '?', '#', '%%' or a control character; write the raw path without query or escapes", pattern, segment)
		}
		p, err := compilePart(segment)
		if err != nil {
			return nil, fmt.Errorf("path pattern %q: %w", pattern, err)
		}
		parts = append(parts, p)
	}
	if err := checkPlaceholders(parts, "segment"); err != nil {
		return nil, fmt.Errorf("path pattern %q: %w", pattern, err)
	}
	return parts, nil
}

func compilePart(text string) (part, error) {
	switch text {
	case tenantPlaceholder:
		return part{kind: tenantPart}, nil
	case componentPlaceholder:
		return part{kind: componentPart}, nil
	}
	if strings.ContainsAny(text, "{}") {
		return part{}, fmt.Errorf("%q is neither literal text nor a whole %s or %s placeholder", text, tenantPlaceholder, componentPlaceholder)
	}
	return part{kind: literalPart, text: text}, nil
}

// checkPlaceholders requires exactly one {tenant} and at most one {component}.
func checkPlaceholders(parts []part, unit string) error {
	tenants, components := 0, 0
	for _, p := range parts {
		switch p.kind {
		case tenantPart:
			tenants++
		case componentPart:
			components++
		}
	}
	if tenants != 1 {
		return fmt.Errorf("found %d %s %ss; use exactly one", tenants, tenantPlaceholder, unit)
	}
	if components > 1 {
		return fmt.Errorf("found %d %s %ss; use at most one", components, componentPlaceholder, unit)
	}
	return nil
}

func compileComponentRule(r ComponentRule, components []string) (compiledComponentRule, error) {
	switch {
	case r.PathPrefix != "" && r.Header != "":
		return compiledComponentRule{}, fmt.Errorf("component rule sets both path prefix %q and header %q; set exactly one", r.PathPrefix, r.Header)
	case r.PathPrefix != "":
		if err := validatePathPrefix(r.PathPrefix); err != nil {
			return compiledComponentRule{}, err
		}
		if r.Component == "" {
			return compiledComponentRule{}, fmt.Errorf("component rule with path prefix %q has no component; name the component it selects", r.PathPrefix)
		}
		if !slices.Contains(components, r.Component) {
			return compiledComponentRule{}, fmt.Errorf("component rule with path prefix %q selects unknown component %q; use one of %s", r.PathPrefix, r.Component, strings.Join(components, ", "))
		}
		return compiledComponentRule{
			prefix:    strings.TrimSuffix(r.PathPrefix, "/"),
			component: r.Component,
			source:    fmt.Sprintf("path prefix %q", r.PathPrefix),
		}, nil
	case r.Header != "":
		if err := validateHeaderName(r.Header); err != nil {
			return compiledComponentRule{}, err
		}
		if r.Component != "" {
			return compiledComponentRule{}, fmt.Errorf("component rule with header %q also sets component %q; remove it because the header value names the component", r.Header, r.Component)
		}
		return compiledComponentRule{header: r.Header, source: "header " + r.Header}, nil
	default:
		return compiledComponentRule{}, errors.New("component rule sets neither path prefix nor header; set exactly one")
	}
}

func validatePathPrefix(prefix string) error {
	if !strings.HasPrefix(prefix, "/") {
		return fmt.Errorf("path prefix %q does not start with '/'; write it like \"/compile/\"", prefix)
	}
	if prefix == "/" {
		return errors.New("path prefix \"/\" matches every path; set the default component instead")
	}
	if strings.Contains(prefix, "//") || strings.ContainsAny(prefix, "?#") || hasControl(prefix) {
		return fmt.Errorf("path prefix %q contains an empty segment, '?', '#' or a control character; write the raw path without query", prefix)
	}
	return nil
}

// validateHeaderName accepts an RFC 9110 field name: one or more token characters.
func validateHeaderName(name string) error {
	if name == "" {
		return errors.New("header name is empty")
	}
	for i := range len(name) {
		if !isTokenChar(name[i]) {
			return fmt.Errorf("header name %q contains %q, which is not allowed in a field name; use letters, digits and '-'", name, name[i:i+1])
		}
	}
	return nil
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// validateLabel accepts a literal host label: 1 to 63 bytes of a-z, 0-9 and
// '-', not starting or ending with '-'. The caller has lower-cased it.
func validateLabel(label string) error {
	if len(label) > MaxIDLen {
		return fmt.Errorf("label %q is %d bytes, longer than the maximum of %d", label, len(label), MaxIDLen)
	}
	if label[0] == '-' || label[len(label)-1] == '-' {
		return fmt.Errorf("label %q starts or ends with '-'; use '-' only between letters or digits", label)
	}
	for i := range len(label) {
		c := label[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return fmt.Errorf("label %q contains %q; use only a-z, 0-9 and '-'", label, label[i:i+1])
		}
	}
	return nil
}

func hasControl(s string) bool {
	for i := range len(s) {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}
