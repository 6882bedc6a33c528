package s3cache_test

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/s3cache"
)

// The request that leads the fetch of an object too large to cache answers from the stream it
// opened, unless it asked for a range (S3 serves it: a second, ranged GET) or is a HEAD (no
// body).
func TestColdLeaderOfLargeObject(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 10)
	for _, tc := range []struct {
		method, rng  string
		status       int
		body         string
		contentRange string
		gets         int64
		streamed     int64
	}{
		{"GET", "", 200, string(body), "", 1, 1},
		{"GET", "bytes=10-19", 206, string(body[10:20]), "bytes 10-19/100", 2, 2}, // the second GET forwards the range
		{"HEAD", "", 200, "", "", 1, 1},
		{"HEAD", "bytes=10-19", 200, "", "", 1, 1},
	} {
		what := tc.method + " " + tc.rng
		f := newMemFixture(t, s3cache.Options{MaxBytes: 1 << 10, MaxObjectSize: 16})
		f.c.put("big.bin", body, "")
		var hdr []string
		if tc.rng != "" {
			hdr = []string{"Range", tc.rng}
		}
		w := f.do(tc.method, "/big.bin", hdr...)
		wantResponse(t, what, w, tc.status, tc.body, "Content-Range", tc.contentRange)
		if tc.status == 200 {
			wantResponse(t, what, w, tc.status, tc.body, "Content-Length", "100")
		}
		if got := f.c.gets.Load(); got != tc.gets || f.c.heads.Load() != 0 {
			t.Errorf("%s: %d S3 GETs and %d HEADs, want %d and 0", what, got, f.c.heads.Load(), tc.gets)
		}
		if got, want := fmt.Sprint(f.c.ranges[1:]), "["+tc.rng+"]"; tc.gets > 1 && got != want {
			t.Errorf("%s: forwarded ranges %s, want %s", what, got, want)
		}
		if s := f.h.Stats(); s.Streamed != tc.streamed {
			t.Errorf("%s: Streamed = %d, want %d", what, s.Streamed, tc.streamed)
		}
	}
}

// RFC 9110 §14.2, §17.15: up to 16 ranges whose lengths add up to no more than the object are
// sent as multipart/byteranges; 17 ranges, or ranges adding up to more, get the whole object
// (200). The rule is the same for an object in memory and one in the disk tier.
func TestRangeLimits(t *testing.T) {
	body := bytes.Repeat([]byte("abcdefghij"), 10)
	spaced := func(n int) string { // n one-byte ranges: 0-0,2-2,...
		var rs []string
		for i := range n {
			rs = append(rs, fmt.Sprintf("%d-%d", 2*i, 2*i))
		}
		return "bytes=" + strings.Join(rs, ",")
	}
	tiers := []struct {
		name string
		opts s3cache.Options
	}{
		{"memory", s3cache.Options{}},
		{"disk", s3cache.Options{MaxBytes: 1 << 10, MaxObjectSize: 16, DiskDir: "disk"}},
	}
	for _, tier := range tiers {
		f := newMemFixture(t, tier.opts)
		f.c.put("r.bin", body, "")
		f.do("GET", "/r.bin")
		f.h.WaitFills()
		for _, tc := range []struct {
			rng    string
			status int
			parts  int // of a multipart 206; 0 for a single range
			body   string
		}{
			{"bytes=5-9", 206, 0, "fghij"},
			{spaced(16), 206, 16, ""},
			{spaced(17), 200, 0, string(body)},
			{"bytes=0-49,50-99", 206, 2, ""},           // exactly the size
			{"bytes=0-59,40-99", 200, 0, string(body)}, // 120 bytes of a 100-byte object
			{"bytes=0-0,-1", 206, 2, ""},
			{"bytes=x-y", 200, 0, string(body)},
		} {
			what := tier.name + " " + tc.rng
			w := f.do("GET", "/r.bin", "Range", tc.rng)
			if w.Code != tc.status {
				t.Errorf("%s: status %d, want %d", what, w.Code, tc.status)
				continue
			}
			switch {
			case tc.parts > 0:
				if parts := readMultipart(t, w.Header().Get("Content-Type"), w.Body.String()); len(parts) != tc.parts {
					t.Errorf("%s: %d parts, want %d: %q", what, len(parts), tc.parts, parts)
				}
				wantPartTypes(t, what, w.Header().Get("Content-Type"), w.Body.String(), "text/plain")
			case w.Body.String() != tc.body:
				t.Errorf("%s: body %q, want %q", what, w.Body.String(), tc.body)
			}
		}
		if s := f.h.Stats(); f.c.gets.Load() != 1 || s.Streamed != 0 {
			t.Errorf("%s: %d S3 GETs, %d streamed; want every range answered from the cache", tier.name, f.c.gets.Load(), s.Streamed)
		}
	}
}

