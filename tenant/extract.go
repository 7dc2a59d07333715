package tenant

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Header is the read access to request headers that Extract needs.
// *fasthttp.RequestHeader satisfies it.
type Header interface {
	// Peek returns the value of the named header, or nil if it is missing.
	Peek(key string) []byte
}

// Result is the outcome of a successful Extract. It is meant to live on the
// caller's stack: it contains the buffer for a tenant ID that has to be folded
// to lower case, so Extract needs no memory of its own.
type Result struct {
	// Component is one of Config.Components, shared with the Extractor.
	Component string
	// StripLen is the number of leading bytes of the request path that the proxy
	// drops before forwarding, or 0 for none. When it equals the path length,
	// the proxy forwards "/".
	StripLen int

	tenant []byte // the ID as the request carried it
	folded bool   // tenant had upper-case letters, and lower contains the ID
	lower  [MaxIDLen]byte
}

// Tenant returns the normalized, lower-case tenant ID. It aliases the
// request's host, path or header when the ID was in lower case there, and r
// otherwise, so it is valid while both are unchanged. A caller that rewrites
// the request, as stripping the path prefix does, copies the ID first or
// uses its route's.
func (r *Result) Tenant() []byte {
	if r.folded {
		return r.lower[:len(r.tenant)]
	}
	return r.tenant
}

// Extractor finds the tenant and component of requests. It is immutable after
// New and safe for concurrent use.
type Extractor struct {
	rules            []compiledRule
	componentRules   []compiledComponentRule
	components       []string
	defaultComponent string
	ruleList         string // every tenant rule, for the ErrNoTenant message
	componentList    string // every component name, for the ErrUnknownComponent message
}

// New validates cfg and compiles its rules. The error names the rule or
// component that is invalid.
func New(cfg Config) (*Extractor, error) {
	if len(cfg.Components) == 0 {
		return nil, errors.New("no components configured; list at least one component name such as \"app\"")
	}
	for i, name := range cfg.Components {
		if err := validateLabel(name); err != nil {
			return nil, fmt.Errorf("component name %q: %w", name, err)
		}
		for _, earlier := range cfg.Components[:i] {
			if name == earlier {
				return nil, fmt.Errorf("component %q is listed twice; remove the duplicate", name)
			}
		}
	}

	e := &Extractor{
		components:       append([]string(nil), cfg.Components...),
		defaultComponent: cfg.DefaultComponent,
		componentList:    strings.Join(cfg.Components, ", "),
	}
	if e.defaultComponent == "" {
		e.defaultComponent = e.components[0]
	}
	if !slices.Contains(e.components, e.defaultComponent) {
		return nil, fmt.Errorf("default component %q is not one of the components %s; add it or pick one of them", e.defaultComponent, e.componentList)
	}

	if len(cfg.Rules) == 0 {
		return nil, errors.New("no tenant rules configured; add a host, path or header rule")
	}
	sources := make([]string, 0, len(cfg.Rules))
	for i, r := range cfg.Rules {
		compiled, err := compileRule(r)
		if err != nil {
			return nil, fmt.Errorf("tenant rule %d: %w", i+1, err)
		}
		e.rules = append(e.rules, compiled)
		sources = append(sources, compiled.source)
	}
	e.ruleList = strings.Join(sources, ", ")

	for i, r := range cfg.ComponentRules {
		compiled, err := compileComponentRule(r, e.components)
		if err != nil {
			return nil, fmt.Errorf("component rule %d: %w", i+1, err)
		}
		e.componentRules = append(e.componentRules, compiled)
	}

	return e, nil
}

// match contains the values that one tenant rule found in a request.
type match struct {
	tenant       []byte
	component    []byte
	hasComponent bool
	prefixLen    int // bytes of the path that a path rule matched
}

// capture records value as the tenant or the component when p is their
// placeholder. A literal part records nothing: its caller compares it.
func (m *match) capture(p part, value []byte) {
	switch p.kind {
	case tenantPart:
		m.tenant = value
	case componentPart:
		m.component = value
		m.hasComponent = true
	}
}

// Extract finds the tenant and component of one request and writes them
// into res. host is the Host header, which may include a port. path is the
// raw request path without the query. h may be nil when no rule reads
// headers. On error, res contains nothing of use.
//
// The result is written through a pointer rather than returned, because
// Go 1.26 does not keep a struct of this size in registers: a returned
// Result was stored and then copied in 16-byte loads, which stalled on
// store forwarding.
//
// Extract allocates nothing on success. Its errors wrap ErrNoTenant,
// ErrInvalidTenant or ErrUnknownComponent and quote the offending value.
func (e *Extractor) Extract(host, path []byte, h Header, res *Result) error {
	host = hostWithoutPort(host)

	for i := range e.rules {
		r := &e.rules[i]
		var m match
		if !r.match(host, path, h, &m) {
			continue
		}

		folded, err := normalize(m.tenant, &res.lower)
		if err != nil {
			return fmt.Errorf("%s: %w", r.source, err)
		}
		// Most configurations have no component rules, and then a request
		// without a {component} placeholder needs no further call.
		component := e.defaultComponent
		if m.hasComponent || len(e.componentRules) > 0 {
			if component, err = e.component(r, &m, path, h); err != nil {
				return err
			}
		}
		res.tenant, res.folded = m.tenant, folded
		res.Component = component
		res.StripLen = 0
		if r.strip {
			res.StripLen = m.prefixLen
		}
		return nil
	}

	return fmt.Errorf("%w: host %s, path %s and headers match none of the rules (%s)%s; send the tenant ID where one of them expects it",
		ErrNoTenant, quote(host), quote(path), e.ruleList, e.hostHints(host))
}

