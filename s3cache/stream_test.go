package s3cache_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tollgate-go/tollgate/s3cache"
)

// A large object is streamed from S3 with the client's conditionals forwarded; S3's answer is
// current where the cached marker may not be: a 304 carries the validators and Cache-Control
// S3 sent, a 416 the size S3 reported.
func TestStreamedAnswersFollowS3(t *testing.T) {
	f := newMemFixture(t, s3cache.Options{MaxBytes: 1 << 10, MaxObjectSize: 16})
	f.c.put("big.bin", bytes.Repeat([]byte("a"), 100), "")
	wantStatus(t, f.do("GET", "/big.bin"), 200) // the marker: 100 bytes, the first ETag

	etag := f.c.put("big.bin", bytes.Repeat([]byte("b"), 50), "max-age=9")
	w := f.do("GET", "/big.bin", "If-None-Match", etag)
	wantResponse(t, "If-None-Match: the new ETag", w, 304, "", "ETag", etag, "Cache-Control", "max-age=9")
	w = f.do("GET", "/big.bin", "Range", "bytes=60-")
	wantResponse(t, "Range past the new end", w, 416, "Requested Range Not Satisfiable\n", "Content-Range", "bytes */50")
	w = f.do("GET", "/big.bin", "Range", "bytes=40-")
	wantResponse(t, "Range within the new object", w, 206, "bbbbbbbbbb", "Content-Range", "bytes 40-49/50")
}

// What a streamed request forwards to S3 (one strong entity-tag per field, If-Modified-Since
// only without If-None-Match, one Range only for GET, If-Range as If-Match or checked on the
// response) and what the client gets: every condition is evaluated on S3's response too.
func TestStreamForwarding(t *testing.T) {
	const lmDate = "Tue, 02 Jan 2024 03:04:05 GMT"
	body := bytes.Repeat([]byte("0123456789"), 10)
	type fwd struct{ ifMatch, ifNoneMatch, ifModified, rng string }
	for _, tc := range []struct {
		method string
		hdr    []string // E stands for the object's ETag
		want   fwd
		status int
		body   string
	}{
		{"GET", []string{"If-Match", "E"}, fwd{ifMatch: "E"}, 200, string(body)},
		{"GET", []string{"If-Match", `"x", E`}, fwd{}, 200, string(body)},
		{"GET", []string{"If-Match", "W/E"}, fwd{}, 412, "Precondition Failed\n"},
		{"GET", []string{"If-Match", " * "}, fwd{ifMatch: "*"}, 200, string(body)},
		{"GET", []string{"If-None-Match", "E"}, fwd{ifNoneMatch: "E"}, 304, ""},
		{"GET", []string{"If-None-Match", `"x"`, "If-Modified-Since", lmDate}, fwd{ifNoneMatch: `"x"`}, 200, string(body)},
		{"GET", []string{"If-Modified-Since", lmDate}, fwd{ifModified: lmDate}, 304, ""},
		{"GET", []string{"If-Modified-Since", "yesterday"}, fwd{}, 200, string(body)},
		{"HEAD", []string{"If-Modified-Since", lmDate}, fwd{ifModified: lmDate}, 304, ""},
		{"HEAD", []string{"If-Match", "E"}, fwd{ifMatch: "E"}, 200, ""},
		{"HEAD", []string{"If-None-Match", "E"}, fwd{ifNoneMatch: "E"}, 304, ""},
		{"HEAD", []string{"If-Match", `"x"`}, fwd{ifMatch: `"x"`}, 412, ""},
		{"GET", []string{"Range", "bytes=0-9"}, fwd{rng: "bytes=0-9"}, 206, "0123456789"},
		{"GET", []string{"Range", "bytes=0-1,5-6"}, fwd{}, 200, string(body)},
		{"GET", []string{"Range", "bytes=0-9", "If-Range", "E"}, fwd{ifMatch: "E", rng: "bytes=0-9"}, 206, "0123456789"},
		{"GET", []string{"Range", "bytes=0-9", "If-Range", "W/E"}, fwd{}, 200, string(body)},
		{"GET", []string{"Range", "bytes=0-9", "If-Range", `"x" junk`}, fwd{}, 200, string(body)},
		{"GET", []string{"Range", "bytes=0-9", "If-Range", "E", "If-Match", "E"}, fwd{ifMatch: "E"}, 200, string(body)},
		{"GET", []string{"Range", "bytes=0-9", "If-Range", lmDate}, fwd{rng: "bytes=0-9"}, 206, "0123456789"},
		{"GET", []string{"Range", "bytes=0-9", "If-Range", "garbage"}, fwd{}, 200, string(body)},
	} {
		f := newMemFixture(t, s3cache.Options{MaxBytes: 1 << 10, MaxObjectSize: 16})
		etag := f.c.put("big.bin", body, "")
		wantStatus(t, f.do("GET", "/big.bin"), 200) // the marker
		hdr := append([]string(nil), tc.hdr...)
		for i := range hdr {
			hdr[i] = strings.ReplaceAll(hdr[i], "E", etag)
		}
		want := tc.want
		for _, p := range []*string{&want.ifMatch, &want.ifNoneMatch} {
			*p = strings.ReplaceAll(*p, "E", etag)
		}
		what := fmt.Sprint(tc.method, " ", hdr)
		w := f.do(tc.method, "/big.bin", hdr...)
		wantResponse(t, what, w, tc.status, tc.body)
		var got fwd
		var ims *time.Time
		if tc.method == "HEAD" {
			in := f.c.headIn[len(f.c.headIn)-1]
			got = fwd{ifMatch: aws.ToString(in.IfMatch), ifNoneMatch: aws.ToString(in.IfNoneMatch)}
			ims = in.IfModifiedSince
		} else {
			in := f.c.inputs[1] // the first one the request made
			got = fwd{ifMatch: aws.ToString(in.IfMatch), ifNoneMatch: aws.ToString(in.IfNoneMatch), rng: aws.ToString(in.Range)}
			ims = in.IfModifiedSince
		}
		if ims != nil {
			got.ifModified = ims.UTC().Format(http.TimeFormat)
		}
		if got != want {
			t.Errorf("%s: forwarded %+v, want %+v", what, got, want)
		}
	}
}