// An empty object is cached like any other (it is not "too large" nor of unknown size), and a
// suffix range of it is answered with the whole, empty, object (RFC 9110 §14.1.1: a suffix of
// an empty representation is not unsatisfiable).
func TestEmptyObjectCached(t *testing.T) {
	f := newMemFixture(t, s3cache.Options{})
	f.c.put("empty.txt", []byte{}, "")
	for _, hdr := range [][]string{nil, nil, {"Range", "bytes=-5"}} {
		w := f.do("GET", "/empty.txt", hdr...)
		wantResponse(t, fmt.Sprint("GET ", hdr), w, 200, "", "Content-Length", "0")
	}
	if s := f.h.Stats(); f.c.gets.Load() != 1 || s.Hits != 2 || s.Streamed != 0 || s.Entries != 1 {
		t.Errorf("%d S3 GETs, stats %+v; want one GET and two hits", f.c.gets.Load(), s)
	}
}

// Options.ObjectMaxAge makes the object's own Cache-Control decide its freshness; off (the
// default), TTL does whatever the object says.
func TestObjectMaxAgeOnAndOff(t *testing.T) {
	for _, tc := range []struct {
		on      bool
		cc      string
		advance time.Duration
		gets    int64 // after two requests, advance apart
	}{
		{false, "max-age=5", 10 * time.Second, 1},
		{true, "max-age=5", 10 * time.Second, 2},
		{true, "max-age=5", 4 * time.Second, 1},
		{false, "max-age=600", 2 * time.Minute, 2},
		{true, "max-age=600", 2 * time.Minute, 1},
		{true, "s-maxage=600, max-age=5", 2 * time.Minute, 1},
		{true, "", 10 * time.Second, 1},
		{true, "", 2 * time.Minute, 2},
		{true, "public", 10 * time.Second, 1},
		{true, "no-store", 0, 2},
		{false, "no-store", 0, 1},
		{true, "no-cache", 0, 2},
		{true, "max-age=0", 0, 2},
		{true, "max-age=1", 0, 1},
		{true, "s-maxage=0, max-age=600", 0, 2},
		{true, "s-maxage=1, max-age=0", 0, 1},
		{true, "max-age=-5", 10 * time.Second, 1},                 // invalid: TTL
		{true, "max-age=-5", 2 * time.Minute, 2},                  // invalid: TTL
		{true, `MAX-AGE="5"`, 10 * time.Second, 2},                // case-insensitive, quoted
		{true, "max-age=99999999999999", 24 * 365 * time.Hour, 1}, // 2^31 s at most, not an overflow
	} {
		what := fmt.Sprintf("ObjectMaxAge %v, Cache-Control %q, %v later", tc.on, tc.cc, tc.advance)
		// (a 200 carries no X-Content-Type-Options: the object's own Content-Type stands)
		f := newMemFixture(t, s3cache.Options{TTL: time.Minute, ObjectMaxAge: tc.on})
		f.c.put("o.txt", []byte("hello"), tc.cc)
		for i := range 2 {
			if i == 1 {
				f.clock.Advance(tc.advance)
			}
			w := f.do("GET", "/o.txt")
			wantResponse(t, what, w, 200, "hello", "X-Content-Type-Options", "")
			if want := tc.cc; w.Header().Get("Cache-Control") != want && want != "" {
				t.Errorf("%s: Cache-Control %q, want the object's %q", what, w.Header().Get("Cache-Control"), want)
			}
		}
		if got := f.c.gets.Load(); got != tc.gets {
			t.Errorf("%s: %d S3 GETs, want %d", what, got, tc.gets)
		}
	}
}

