package conditional_test

import (
	"testing"

	"github.com/tollgate-go/tollgate/core/conditional"
)

// TestParseRangeBoundaries pins the edges of the range grammar (RFC 9110 §14.1.1): positions of
// the longest accepted length (18 digits, the most that cannot overflow int64), bytes just
// outside '0'..'9' inside a position, and ranges listed after an unsatisfiable `-0`.
func TestParseRangeBoundaries(t *testing.T) {
	type R = conditional.ByteRange
	const (
		digits18 = "999999999999999999"
		digits19 = "1000000000000000000"
	)
	tests := []rangeCase{
		{"18-digit last-pos is clamped", "bytes=0-" + digits18, 10, []R{{0, 10}}, nil},
		{"18-digit first-pos is past the end", "bytes=" + digits18 + "-", 10, nil, conditional.ErrUnsatisfiable},
		{"18-digit suffix is the whole representation", "bytes=-" + digits18, 10, []R{{0, 10}}, nil},
		{"19-digit last-pos", "bytes=0-" + digits19, 10, nil, conditional.ErrMalformedRange},
		{"19-digit first-pos", "bytes=" + digits19 + "-", 10, nil, conditional.ErrMalformedRange},
		{"digits 0 and 9", "bytes=0-9", 20, []R{{0, 10}}, nil},
		{"digit 9 alone", "bytes=9-9", 20, []R{{9, 1}}, nil},
		{"letter inside first-pos", "bytes=1a-2", 10, nil, conditional.ErrMalformedRange},
		{"letter inside last-pos", "bytes=0-1a", 10, nil, conditional.ErrMalformedRange},
		{"letter inside suffix", "bytes=-1a", 10, nil, conditional.ErrMalformedRange},
		{"byte below '0' ('/')", "bytes=0-1/", 10, nil, conditional.ErrMalformedRange},
		{"byte above '9' (':')", "bytes=0-1:", 10, nil, conditional.ErrMalformedRange},
		{"hex digits", "bytes=0x1-2", 10, nil, conditional.ErrMalformedRange},
		{"range after -0", "bytes=-0,0-1", 10, []R{{0, 2}}, nil},
		{"suffix after -0", "bytes=-0,-2", 10, []R{{8, 2}}, nil},
		{"-0 twice", "bytes=-0,-0", 10, nil, conditional.ErrUnsatisfiable},
		{"-0 then past the end", "bytes=-0,10-", 10, nil, conditional.ErrUnsatisfiable},
		{"-0 then malformed", "bytes=-0,x", 10, nil, conditional.ErrMalformedRange},
		{"-0 on empty representation", "bytes=-0", 0, nil, conditional.ErrUnsatisfiable},
		{"-0 and suffix on empty representation", "bytes=-0,-5", 0, nil, conditional.ErrUnsatisfiable},
		{"only empty elements", "bytes=, ,", 10, nil, conditional.ErrMalformedRange},
		{"last byte exactly", "bytes=9-9", 10, []R{{9, 1}}, nil},
		{"first-pos equals last-pos", "bytes=3-3", 10, []R{{3, 1}}, nil},
		{"first-pos equals size", "bytes=10-10", 10, nil, conditional.ErrUnsatisfiable},
	}
	runParseRange(t, tests)
}

// TestHasPrecondition: each of the four precondition fields alone is a precondition; Range
// and If-Range are not (RFC 9110 §13.1).
func TestHasPrecondition(t *testing.T) {
	type H = conditional.Header
	tests := []struct {
		name string
		h    H
		want bool
	}{
		{"none", H{}, false},
		{"If-Match", H{IfMatch: `"a"`}, true},
		{"If-None-Match", H{IfNoneMatch: `"a"`}, true},
		{"If-Modified-Since", H{IfModifiedSince: "Wed, 20 Nov 2024 10:30:15 GMT"}, true},
		{"If-Unmodified-Since", H{IfUnmodifiedSince: "Wed, 20 Nov 2024 10:30:15 GMT"}, true},
		{"If-Range", H{IfRange: `"a"`}, false},
		{"Range", H{Range: "bytes=0-1"}, false},
		{"Range and If-Range", H{Range: "bytes=0-1", IfRange: `"a"`}, false},
	}
	for _, tc := range tests {
		if got := tc.h.HasPrecondition(); got != tc.want {
			t.Errorf("%s: HasPrecondition() = %v, want %v", tc.name, got, tc.want)
		}
		if got := tc.h.IsZero(); got != (tc.name == "none") {
			t.Errorf("%s: IsZero() = %v", tc.name, got)
		}
	}
}

