package conditional

import "strings"

// ScanETag reads one entity-tag (RFC 9110 §8.8.3: `"opaque"` or `W/"opaque"`) at the start of
// s, after optional whitespace. It returns the entity-tag, the text after it, and whether s
// began with a syntactically valid entity-tag.
func ScanETag(s string) (etag, rest string, ok bool) {
	s = strings.TrimLeft(s, " \t")
	start := 0
	if strings.HasPrefix(s, "W/") {
		start = 2
	}
	if len(s)-start < 2 || s[start] != '"' {
		return "", "", false
	}
	for i := start + 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			return s[:i+1], s[i+1:], true
		// etagc = %x21 / %x23-7E / obs-text
		case c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80:
		default:
			return "", "", false
		}
	}
	return "", "", false
}

// IsWeak reports whether the entity-tag carries the weakness indicator `W/`.
func IsWeak(etag string) bool { return strings.HasPrefix(etag, "W/") }

// StrongMatch reports whether a and b match under the strong comparison of RFC 9110 §8.8.3.2:
// both are strong and their opaque-tags are identical.
func StrongMatch(a, b string) bool {
	return a == b && a != "" && !IsWeak(a)
}

// WeakMatch reports whether a and b match under the weak comparison of RFC 9110 §8.8.3.2:
// their opaque-tags are identical, whether or not either is weak.
func WeakMatch(a, b string) bool {
	return a != "" && strings.TrimPrefix(a, "W/") == strings.TrimPrefix(b, "W/")
}

// listMatch walks a comma-separated list of entity-tags (RFC 9110 §5.6.1, empty elements
// allowed) and reports whether any member matches current under match. The whole list is
// read: valid is false when any member is malformed, including a `*` inside a list (the
// grammar is `"*" / #entity-tag`: `*` is only valid alone, and callers handle that case).
func listMatch(field, current string, match func(a, b string) bool) (matched, valid bool) {
	for {
		field = strings.TrimLeft(field, " \t")
		if field == "" {
			return matched, true
		}
		if field[0] == ',' {
			field = field[1:]
			continue
		}
		etag, rest, ok := ScanETag(field)
		if !ok {
			return false, false
		}
		if match(etag, current) {
			matched = true
		}
		rest = strings.TrimLeft(rest, " \t")
		if rest != "" && rest[0] != ',' {
			return false, false
		}
		field = rest
	}
}