// Error answers carry a short text body on GET and none on HEAD, with the same status and
// Content-Length; the S3 error text never reaches the client.
func TestErrorBodiesGetAndHead(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(f *memFixture)
		target string
		hdr    []string
		status int
		body   string
	}{
		{"S3 down", func(f *memFixture) { f.c.setErr(errBoom) }, "/a.txt", nil, 502, "Bad Gateway\n"},
		{"S3 throttles", func(f *memFixture) { f.c.setErr(httpError(503, "SlowDown")) }, "/a.txt", nil, 503, "Service Unavailable\n"},
		{"no such key", func(*memFixture) {}, "/missing.txt", nil, 404, "Not Found\n"},
		{"If-Match fails", func(*memFixture) {}, "/a.txt", []string{"If-Match", `"other"`}, 412, "Precondition Failed\n"},
		{"bad path", func(*memFixture) {}, "/a/../b", nil, 400, "Bad Request\n"},
	} {
		for _, method := range []string{"GET", "HEAD"} {
			f := newMemFixture(t, s3cache.Options{})
			f.c.put("a.txt", []byte("content"), "")
			tc.setup(f)
			w := f.do(method, tc.target, tc.hdr...)
			want := tc.body
			if method == "HEAD" {
				want = ""
			}
			wantResponse(t, method+" "+tc.name, w, tc.status, want,
				"Content-Length", fmt.Sprint(len(tc.body)), "Content-Type", "text/plain; charset=utf-8", "X-Content-Type-Options", "nosniff")
		}
	}
}

// RFC 5861 §3: the stale copy is served while it has been stale for less than
// StaleWhileRevalidate; at the end of the window the object is revalidated before answering.
func TestStaleWhileRevalidateBoundary(t *testing.T) {
	for _, tc := range []struct {
		staleFor time.Duration
		body     string
		age      string
	}{
		{30*time.Second - time.Nanosecond, "v1", "89"},
		{30 * time.Second, "v2", ""},
	} {
		f := newMemFixture(t, s3cache.Options{TTL: time.Minute, StaleWhileRevalidate: 30 * time.Second})
		f.c.put("s.js", []byte("v1"), "")
		f.do("GET", "/s.js")
		f.c.put("s.js", []byte("v2"), "")
		f.clock.Advance(time.Minute + tc.staleFor)
		w := f.do("GET", "/s.js")
		wantResponse(t, fmt.Sprint("stale for ", tc.staleFor), w, 200, tc.body, "Age", tc.age)
		f.h.WaitBackground()
		if got := f.c.gets.Load(); got != 2 {
			t.Errorf("stale for %v: %d S3 GETs, want 2", tc.staleFor, got)
		}
	}
}

// RFC 5861 §4: a stale copy is served when S3 fails while it has been stale for less than
// StaleIfError, with an Age; from then on the failure is the answer.
func TestStaleIfErrorBoundary(t *testing.T) {
	f := newMemFixture(t, s3cache.Options{TTL: time.Minute, StaleIfError: time.Minute})
	f.c.put("e.css", []byte("body{}"), "")
	f.do("GET", "/e.css")
	f.c.setErr(errBoom)
	f.clock.Advance(2*time.Minute - time.Nanosecond)
	wantResponse(t, "stale for 1m-1ns", f.do("GET", "/e.css"), 200, "body{}", "Age", "119")
	f.clock.Advance(time.Nanosecond)
	wantResponse(t, "stale for 1m", f.do("GET", "/e.css"), 502, "Bad Gateway\n", "Age", "")
	if s := f.h.Stats(); s.StaleServed != 1 || s.S3Errors != 2 {
		t.Errorf("stats %+v, want 1 stale answer and 2 S3 errors", s)
	}
}

// MaxBytes bounds names as well as bodies: an entry costs a fixed overhead plus its name plus
// its body, for objects, remembered 404s and large-object markers alike (Stats.Bytes).
func TestEntryCostCountsNameAndBody(t *testing.T) {
	f := newMemFixture(t, s3cache.Options{MaxBytes: 1 << 20, MaxObjectSize: 100})
	f.c.put("obj.txt", []byte(strings.Repeat("x", 40)), "")
	f.c.put("large-object.bin", []byte(strings.Repeat("y", 200)), "")
	wantStatus(t, f.do("GET", "/n"), 404)
	unit := f.h.Stats().Bytes - 1 // the cost of an entry besides its name and body
	steps := []struct {
		target string
		adds   int64 // besides unit
	}{
		{"/missing-name-of-24-bytes", 24},
		{"/obj.txt", 7 + 40},
		{"/large-object.bin", 16},
	}
	want := unit + 1
	for _, s := range steps {
		f.do("GET", s.target)
		want += unit + s.adds
		if got := f.h.Stats().Bytes; got != want {
			t.Errorf("after GET %s: Bytes = %d, want %d (%d per entry + name + body)", s.target, got, want, unit)
		}
	}
}