// TestScanETagCharacters walks the etagc boundaries of RFC 9110 §8.8.3 (%x21 / %x23-7E /
// obs-text): the bytes on each side of every range, inside an opaque-tag.
func TestScanETagCharacters(t *testing.T) {
	tests := []struct {
		c  byte
		ok bool
	}{
		{0x20, false}, // SP
		{0x21, true},  // !
		{0x22, true},  // DQUOTE ends the tag early: `"` then `"` leaves a valid `""`
		{0x23, true},  // #
		{0x7e, true},  // ~
		{0x7f, false}, // DEL
		{0x80, true},  // obs-text
		{0xff, true},
		{0x09, false}, // HTAB
		{0x00, false},
	}
	for _, tc := range tests {
		in := `"a` + string([]byte{tc.c}) + `b"`
		etag, rest, ok := conditional.ScanETag(in)
		if ok != tc.ok {
			t.Errorf("ScanETag(%q) ok = %v, want %v", in, ok, tc.ok)
			continue
		}
		switch {
		case !ok:
			if etag != "" || rest != "" {
				t.Errorf("ScanETag(%q) = %q, %q on failure", in, etag, rest)
			}
		case tc.c == '"':
			if etag != `"a"` || rest != `b"` {
				t.Errorf("ScanETag(%q) = %q, %q; want %q, %q", in, etag, rest, `"a"`, `b"`)
			}
		default:
			if etag != in || rest != "" {
				t.Errorf("ScanETag(%q) = %q, %q; want the whole tag", in, etag, rest)
			}
		}
	}
	// The same boundaries decide If-None-Match: a tag with an invalid byte is a malformed
	// field, ignored (CondNone), not a mismatch (CondTrue).
	if got := conditional.CheckIfNoneMatch("\"a\x7fb\"", `"x"`); got != conditional.CondNone {
		t.Errorf("If-None-Match with DEL: %v, want none", got)
	}
	if got := conditional.CheckIfNoneMatch("\"a\x7eb\"", `"x"`); got != conditional.CondTrue {
		t.Errorf("If-None-Match with ~: %v, want true", got)
	}
}

// TestETagLists pins the weak and strong comparisons (RFC 9110 §8.8.3.2) through the lists of
// If-Match (strong) and If-None-Match (weak), including malformed members anywhere in the list.
func TestETagLists(t *testing.T) {
	const (
		none = conditional.CondNone
		yes  = conditional.CondTrue
		no   = conditional.CondFalse
	)
	tests := []struct {
		name      string
		field     string
		current   string
		ifMatch   conditional.Cond
		ifNoneMat conditional.Cond
	}{
		{"strong equal", `"a"`, `"a"`, yes, no},
		{"weak field, strong current", `W/"a"`, `"a"`, no, no},
		{"strong field, weak current", `"a"`, `W/"a"`, no, no},
		{"weak both", `W/"a"`, `W/"a"`, no, no},
		{"different tags", `"a"`, `"b"`, no, yes},
		{"weak different tags", `W/"a"`, `W/"b"`, no, yes},
		{"no current tag", `"a"`, ``, no, yes},
		{"empty tag against empty tag", `""`, `""`, yes, no},
		{"match last in list", `"x", "y", "a"`, `"a"`, yes, no},
		{"match first in list", `"a", "x"`, `"a"`, yes, no},
		{"weak match in list", `"x", W/"a"`, `"a"`, no, no},
		{"no match in list", `"x", W/"y"`, `"a"`, no, yes},
		{"list without spaces", `"x","a"`, `"a"`, yes, no},
		{"list with tabs", "\t\"x\"\t,\t\"a\"\t", `"a"`, yes, no},
		{"trailing comma", `"a",`, `"a"`, yes, no},
		{"leading commas", `,,"a"`, `"a"`, yes, no},
		{"two tags without a comma", `"x" "a"`, `"a"`, no, none},
		{"match then junk after it", `"a" x`, `"a"`, no, none},
		{"match then malformed member", `"a", x`, `"a"`, no, none},
		{"malformed member then match", `x, "a"`, `"a"`, no, none},
		{"unterminated tag", `"a", "b`, `"a"`, no, none},
		{"star inside list", `"a", *`, `"a"`, no, none},
		{"star with spaces", " * ", `"a"`, yes, no},
		{"only commas", `,`, `"a"`, no, yes},
	}
	for _, tc := range tests {
		if got := conditional.CheckIfMatch(tc.field, tc.current); got != tc.ifMatch {
			t.Errorf("%s: CheckIfMatch(%q, %q) = %v, want %v", tc.name, tc.field, tc.current, got, tc.ifMatch)
		}
		if got := conditional.CheckIfNoneMatch(tc.field, tc.current); got != tc.ifNoneMat {
			t.Errorf("%s: CheckIfNoneMatch(%q, %q) = %v, want %v", tc.name, tc.field, tc.current, got, tc.ifNoneMat)
		}
	}
}
