package sample

import (
	"slices"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
)

// document contains the fields of the JSON object returned for requests that
// are not echoed.
type document struct {
	instance  string
	component string
	tenant    []byte
	method    []byte
	path      []byte
}

func appendDocument(dst []byte, d document) []byte {
	dst = append(dst, `{"instance":`...)
	dst = appendJSONString(dst, d.instance)
	dst = append(dst, `,"component":`...)
	dst = appendJSONString(dst, d.component)
	dst = append(dst, `,"tenant":`...)
	dst = appendJSONString(dst, d.tenant)
	dst = append(dst, `,"method":`...)
	dst = appendJSONString(dst, d.method)
	dst = append(dst, `,"path":`...)
	dst = appendJSONString(dst, d.path)
	return append(dst, "}\n"...)
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// so the document stays valid whatever bytes the request URI holds.
func appendJSONString[T string | []byte](dst []byte, s T) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:]))
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// writePadded sets doc as the body of resp, padded with spaces to exactly size
// bytes. Trailing spaces keep the JSON valid. A size smaller than the
// document cuts it, so the body is always size bytes long. A negative size
// sends the document as it is.
func writePadded(resp *fasthttp.Response, doc []byte, size int) {
	if size < 0 {
		resp.SetBody(doc)
		return
	}
	if size <= len(doc) {
		resp.SetBody(doc[:size])
		return
	}

	// SwapBody lends the pooled body buffer, so a warm server does not allocate.
	body := slices.Grow(resp.SwapBody(nil)[:0], size)[:size]
	copy(body, doc)
	pad := body[len(doc):]
	pad[0] = ' '
	for filled := 1; filled < len(pad); filled *= 2 {
		copy(pad[filled:], pad[:filled])
	}
	resp.SwapBody(body)
}