// An object whose body fails half-way is not cached: the client gets a 502, OnError gets the
// key (with the prefix) and the error, and the next request tries S3 again.
func TestBodyReadError(t *testing.T) {
	var logged []string
	f := newMemFixture(t, s3cache.Options{Prefix: "p", OnError: func(key string, err error) {
		logged = append(logged, key+": "+err.Error())
	}})
	f.c.put("p/r.txt", []byte("0123456789"), "")
	f.c.objs["p/r.txt"].readErr = errBoom
	wantResponse(t, "GET", f.do("GET", "/r.txt"), 502, "Bad Gateway\n")
	if len(logged) != 1 || !strings.HasPrefix(logged[0], "p/r.txt: ") || !strings.Contains(logged[0], "boom") {
		t.Errorf("OnError got %q, want the key p/r.txt and the read error", logged)
	}
	f.c.objs["p/r.txt"].readErr = nil
	wantResponse(t, "GET after", f.do("GET", "/r.txt"), 200, "0123456789")
	if s := f.h.Stats(); f.c.gets.Load() != 2 || s.S3Errors != 1 || s.S3BodyBytes != 15 {
		t.Errorf("%d S3 GETs, stats %+v; want 2 GETs, 1 S3 error, 5+10 body bytes", f.c.gets.Load(), s)
	}
}

// A request that found no usable entry looks again when its fetch starts: when another request
// has published a fresh answer in between, it is used, and S3 is not asked again. Here the
// other request streams a large object that S3 has since deleted, and remembers the 404.
func TestFetchUsesAnswerPublishedMeanwhile(t *testing.T) {
	f := newMemFixture(t, s3cache.Options{MaxBytes: 1 << 10, MaxObjectSize: 16, TTL: time.Minute, NegativeTTL: time.Hour})
	f.c.put("big.bin", bytes.Repeat([]byte("x"), 100), "")
	wantStatus(t, f.do("GET", "/big.bin"), 200) // a large-object marker, fresh for a minute

	// C streams the object (its marker is fresh) and is held in S3 while the object goes.
	f.clock.Advance(30 * time.Second)
	inS3, s3Answers := make(chan struct{}), make(chan struct{})
	f.c.onGet = func() { close(inS3); <-s3Answers }
	c := make(chan int)
	go func() { c <- f.do("GET", "/big.bin").Code }()
	<-inS3
	f.c.onGet = nil
	f.c.remove("big.bin")

	// B comes after the marker expired: it misses, and is held as its fetch starts.
	f.clock.Advance(90 * time.Second)
	inFetch, fetchGoes := f.clock.pause(1) // B's lookup reads the clock once
	b := make(chan int)
	go func() { b <- f.do("GET", "/big.bin").Code }()
	<-inFetch
	close(s3Answers)
	if code := <-c; code != 404 {
		t.Fatalf("the streaming request got %d, want 404", code)
	}
	close(fetchGoes)
	if code := <-b; code != 404 {
		t.Fatalf("the missing request got %d, want the 404 published meanwhile", code)
	}
	if got := f.c.gets.Load(); got != 2 {
		t.Errorf("%d S3 GETs, want 2 (the first fill and the stream)", got)
	}
}

// wantPartTypes checks that every part of a multipart/byteranges body has Content-Type ctype
// (RFC 9110 §14.6: each part carries the representation's Content-Type).
func wantPartTypes(t *testing.T, what, ctype, body, want string) {
	t.Helper()
	_, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		t.Fatalf("%s: Content-Type %q: %v", what, ctype, err)
	}
	mr := multipart.NewReader(strings.NewReader(body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := p.Header.Get("Content-Type"); got != want {
			t.Errorf("%s: part Content-Type %q, want %q", what, got, want)
		}
	}
}

