package conditional_test

import (
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core/conditional"
)

var (
	modTime = time.Date(2024, 11, 20, 10, 30, 15, 500_000_000, time.UTC) // sub-second on purpose
	before  = "Wed, 20 Nov 2024 10:30:14 GMT"
	same    = "Wed, 20 Nov 2024 10:30:15 GMT"
	after   = "Wed, 20 Nov 2024 10:30:16 GMT"
	rep     = conditional.Validators{ETag: `"v1"`, LastModified: modTime}
)

func TestEvaluate(t *testing.T) {
	type H = conditional.Header
	const (
		proceed = conditional.Proceed
		nm      = conditional.NotModified
		pf      = conditional.PreconditionFailed
	)
	tests := []struct {
		name   string
		method string
		h      H
		v      conditional.Validators
		want   conditional.Outcome
		rng    string
	}{
		{"no fields", "GET", H{}, rep, proceed, ""},

		// §13.1.1 If-Match: strong comparison, `*`, lists.
		{"13.1.1 if-match equal", "GET", H{IfMatch: `"v1"`}, rep, proceed, ""},
		{"13.1.1 if-match differs", "GET", H{IfMatch: `"v2"`}, rep, pf, ""},
		{"13.1.1 if-match list", "GET", H{IfMatch: `"a", "v1"`}, rep, proceed, ""},
		{"13.1.1 if-match star", "PUT", H{IfMatch: `*`}, rep, proceed, ""},
		{"13.1.1 if-match weak never matches strongly", "GET", H{IfMatch: `W/"v1"`}, rep, pf, ""},
		{"13.1.1 if-match against weak current", "GET", H{IfMatch: `"v1"`}, conditional.Validators{ETag: `W/"v1"`}, pf, ""},
		{"13.1.1 if-match no current etag", "GET", H{IfMatch: `"v1"`}, conditional.Validators{LastModified: modTime}, pf, ""},
		{"13.1.1 if-match malformed", "GET", H{IfMatch: `v1`}, rep, pf, ""},

		// §13.1.4 If-Unmodified-Since, and step 2 of §13.2.2 (only without If-Match).
		{"13.1.4 unmodified since later", "GET", H{IfUnmodifiedSince: after}, rep, proceed, ""},
		{"13.1.4 unmodified since same second", "GET", H{IfUnmodifiedSince: same}, rep, proceed, ""},
		{"13.1.4 modified after date", "GET", H{IfUnmodifiedSince: before}, rep, pf, ""},
		{"13.1.4 invalid date ignored", "GET", H{IfUnmodifiedSince: "yesterday"}, rep, proceed, ""},
		{"13.1.4 list of dates ignored", "GET", H{IfUnmodifiedSince: before + ", " + before}, rep, proceed, ""},
		{"13.2.2 if-match true overrides IUS", "GET", H{IfMatch: `"v1"`, IfUnmodifiedSince: before}, rep, proceed, ""},
		{"13.1.4 unknown last-modified ignored", "GET", H{IfUnmodifiedSince: before}, conditional.Validators{ETag: `"v1"`}, proceed, ""},

		// §13.1.2 If-None-Match: weak comparison, `*`, lists; 304 only for GET/HEAD.
		{"13.1.2 inm match GET", "GET", H{IfNoneMatch: `"v1"`}, rep, nm, ""},
		{"13.1.2 inm match HEAD", "HEAD", H{IfNoneMatch: `"v1"`}, rep, nm, ""},
		{"13.1.2 inm weak compare", "GET", H{IfNoneMatch: `W/"v1"`}, rep, nm, ""},
		{"13.1.2 inm list", "GET", H{IfNoneMatch: `"x", W/"y" ,"v1"`}, rep, nm, ""},
		{"13.1.2 inm list empty elements", "GET", H{IfNoneMatch: `, ,"v1",`}, rep, nm, ""},
		{"13.1.2 inm star", "GET", H{IfNoneMatch: `*`}, rep, nm, ""},
		{"13.1.2 inm differs", "GET", H{IfNoneMatch: `"v2"`}, rep, proceed, ""},
		{"13.1.2 inm match on PUT is 412", "PUT", H{IfNoneMatch: `*`}, rep, pf, ""},
		{"13.1.2 inm malformed", "GET", H{IfNoneMatch: `v1`}, rep, proceed, ""},
		{"13.2.2 if-match false before inm", "GET", H{IfMatch: `"v2"`, IfNoneMatch: `"v1"`}, rep, pf, ""},

		// §13.1.3 If-Modified-Since: GET/HEAD only, ignored when If-None-Match is present.
		{"13.1.3 not modified since", "GET", H{IfModifiedSince: same}, rep, nm, ""},
		{"13.1.3 not modified since later", "HEAD", H{IfModifiedSince: after}, rep, nm, ""},
		{"13.1.3 modified since", "GET", H{IfModifiedSince: before}, rep, proceed, ""},
		{"13.1.3 ignored for POST", "POST", H{IfModifiedSince: after}, rep, proceed, ""},
		{"13.1.3 ignored with inm", "GET", H{IfNoneMatch: `"v2"`, IfModifiedSince: after}, rep, proceed, ""},
		{"13.1.3 invalid date ignored", "GET", H{IfModifiedSince: "not a date"}, rep, proceed, ""},
		{"13.1.3 RFC 850 date", "GET", H{IfModifiedSince: "Wednesday, 20-Nov-24 10:30:15 GMT"}, rep, nm, ""},
		{"13.1.3 asctime date", "GET", H{IfModifiedSince: "Wed Nov 20 10:30:15 2024"}, rep, nm, ""},
		{"13.1.3 unknown last-modified", "GET", H{IfModifiedSince: after}, conditional.Validators{ETag: `"v1"`}, proceed, ""},

		// §13.1.5 If-Range (strong), and §14.2 Range for GET only.
		{"14.2 range GET", "GET", H{Range: "bytes=0-1"}, rep, proceed, "bytes=0-1"},
		{"14.2 range ignored on HEAD", "HEAD", H{Range: "bytes=0-1"}, rep, proceed, ""},
		{"13.1.5 if-range etag matches", "GET", H{Range: "bytes=0-1", IfRange: `"v1"`}, rep, proceed, "bytes=0-1"},
		{"13.1.5 if-range etag differs", "GET", H{Range: "bytes=0-1", IfRange: `"v0"`}, rep, proceed, ""},
		{"13.1.5 if-range weak etag", "GET", H{Range: "bytes=0-1", IfRange: `W/"v1"`}, rep, proceed, ""},
		{"13.1.5 if-range date exact", "GET", H{Range: "bytes=0-1", IfRange: same}, rep, proceed, "bytes=0-1"},
		{"13.1.5 if-range date older", "GET", H{Range: "bytes=0-1", IfRange: before}, rep, proceed, ""},
		{"13.1.5 if-range garbage", "GET", H{Range: "bytes=0-1", IfRange: "garbage"}, rep, proceed, ""},
		{"13.1.5 if-range without range", "GET", H{IfRange: `"v1"`}, rep, proceed, ""},
		{"13.2.2 304 wins over range", "GET", H{IfNoneMatch: `"v1"`, Range: "bytes=0-1"}, rep, nm, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := conditional.Evaluate(tc.method, tc.h, tc.v)
			if got.Outcome != tc.want || got.Range != tc.rng {
				t.Errorf("Evaluate(%s, %+v) = {%v, %q}, want {%v, %q}", tc.method, tc.h, got.Outcome, got.Range, tc.want, tc.rng)
			}
		})
	}
}