// hostHints names the host rules that host came close to matching, and
// why it missed them, for the ErrNoTenant message. It runs only once no
// rule has matched.
func (e *Extractor) hostHints(host []byte) string {
	var b strings.Builder
	for i := range e.rules {
		r := &e.rules[i]
		if r.kind != hostRule {
			continue
		}
		if hint := r.host.labelHint(host); hint != "" {
			fmt.Fprintf(&b, "; for %s, %s", r.source, hint)
		}
	}
	return b.String()
}

// component returns the component of a request that rule r matched as m:
// the one its {component} placeholder names, or else the one the component
// rules select.
func (e *Extractor) component(r *compiledRule, m *match, path []byte, h Header) (string, error) {
	if !m.hasComponent {
		return e.resolveComponent(path[m.prefixLen:], h)
	}
	name, ok := e.lookupComponent(m.component)
	if !ok {
		return "", e.unknownComponent(m.component, r.source)
	}
	return name, nil
}

// match reports whether the rule matches the request and fills m if it does.
func (r *compiledRule) match(host, path []byte, h Header, m *match) bool {
	switch r.kind {
	case hostRule:
		return r.host.match(host, m)
	case pathRule:
		return matchPath(r.parts, path, m)
	default:
		if h == nil {
			return false
		}
		m.tenant = h.Peek(r.header)
		return len(m.tenant) > 0
	}
}

// matchPath matches the leading segments of path against parts. The segment
// after the last part must be absent or start with '/', so "/t/acme" and
// "/t/acme/x" match "/t/{tenant}/" but "/tx/acme" does not.
func matchPath(parts []part, path []byte, m *match) bool {
	pos := 0
	for _, p := range parts {
		if pos >= len(path) || path[pos] != '/' {
			return false
		}
		pos++
		end := bytes.IndexByte(path[pos:], '/')
		if end < 0 {
			end = len(path)
		} else {
			end += pos
		}
		segment := path[pos:end]
		if p.kind == literalPart && string(segment) != p.text {
			return false
		}
		m.capture(p, segment)
		pos = end
	}
	m.prefixLen = pos
	return true
}

// resolveComponent applies the component rules to rest, the path behind the
// tenant prefix, and to the headers.
func (e *Extractor) resolveComponent(rest []byte, h Header) (string, error) {
	for i := range e.componentRules {
		r := &e.componentRules[i]
		if r.prefix != "" {
			if hasPathPrefix(rest, r.prefix) {
				return r.component, nil
			}
			continue
		}
		if h == nil {
			continue
		}
		value := h.Peek(r.header)
		if len(value) == 0 {
			continue
		}
		name, ok := e.lookupComponent(value)
		if !ok {
			return "", e.unknownComponent(value, r.source)
		}
		return name, nil
	}
	return e.defaultComponent, nil
}

// lookupComponent returns the known component name equal to name, ignoring
// ASCII case. Known names are lower case.
func (e *Extractor) lookupComponent(name []byte) (string, bool) {
	for _, known := range e.components {
		if equalFold(name, known) {
			return known, true
		}
	}
	return "", false
}

func (e *Extractor) unknownComponent(name []byte, source string) error {
	return fmt.Errorf("%w %s from %s; use one of %s", ErrUnknownComponent, quote(name), source, e.componentList)
}

// hasPathPrefix reports whether path starts with the segments of prefix, which
// has no trailing '/'.
func hasPathPrefix(path []byte, prefix string) bool {
	if len(path) < len(prefix) || string(path[:len(prefix)]) != prefix {
		return false
	}
	return len(path) == len(prefix) || path[len(prefix)] == '/'
}

// hostWithoutPort drops a ":port" suffix and one trailing dot, which marks a
// fully qualified name. An IPv6 literal keeps its brackets. A port is the
// digits after the last ':', possibly none, so "a:b" keeps its colon and
// matches no host pattern. The port is found from the end, because it is a
// few bytes long and the host before it may be long.
func hostWithoutPort(host []byte) []byte {
	if len(host) > 0 && host[0] == '[' {
		if end := bytes.IndexByte(host, ']'); end >= 0 {
			return host[:end+1]
		}
		return host
	}
	for i := len(host) - 1; i >= 0; i-- {
		c := host[i]
		if c == ':' {
			host = host[:i]
			break
		}
		if c < '0' || c > '9' {
			break
		}
	}
	if n := len(host); n > 0 && host[n-1] == '.' {
		host = host[:n-1]
	}
	return host
}

// equalFold reports whether b equals s, ignoring ASCII case in b. s must be lower case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
