package tenant

import "bytes"

// hostPattern is a compiled host pattern, split around its placeholders.
// Literal labels before the first placeholder and after the last one are
// compared as two strings, so the common "{tenant}.apps.example.com" costs
// one suffix comparison and one scan of the tenant label instead of a split
// into labels.
type hostPattern struct {
	prefix string // literal labels before the first placeholder, each followed by '.'
	suffix string // literal labels after the last placeholder, each preceded by '.'
	middle []part // the parts from the first placeholder to the last, inclusive
}

// newHostPattern splits parts, which contain at least one placeholder.
func newHostPattern(parts []part) hostPattern {
	first, last := -1, -1
	for i, p := range parts {
		if p.kind == literalPart {
			continue
		}
		if first < 0 {
			first = i
		}
		last = i
	}

	var hp hostPattern
	for _, p := range parts[:first] {
		hp.prefix += p.text + "."
	}
	for _, p := range parts[last+1:] {
		hp.suffix += "." + p.text
	}
	hp.middle = parts[first : last+1]
	return hp
}

// match reports whether host matches the pattern label by label, ignoring
// ASCII case, with the same label count, and fills m if it does.
func (hp *hostPattern) match(host []byte, m *match) bool {
	if len(host) < len(hp.prefix)+len(hp.suffix) {
		return false
	}
	if !equalFold(host[:len(hp.prefix)], hp.prefix) || !equalFold(host[len(host)-len(hp.suffix):], hp.suffix) {
		return false
	}

	middle := host[len(hp.prefix) : len(host)-len(hp.suffix)]
	if len(hp.middle) == 1 {
		// The only placeholder is {tenant}: it must fill one whole label.
		if bytes.IndexByte(middle, '.') >= 0 {
			return false
		}
		m.tenant = middle
		return true
	}
	return matchLabels(hp.middle, middle, m)
}

// matchLabels matches host label by label against parts, ignoring ASCII
// case. The label count must be equal.
func matchLabels(parts []part, host []byte, m *match) bool {
	rest := host
	for i, p := range parts {
		label, tail, found := bytes.Cut(rest, []byte{'.'})
		last := i == len(parts)-1
		if found == last {
			return false
		}
		switch p.kind {
		case literalPart:
			if !equalFold(label, p.text) {
				return false
			}
		case tenantPart:
			m.tenant = label
		case componentPart:
			m.component = label
			m.hasComponent = true
		}
		rest = tail
	}
	return true
}