func TestChecksThreeState(t *testing.T) {
	tests := []struct {
		name string
		got  conditional.Cond
		want conditional.Cond
	}{
		{"if-match absent", conditional.CheckIfMatch("", `"a"`), conditional.CondNone},
		{"if-none-match absent", conditional.CheckIfNoneMatch("", `"a"`), conditional.CondNone},
		{"if-none-match true", conditional.CheckIfNoneMatch(`"b"`, `"a"`), conditional.CondTrue},
		{"ims absent", conditional.CheckIfModifiedSince("", modTime), conditional.CondNone},
		{"ims true", conditional.CheckIfModifiedSince(before, modTime), conditional.CondTrue},
		{"ius true", conditional.CheckIfUnmodifiedSince(after, modTime), conditional.CondTrue},
		{"if-range absent", conditional.CheckIfRange("", rep), conditional.CondNone},
		{"if-range trailing junk", conditional.CheckIfRange(`"v1" x`, rep), conditional.CondFalse},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestETagComparison(t *testing.T) {
	// The table of RFC 9110 §8.8.3.2.
	tests := []struct {
		a, b         string
		strong, weak bool
	}{
		{`W/"1"`, `W/"1"`, false, true},
		{`W/"1"`, `W/"2"`, false, false},
		{`W/"1"`, `"1"`, false, true},
		{`"1"`, `"1"`, true, true},
	}
	for _, tc := range tests {
		if got := conditional.StrongMatch(tc.a, tc.b); got != tc.strong {
			t.Errorf("StrongMatch(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.strong)
		}
		if got := conditional.WeakMatch(tc.a, tc.b); got != tc.weak {
			t.Errorf("WeakMatch(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.weak)
		}
	}
}

func TestScanETag(t *testing.T) {
	tests := []struct {
		in, etag, rest string
		ok             bool
	}{
		{`"abc"`, `"abc"`, "", true},
		{`  W/"abc" , "d"`, `W/"abc"`, ` , "d"`, true},
		{`""`, `""`, "", true},
		{`"a b"`, "", "", false}, // SP is not etagc (§8.8.3)
		{`"abc`, "", "", false},
		{`abc`, "", "", false},
		{`W/`, "", "", false},
	}
	for _, tc := range tests {
		etag, rest, ok := conditional.ScanETag(tc.in)
		if etag != tc.etag || rest != tc.rest || ok != tc.ok {
			t.Errorf("ScanETag(%q) = %q, %q, %v; want %q, %q, %v", tc.in, etag, rest, ok, tc.etag, tc.rest, tc.ok)
		}
	}
}

func TestHeaderFrom(t *testing.T) {
	fields := map[string]string{"If-None-Match": `"x"`, "Range": "bytes=1-2"}
	h := conditional.HeaderFrom(func(k string) string { return fields[k] })
	if h.IfNoneMatch != `"x"` || h.Range != "bytes=1-2" || h.IfMatch != "" {
		t.Fatalf("HeaderFrom = %+v", h)
	}
	if h.IsZero() || !h.HasPrecondition() {
		t.Fatalf("IsZero=%v HasPrecondition=%v, want false, true", h.IsZero(), h.HasPrecondition())
	}
}

func TestHTTPDate(t *testing.T) {
	got, ok := conditional.ParseHTTPDate(conditional.FormatHTTPDate(modTime))
	if !ok || !got.Equal(modTime.Truncate(time.Second)) {
		t.Fatalf("round trip = %v, %v; want %v", got, ok, modTime.Truncate(time.Second))
	}
}

// TestInvalidIfNoneMatchIgnored: `*` is only valid alone (RFC 9110 §13.1.2: "*" / #entity-tag);
// a field such as `*, "x"` is invalid and must not answer 304, and an If-Match of that form
// must not pass.
func TestInvalidIfNoneMatchIgnored(t *testing.T) {
	for _, tc := range []struct {
		field string
		want  conditional.Cond
	}{
		{`*`, conditional.CondFalse},
		{` * `, conditional.CondFalse},
		{`*, "x"`, conditional.CondNone},
		{`"x", *`, conditional.CondNone},
		{`"a", junk`, conditional.CondNone},
		{`"a", "b"`, conditional.CondFalse},
		{`"b"`, conditional.CondTrue},
	} {
		if got := conditional.CheckIfNoneMatch(tc.field, `"a"`); got != tc.want {
			t.Errorf("If-None-Match %q against \"a\": %v, want %v", tc.field, got, tc.want)
		}
	}
	if got := conditional.CheckIfMatch(`*, "x"`, `"a"`); got != conditional.CondFalse {
		t.Errorf("If-Match `*, \"x\"`: %v, want false (malformed)", got)
	}
	if got := conditional.CheckIfMatch(`"a", junk`, `"a"`); got != conditional.CondFalse {
		t.Errorf("If-Match `\"a\", junk`: %v, want false (malformed)", got)
	}
}