// Streamed answers carry the object's fields: Last-Modified, the default Cache-Control when
// the object has none, no Content-Length on a 304; a 304 from S3 counts the bytes it saved.
func TestStreamedFieldsAndStats(t *testing.T) {
	f := newMemFixture(t, s3cache.Options{MaxBytes: 1 << 10, MaxObjectSize: 16})
	etag := f.c.put("big.bin", bytes.Repeat([]byte("z"), 100), "")
	f.do("GET", "/big.bin")
	w := f.do("GET", "/big.bin")
	wantResponse(t, "streamed GET", w, 200, strings.Repeat("z", 100), "Last-Modified", "Tue, 02 Jan 2024 03:04:05 GMT",
		"Cache-Control", "no-cache", "Content-Length", "100", "ETag", etag)
	w = f.do("GET", "/big.bin", "If-None-Match", etag)
	wantResponse(t, "streamed 304", w, 304, "", "Content-Length", "", "Last-Modified", "", "ETag", etag)
	w = f.do("HEAD", "/big.bin", "If-Modified-Since", "Tue, 02 Jan 2024 03:04:05 GMT")
	wantResponse(t, "streamed HEAD 304", w, 304, "", "Content-Length", "", "ETag", etag)
	if s := f.h.Stats(); s.S3NotModified != 1 || s.ClientNotModified != 2 || s.BytesSaved != 100 {
		t.Errorf("stats %+v, want 1 S3 304 saving 100 bytes, 2 client 304s", s)
	}
}

// A streamed object that S3 no longer has is remembered as a 404 for NegativeTTL, unless
// negative caching is off.
func TestStreamedNotFound(t *testing.T) {
	for _, tc := range []struct {
		negativeTTL time.Duration
		gets        int64
	}{{time.Hour, 2}, {-1, 3}} {
		f := newMemFixture(t, s3cache.Options{MaxBytes: 1 << 10, MaxObjectSize: 16, NegativeTTL: tc.negativeTTL})
		f.c.put("gone.bin", bytes.Repeat([]byte("z"), 100), "")
		f.do("GET", "/gone.bin")
		before := f.h.Stats().Bytes // the marker
		f.c.remove("gone.bin")
		for _, m := range []string{"GET", "HEAD"} {
			want := "Not Found\n"
			if m == "HEAD" {
				want = ""
			}
			wantResponse(t, fmt.Sprint(m, " NegativeTTL ", tc.negativeTTL), f.do(m, "/gone.bin"), 404, want)
		}
		if got := f.c.gets.Load() + f.c.heads.Load(); got != tc.gets {
			t.Errorf("NegativeTTL %v: %d S3 calls, want %d", tc.negativeTTL, got, tc.gets)
		}
		if s := f.h.Stats(); tc.negativeTTL > 0 && s.Bytes != before {
			t.Errorf("the remembered 404 costs %d, want %d as the marker it replaced (same name)", s.Bytes, before)
		}
	}
}

// An object whose size S3 does not send is never buffered: it is streamed whole, GET and HEAD
// without a Content-Length.
func TestUnknownSizeStreamed(t *testing.T) {
	f := newMemFixture(t, s3cache.Options{})
	f.c.put("u.txt", []byte("unknown size"), "")
	f.c.objs["u.txt"].noLength = true
	for i := range 2 {
		wantResponse(t, fmt.Sprint("GET ", i), f.do("GET", "/u.txt"), 200, "unknown size", "Content-Length", "")
	}
	w := f.do("HEAD", "/u.txt")
	wantResponse(t, "HEAD", w, 200, "", "Content-Length", "")
	if _, ok := w.Header()["Content-Length"]; ok {
		t.Errorf("HEAD sent Content-Length %q", w.Header()["Content-Length"])
	}
	if s := f.h.Stats(); f.c.gets.Load() != 2 || s.Streamed != 3 {
		t.Errorf("%d S3 GETs, stats %+v; want every answer streamed", f.c.gets.Load(), s)
	}
}

