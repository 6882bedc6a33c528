package conditional_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core/conditional"
)

// FuzzParseRange checks that any Range field yields ranges inside the representation, or one of
// the two documented errors. `go test` runs the seeds; `go test -fuzz=FuzzParseRange` explores.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{
		"bytes=0-0", "bytes=-1", "bytes=5-", "bytes=0-1,3-4,-2", "BYTES= 1-2 ,", "bytes=9-1",
		"bytes=-0", "bytes=99999999999999999-", "items=0-1", "bytes=,,,", "bytes=1-1-1", "",
	} {
		f.Add(s, int64(10))
		f.Add(s, int64(0))
	}
	f.Fuzz(func(t *testing.T, field string, size int64) {
		if size < 0 {
			size = -size
		}
		if size < 0 { // math.MinInt64
			size = 0
		}
		rs, err := conditional.ParseRange(field, size)
		if err != nil {
			if len(rs) != 0 {
				t.Fatalf("ParseRange(%q, %d) = %v with error %v", field, size, rs, err)
			}
			if !errors.Is(err, conditional.ErrMalformedRange) && !errors.Is(err, conditional.ErrUnsatisfiable) {
				t.Fatalf("ParseRange(%q, %d): undocumented error %v", field, size, err)
			}
			return
		}
		for _, r := range rs {
			if r.Start < 0 || r.Length <= 0 || r.Start+r.Length > size {
				t.Fatalf("ParseRange(%q, %d) = %v: range %+v outside [0,%d)", field, size, rs, r, size)
			}
		}
	})
}

// FuzzEvaluate feeds arbitrary field values through every precondition parser (entity-tag
// lists, HTTP-dates, If-Range) and checks the invariants of RFC 9110 §13.2.2.
func FuzzEvaluate(f *testing.F) {
	f.Add("GET", `"a"`, "", "", "", "", "")
	f.Add("GET", "", `W/"a", "b"`, "", "", `"a"`, "bytes=0-1")
	f.Add("HEAD", "*", "*", "Wed, 20 Nov 2024 10:30:15 GMT", "", "", "")
	f.Add("PUT", `"a`, `,,`, "", "Wednesday, 20-Nov-24 10:30:15 GMT", "Wed Nov 20 10:30:15 2024", "bytes=-5")
	f.Add("GET", "\x00", `W/"\x80"`, "Mon, 32 Jan 2006 15:04:05 GMT", "x", `W/"a"`, "bytes=")
	f.Fuzz(func(t *testing.T, method, ifMatch, ifNoneMatch, ims, ius, ifRange, rng string) {
		h := conditional.Header{IfMatch: ifMatch, IfNoneMatch: ifNoneMatch, IfModifiedSince: ims,
			IfUnmodifiedSince: ius, IfRange: ifRange, Range: rng}
		v := conditional.Validators{ETag: `"a"`, LastModified: time.Date(2024, 11, 20, 10, 30, 15, 0, time.UTC)}
		res := conditional.Evaluate(method, h, v)
		if res.Outcome == conditional.NotModified && method != "GET" && method != "HEAD" {
			t.Fatalf("304 for method %q", method)
		}
		if res.Range != "" && (res.Outcome != conditional.Proceed || method != "GET" || res.Range != rng) {
			t.Fatalf("Evaluate(%q, %+v) = %+v: range must only pass through on a proceeding GET", method, h, res)
		}
		if ifMatch == "" && ius == "" && res.Outcome == conditional.PreconditionFailed && method == "GET" {
			t.Fatalf("412 on GET without If-Match or If-Unmodified-Since: %+v", h)
		}
	})
}
