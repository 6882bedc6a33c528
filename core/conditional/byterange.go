package conditional

import (
	"errors"
	"strconv"
	"strings"
)

// ErrUnsatisfiable is returned by ParseRange when the range-set is valid but none of its ranges
// overlaps the representation (RFC 9110 §14.1.1): the server answers 416 Range Not
// Satisfiable with `Content-Range: bytes */<size>` (see UnsatisfiedContentRange).
var ErrUnsatisfiable = errors.New("conditional: range not satisfiable")

// ErrMalformedRange is returned by ParseRange when the field is not a valid bytes range-set or
// uses another range unit; RFC 9110 §14.2 lets a server ignore such a field and send the whole
// representation, which is what a caller should do.
var ErrMalformedRange = errors.New("conditional: malformed Range field")

// ByteRange is one satisfiable range of a representation: Length bytes from offset Start.
type ByteRange struct {
	Start, Length int64
}

// ContentRange returns the Content-Range field value for r within a representation of size
// bytes (RFC 9110 §14.4), e.g. "bytes 0-99/1000".
func (r ByteRange) ContentRange(size int64) string {
	return "bytes " + strconv.FormatInt(r.Start, 10) + "-" + strconv.FormatInt(r.Start+r.Length-1, 10) + "/" + strconv.FormatInt(size, 10)
}

// UnsatisfiedContentRange returns the Content-Range field value of a 416 response for a
// representation of size bytes (RFC 9110 §15.5.17), e.g. "bytes */1000".
func UnsatisfiedContentRange(size int64) string {
	return "bytes */" + strconv.FormatInt(size, 10)
}

// ParseRange parses a Range field (RFC 9110 §14.1.1–14.2) against a representation of size
// bytes. It accepts the bytes unit (case-insensitively), int-ranges ("0-99", "100-"), suffix
// ranges ("-500"), lists with optional whitespace and empty elements; a last-pos beyond the end
// is clamped to the last byte. Ranges that do not overlap the representation are dropped; when
// every range is dropped, the error is ErrUnsatisfiable. Any syntax error, including
// first-pos > last-pos, gives ErrMalformedRange. An empty field, and a representation of zero
// bytes with only suffix ranges, give no ranges and no error: send the whole representation.
//
// Ranges are returned in request order and are not coalesced; a server that wants to refuse
// many small or overlapping ranges (a denial-of-service vector named in RFC 9110 §17.15)
// checks the result itself.
func ParseRange(field string, size int64) ([]ByteRange, error) {
	if field == "" {
		return nil, nil
	}
	unit, set, ok := strings.Cut(field, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		return nil, ErrMalformedRange
	}
	var out []ByteRange
	specs, unsatisfiable := 0, 0
	for spec := range strings.SplitSeq(set, ",") {
		spec = strings.Trim(spec, " \t")
		if spec == "" {
			continue // §5.6.1: recipients accept empty list elements
		}
		specs++
		first, last, ok := strings.Cut(spec, "-")
		if !ok {
			return nil, ErrMalformedRange
		}
		if first == "" {
			// suffix-range: the last n bytes.
			n, ok := parseDigits(last)
			if !ok {
				return nil, ErrMalformedRange
			}
			if n == 0 {
				unsatisfiable++
				continue
			}
			if size == 0 {
				continue
			}
			n = min(n, size)
			out = append(out, ByteRange{Start: size - n, Length: n})
			continue
		}
		start, ok := parseDigits(first)
		if !ok {
			return nil, ErrMalformedRange
		}
		end := size - 1
		if last != "" {
			e, ok := parseDigits(last)
			if !ok || e < start {
				return nil, ErrMalformedRange
			}
			end = min(e, size-1)
		}
		if start >= size {
			unsatisfiable++
			continue
		}
		out = append(out, ByteRange{Start: start, Length: end - start + 1})
	}
	if specs == 0 {
		return nil, ErrMalformedRange
	}
	if len(out) == 0 && unsatisfiable > 0 {
		return nil, ErrUnsatisfiable
	}
	return out, nil
}

// parseDigits parses 1*DIGIT without sign, whitespace or overflow.
func parseDigits(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
