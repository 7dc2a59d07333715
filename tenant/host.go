package tenant

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// hostPattern is a compiled host pattern, split around its placeholders.
// Literal labels before the first placeholder and after the last one are
// compared as two strings, so the common "{tenant}.apps.example.com" costs
// one suffix comparison and one scan of the tenant label instead of a split
// into labels.
type hostPattern struct {
	prefix foldLiteral // literal labels before the first placeholder, each followed by '.'
	suffix foldLiteral // literal labels after the last placeholder, each preceded by '.'
	middle []part      // the parts from the first placeholder to the last, inclusive
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

	var prefix, suffix string
	for _, p := range parts[:first] {
		prefix += p.text + "."
	}
	for _, p := range parts[last+1:] {
		suffix += "." + p.text
	}
	return hostPattern{
		prefix: newFoldLiteral(prefix),
		suffix: newFoldLiteral(suffix),
		middle: parts[first : last+1],
	}
}

// match reports whether host matches the pattern label by label, ignoring
// ASCII case, with the same label count, and fills m if it does.
func (hp *hostPattern) match(host []byte, m *match) bool {
	middle, ok := hp.inner(host)
	if !ok {
		return false
	}

	if len(hp.middle) == 1 {
		// The only placeholder is {tenant}: it must fill one whole label.
		// A label is a few bytes long, and a loop finds a dot in it sooner
		// than bytes.IndexByte, which first sets up a vector search.
		for _, c := range middle {
			if c == '.' {
				return false
			}
		}
		m.tenant = middle
		return true
	}
	return matchLabels(hp.middle, middle, m)
}

// inner returns the part of host between the pattern's literal prefix and
// suffix, and false if host lacks either of them, ignoring ASCII case.
func (hp *hostPattern) inner(host []byte) ([]byte, bool) {
	prefixLen, suffixLen := len(hp.prefix.text), len(hp.suffix.text)
	if len(host) < prefixLen+suffixLen {
		return nil, false
	}
	// The prefix is empty in the common "{tenant}.apps.example.com".
	if prefixLen > 0 && !hp.prefix.equal(host[:prefixLen]) {
		return nil, false
	}
	if !hp.suffix.equal(host[len(host)-suffixLen:]) {
		return nil, false
	}
	return host[prefixLen : len(host)-suffixLen], true
}

// labelHint describes how host missed the pattern when host has the
// pattern's literal prefix and suffix but a different number of labels
// between them. It returns "" for any other host.
func (hp *hostPattern) labelHint(host []byte) string {
	middle, ok := hp.inner(host)
	if !ok {
		return ""
	}

	got := bytes.Count(middle, []byte{'.'}) + 1
	if got == len(hp.middle) {
		return ""
	}
	return fmt.Sprintf("%s has %s where the pattern expects %s", quote(middle), labelCount(got), labelCount(len(hp.middle)))
}

func labelCount(n int) string {
	if n == 1 {
		return "1 label"
	}
	return fmt.Sprintf("%d labels", n)
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
		if p.kind == literalPart && !equalFold(label, p.text) {
			return false
		}
		m.capture(p, label)
		rest = tail
	}
	return true
}

// foldLiteral is a lower-case literal prepared for a comparison that ignores
// ASCII case, eight bytes at a time. Setting bit 0x20 turns an ASCII
// upper-case letter into its lower case. So an input word with the mask's
// bits set equals the literal's word exactly when each letter matches in
// either case and each other byte matches as it is.
type foldLiteral struct {
	text  string
	words []foldWord // empty when text is shorter than 8 bytes
}

// foldWord is the literal's 8 bytes at offset and the mask that has 0x20 in
// each byte that is a letter. The last word overlaps the one before it when
// the literal's length is not a multiple of 8.
type foldWord struct {
	offset     int
	want, mask uint64
}

// newFoldLiteral prepares text, which must be in lower case, because the
// mask folds the input's letters only.
func newFoldLiteral(text string) foldLiteral {
	f := foldLiteral{text: text}
	if len(text) < 8 {
		return f
	}

	for offset := 0; ; offset += 8 {
		offset = min(offset, len(text)-8)
		var mask [8]byte
		for i := range mask {
			if c := text[offset+i]; 'a' <= c && c <= 'z' {
				mask[i] = 0x20
			}
		}
		f.words = append(f.words, foldWord{
			offset: offset,
			want:   binary.LittleEndian.Uint64([]byte(text[offset : offset+8])),
			mask:   binary.LittleEndian.Uint64(mask[:]),
		})
		if offset == len(text)-8 {
			return f
		}
	}
}

// equal reports whether b equals the literal, ignoring ASCII case in b.
func (f *foldLiteral) equal(b []byte) bool {
	if len(b) != len(f.text) {
		return false
	}
	if f.words == nil {
		return equalFold(b, f.text)
	}
	for _, w := range f.words {
		if binary.LittleEndian.Uint64(b[w.offset:])|w.mask != w.want {
			return false
		}
	}
	return true
}