// An If-Range date is honoured only when Last-Modified is a strong validator, which the Date
// of S3's response decides (RFC 9110 §8.8.2.2, §13.1.5), whichever form the SDK keeps the raw
// response in: dated within Last-Modified's second, the whole object; a second later, the range.
func TestIfRangeDateUsesS3Date(t *testing.T) {
	lm := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	body := bytes.Repeat([]byte("0123456789"), 10)
	for _, plain := range []bool{false, true} {
		for _, large := range []bool{false, true} {
			for _, tc := range []struct {
				dated  time.Duration
				status int
			}{{500 * time.Millisecond, 200}, {time.Second, 206}} {
				opts := s3cache.Options{}
				if large {
					opts = s3cache.Options{MaxBytes: 1 << 10, MaxObjectSize: 16}
				}
				f := newMemFixture(t, opts) // its clock is a year after lm
				f.c.put("d.bin", body, "")
				f.c.objs["d.bin"].date, f.c.objs["d.bin"].rawHTTP = lm.Add(tc.dated), plain
				for i := range 2 {
					w := f.do("GET", "/d.bin", "Range", "bytes=0-9", "If-Range", lm.Format(http.TimeFormat))
					if w.Code != tc.status {
						t.Errorf("raw *http.Response %v, large %v, S3 response dated %v after Last-Modified, request %d: status %d, want %d",
							plain, large, tc.dated, i, w.Code, tc.status)
					}
				}
			}
		}
	}
}

// The memory cache holds entries up to MaxBytes inclusive: an entry costing exactly MaxBytes
// is kept, as are two whose costs add up to it; a third is the one too many, and evicts the
// least recently used (Stats.Evictions).
func TestMemoryExactFit(t *testing.T) {
	probe := newMemFixture(t, s3cache.Options{})
	probe.do("GET", "/n")
	unit := probe.h.Stats().Bytes - 1 // an entry's cost besides its name and body
	for _, tc := range []struct {
		names    []string // requested in this order, then each again
		maxBytes int64
		gets     int64
		evicted  int64
	}{
		{[]string{"a"}, unit + 1 + 10, 1, 0},
		{[]string{"a", "b"}, 2 * (unit + 1 + 10), 2, 0},
		{[]string{"a", "b", "c"}, 2 * (unit + 1 + 10), 6, 4}, // from c on, each evicts the next one asked for
		{[]string{"a"}, unit + 1 + 10 - 1, 2, 0},             // too big to keep at all
	} {
		f := newMemFixture(t, s3cache.Options{MaxBytes: tc.maxBytes})
		for _, n := range tc.names {
			f.c.put(n, bytes.Repeat([]byte(n), 10), "")
		}
		for range 2 {
			for _, n := range tc.names {
				wantResponse(t, "GET /"+n, f.do("GET", "/"+n), 200, strings.Repeat(n, 10))
			}
		}
		if s := f.h.Stats(); f.c.gets.Load() != tc.gets || s.Evictions != tc.evicted || s.Bytes > tc.maxBytes {
			t.Errorf("%d entries in %d bytes: %d S3 GETs, stats %+v; want %d GETs, %d evictions", len(tc.names), tc.maxBytes,
				f.c.gets.Load(), s, tc.gets, tc.evicted)
		}
	}
}

// TestRangeContentLength: a 206 from a cached object declares the length of what it sends
// (the range, or the multipart body), not the object's size, on the first request and on the
// ones answered from the cache.
func TestRangeContentLength(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 10)
	f := newMemFixture(t, s3cache.Options{})
	f.c.put("r.bin", body, "")
	for i := 0; i < 2; i++ {
		w := f.do("GET", "/r.bin", "Range", "bytes=10-19")
		wantResponse(t, fmt.Sprint("single range, request ", i+1), w, 206, string(body[10:20]), "Content-Length", "10", "Content-Range", "bytes 10-19/100")
		w = f.do("GET", "/r.bin", "Range", "bytes=0-0,5-5")
		if got, want := w.Header().Get("Content-Length"), fmt.Sprint(w.Body.Len()); w.Code != 206 || got != want {
			t.Errorf("two ranges, request %d: %d with Content-Length %s, want 206 with %s (the multipart body's length)", i+1, w.Code, got, want)
		}
	}
	w := f.do("GET", "/r.bin")
	wantResponse(t, "whole object", w, 200, string(body), "Content-Length", "100")
}