// An object stored without a Content-Type is served with the type its name's extension gives,
// or application/octet-stream, cached or streamed, GET or HEAD.
func TestContentTypeFromName(t *testing.T) {
	for _, large := range []bool{false, true} {
		opts := s3cache.Options{}
		if large {
			opts = s3cache.Options{MaxBytes: 1 << 10, MaxObjectSize: 16}
		}
		f := newMemFixture(t, opts)
		for name, want := range map[string]string{"a.css": "text/css; charset=utf-8", "a.unknown-ext": "application/octet-stream"} {
			f.c.put(name, bytes.Repeat([]byte("x"), 20), "")
			f.c.objs[name].untyped = true
			for _, m := range []string{"GET", "HEAD", "GET"} {
				w := f.do(m, "/"+name)
				if got := w.Header().Get("Content-Type"); w.Code != 200 || got != want {
					t.Errorf("large %v, %s /%s: %d, Content-Type %q, want %q", large, m, name, w.Code, got, want)
				}
			}
		}
	}
}

// If-Range on a streamed object (RFC 9110 §13.1.5): a tag that no longer matches gets the whole
// current object, whether S3 refuses the forwarded If-Match (412) or ignores it; a matching
// date with a range past the end is 416, unless a precondition answers first (§13.2.2: an
// If-Modified-Since that holds is a 304); a date that does not match gets the whole object.
func TestStreamIfRangeRetries(t *testing.T) {
	const lmDate = "Tue, 02 Jan 2024 03:04:05 GMT"
	body := bytes.Repeat([]byte("0123456789"), 10)
	for _, tc := range []struct {
		name          string
		ignoreIfMatch bool
		hdr           []string
		status        int
		body          string
		contentRange  string
		retryIfMatch  string // the If-Match of the second GET, E for the ETag
	}{
		{"stale tag, S3 412", false, []string{"Range", "bytes=0-9", "If-Range", `"old"`}, 200, string(body), "", ""},
		{"stale tag, If-Match ignored", true, []string{"Range", "bytes=0-9", "If-Range", `"old"`}, 200, string(body), "", ""},
		{"date, past the end", false, []string{"Range", "bytes=500-", "If-Range", lmDate}, 416, "Requested Range Not Satisfiable\n", "bytes */100", ""},
		{"date, past the end, If-Match", false, []string{"Range", "bytes=500-", "If-Range", lmDate, "If-Match", "E"}, 416, "Requested Range Not Satisfiable\n", "bytes */100", "E"},
		{"date, past the end, not modified", false, []string{"Range", "bytes=500-", "If-Range", lmDate, "If-Modified-Since", lmDate}, 304, "", "", ""},
		{"older date, past the end", false, []string{"Range", "bytes=500-", "If-Range", "Mon, 01 Jan 2024 00:00:00 GMT"}, 200, string(body), "", ""},
		{"older date", false, []string{"Range", "bytes=0-9", "If-Range", "Mon, 01 Jan 2024 00:00:00 GMT"}, 200, string(body), "", ""},
	} {
		f := newMemFixture(t, s3cache.Options{MaxBytes: 1 << 10, MaxObjectSize: 16})
		etag := f.c.put("big.bin", body, "")
		f.c.objs["big.bin"].ignoreIfMatch = tc.ignoreIfMatch
		f.do("GET", "/big.bin")
		hdr := append([]string(nil), tc.hdr...)
		for i := range hdr {
			hdr[i] = strings.ReplaceAll(hdr[i], "E", etag)
		}
		w := f.do("GET", "/big.bin", hdr...)
		wantResponse(t, tc.name, w, tc.status, tc.body, "Content-Range", tc.contentRange)
		if n := len(f.c.inputs); n != 3 {
			t.Errorf("%s: %d S3 GETs, want the fill, the ranged GET and one without Range", tc.name, n)
			continue
		}
		retry := f.c.inputs[2]
		if want := strings.ReplaceAll(tc.retryIfMatch, "E", etag); retry.Range != nil || aws.ToString(retry.IfMatch) != want {
			t.Errorf("%s: second GET Range %q If-Match %q, want no Range and If-Match %q", tc.name, aws.ToString(retry.Range), aws.ToString(retry.IfMatch), want)
		}
	}
}

// When S3's 416 carries no Content-Range, the client's 416 gives the size of the object as
// last seen, an empty one included.
func TestStream416WithoutContentRange(t *testing.T) {
	for _, tc := range []struct {
		name string
		body []byte
		cc   string
		want string
	}{
		{"large object", bytes.Repeat([]byte("x"), 100), "", "bytes */100"},
		{"empty object kept out of the cache", []byte{}, "no-store", "bytes */0"},
	} {
		f := newMemFixture(t, s3cache.Options{MaxBytes: 1 << 10, MaxObjectSize: 16, ObjectMaxAge: true})
		f.c.put("o.bin", tc.body, tc.cc)
		f.c.objs["o.bin"].bare416 = true
		f.do("GET", "/o.bin") // the marker
		w := f.do("GET", "/o.bin", "Range", "bytes=500-")
		wantResponse(t, tc.name, w, 416, "Requested Range Not Satisfiable\n", "Content-Range", tc.want)
	}
}
