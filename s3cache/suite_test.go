package s3cache_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tollgate-go/tollgate/internal/testenv"
	"github.com/tollgate-go/tollgate/s3cache"
)

// The suite runs the same behaviour on gofakes3 (in process, fast) and on versitygw (a real
// S3-compatible server started by the test command). Checks that gofakes3 cannot pass are
// guarded by the backend's capability flags and run on versitygw only.

func TestSuiteGofakes3(t *testing.T) { runSuite(t, fakeBackend) }

func TestSuiteVersitygw(t *testing.T) {
	testenv.S3Endpoint(t) // fails under the test command when versitygw is missing, else skips
	runSuite(t, versityBackend)
}

func runSuite(t *testing.T, newBackend func(testing.TB) *backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b *backend)
		// needs reports whether the backend can run the test; gofakes3's gaps are not
		// registered as subtests at all, so the test command (where a skip is a failure)
		// sees only tests that ran.
		needs func(b *backend) bool
	}{
		{"ClientNotModified", testClientNotModified, nil},
		{"RevalidationAfterTTL", testRevalidationAfterTTL, nil},
		{"ChangedObjectAfterTTL", testChangedObjectAfterTTL, nil},
		{"ConcurrentColdMisses", testConcurrentColdMisses, nil},
		{"RangeAndHead", testRangeAndHead, nil},
		{"StreamedLargeObject", testStreamedLargeObject, nil},
		{"NegativeCaching", testNegativeCaching, nil},
		{"Traversal", testTraversal, nil},
		{"IndexDocument", testIndexDocument, nil},
		{"WriteHandler", testWriteHandler, nil},
		{"WriteHelpers", testWriteHelpers, nil},
		{"GetPreconditions", testGetPreconditions, nil},
		{"ObjectCacheControl", testObjectCacheControl, func(b *backend) bool { return b.storesCacheControl }},
		{"ContentEncoding", testContentEncoding, nil},
		{"DiskTier", testDiskTier, nil},
		{"RFCConditionals", testRFCConditionals, nil},
	}
	caps := newBackend(t)
	for _, tc := range tests {
		if tc.needs != nil && !tc.needs(caps) {
			t.Logf("%s: not run on %s (see the backend's capability flags)", tc.name, caps.name)
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newBackend(t))
		})
	}
}

// 200, then 304 for the client's If-None-Match, answered from the cache (RFC 9110 §13.1.2).
func testClientNotModified(t *testing.T, b *backend) {
	etag := b.put(t, "site/app.js", "console.log(1)")
	f := newFixture(t, b, s3cache.Options{Prefix: "site"})

	w := f.do(t, "GET", "/app.js")
	wantStatus(t, w, 200)
	if w.Body.String() != "console.log(1)" {
		t.Fatalf("body = %q", w.Body.String())
	}
	wantHeader(t, w, "ETag", etag)
	wantHeader(t, w, "Content-Type", "text/plain")
	wantHeader(t, w, "Content-Length", "14")
	wantHeader(t, w, "Accept-Ranges", "bytes")
	wantHeader(t, w, "Cache-Control", "no-cache")
	if w.Header().Get("Last-Modified") == "" {
		t.Error("Last-Modified missing")
	}

	w = f.do(t, "GET", "/app.js", "If-None-Match", `W/"other", `+etag)
	wantStatus(t, w, 304)
	wantHeader(t, w, "ETag", etag)
	wantHeader(t, w, "Cache-Control", "no-cache")
	for _, h := range []string{"Content-Type", "Content-Length", "Content-Encoding", "Last-Modified"} {
		if v := w.Header().Get(h); v != "" {
			t.Errorf("304 carries %s: %q", h, v)
		}
	}
	if w.Body.Len() != 0 {
		t.Errorf("304 body = %q", w.Body.String())
	}
	wantCount(t, "S3 GETs", &f.c.gets, 1)
	if s := f.h.Stats(); s.ClientNotModified != 1 || s.Hits != 1 || s.Misses != 1 {
		t.Errorf("stats = %+v, want 1 client 304, 1 hit, 1 miss", s)
	}
}

// After the TTL the entry is revalidated with If-None-Match and S3 answers 304: two S3 calls,
// one body transfer.
func testRevalidationAfterTTL(t *testing.T, b *backend) {
	body := strings.Repeat("x", 4096)
	etag := b.put(t, "a.css", body)
	f := newFixture(t, b, s3cache.Options{TTL: time.Minute})

	wantStatus(t, f.do(t, "GET", "/a.css"), 200)
	f.clock.Advance(30 * time.Second)
	wantStatus(t, f.do(t, "GET", "/a.css"), 200) // fresh: no S3 call
	wantCount(t, "S3 GETs while fresh", &f.c.gets, 1)

	f.clock.Advance(31 * time.Second)
	w := f.do(t, "GET", "/a.css")
	wantStatus(t, w, 200)
	if w.Body.String() != body {
		t.Fatalf("body after revalidation has %d bytes, want %d", w.Body.Len(), len(body))
	}
	wantCount(t, "S3 GETs", &f.c.gets, 2)
	wantCount(t, "S3 body bytes", &f.c.bodyBytes, int64(len(body)))
	if in := f.c.lastGet(t); aws.ToString(in.IfNoneMatch) != etag {
		t.Errorf("revalidation If-None-Match = %q, want %q", aws.ToString(in.IfNoneMatch), etag)
	}
	s := f.h.Stats()
	if s.Revalidations != 1 || s.S3NotModified != 1 || s.BytesSaved != int64(len(body)) {
		t.Errorf("stats = %+v, want 1 revalidation, 1 S3 304, %d bytes saved", s, len(body))
	}
	// Fresh again for a full TTL from the revalidation.
	f.clock.Advance(59 * time.Second)
	f.do(t, "GET", "/a.css")
	wantCount(t, "S3 GETs after revalidation", &f.c.gets, 2)
}

// A client's conditional is never answered from a stale entry: the object changed in S3, the
// client holds the old ETag, and must get the new object, not a 304.
func testChangedObjectAfterTTL(t *testing.T, b *backend) {
	old := b.put(t, "c.txt", "old")
	f := newFixture(t, b, s3cache.Options{TTL: time.Minute})
	wantStatus(t, f.do(t, "GET", "/c.txt"), 200)
	fresh := b.put(t, "c.txt", "new!")
	wantStatus(t, f.do(t, "GET", "/c.txt", "If-None-Match", old), 304) // still fresh
	f.clock.Advance(2 * time.Minute)
	w := f.do(t, "GET", "/c.txt", "If-None-Match", old)
	wantStatus(t, w, 200)
	if w.Body.String() != "new!" {
		t.Errorf("body = %q, want new!", w.Body.String())
	}
	wantHeader(t, w, "ETag", fresh)
	wantCount(t, "S3 body bytes", &f.c.bodyBytes, int64(len("old")+len("new!")))
}

// 100 concurrent requests for a cold key make exactly one S3 GET (singleflight).
func testConcurrentColdMisses(t *testing.T, b *backend) {
	b.put(t, "hot.json", `{"hot":true}`)
	f := newFixture(t, b, s3cache.Options{})
	f.c.gate = make(chan struct{})
	const n = 100
	var wg sync.WaitGroup
	codes := make(chan int, n)
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			codes <- f.do(t, "GET", "/hot.json").Code
		}()
	}
	close(start)
	// The first GetObject waits at the gate while the other requests pile up behind it; the
	// gate is then opened for every call, so a second call is counted, never blocked.
	close(f.c.gate)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Fatalf("a request got %d, want 200", c)
		}
	}
	wantCount(t, "S3 GETs for 100 cold requests", &f.c.gets, 1)
	if s := f.h.Stats(); s.Hits+s.Misses != n {
		t.Errorf("hits+misses = %d, want %d", s.Hits+s.Misses, n)
	}
}

// Ranges and HEAD of a cached object are answered locally (RFC 9110 §14).
func testRangeAndHead(t *testing.T, b *backend) {
	b.put(t, "r.txt", "0123456789")
	f := newFixture(t, b, s3cache.Options{})

	w := f.do(t, "GET", "/r.txt", "Range", "bytes=2-4")
	wantStatus(t, w, 206)
	wantHeader(t, w, "Content-Range", "bytes 2-4/10")
	wantHeader(t, w, "Content-Length", "3")
	if w.Body.String() != "234" {
		t.Errorf("range body = %q", w.Body.String())
	}
	w = f.do(t, "GET", "/r.txt", "Range", "bytes=-3")
	wantStatus(t, w, 206)
	if w.Body.String() != "789" {
		t.Errorf("suffix body = %q", w.Body.String())
	}
	w = f.do(t, "GET", "/r.txt", "Range", "bytes=0-0,8-")
	wantStatus(t, w, 206)
	parts := readMultipart(t, w.Header().Get("Content-Type"), w.Body.String())
	if want := []string{"bytes 0-0/10=0", "bytes 8-9/10=89"}; fmt.Sprint(parts) != fmt.Sprint(want) {
		t.Errorf("multipart parts = %v, want %v", parts, want)
	}
	w = f.do(t, "GET", "/r.txt", "Range", "bytes=10-")
	wantStatus(t, w, 416)
	wantHeader(t, w, "Content-Range", "bytes */10")
	w = f.do(t, "GET", "/r.txt", "Range", "bytes=2-4", "If-Range", `"not-it"`)
	wantStatus(t, w, 200)
	w = f.do(t, "GET", "/r.txt", "Range", "bogus")
	wantStatus(t, w, 200)

	w = f.do(t, "HEAD", "/r.txt")
	wantStatus(t, w, 200)
	wantHeader(t, w, "Content-Length", "10")
	wantHeader(t, w, "Accept-Ranges", "bytes")
	if w.Body.Len() != 0 {
		t.Errorf("HEAD body = %q", w.Body.String())
	}
	wantCount(t, "S3 GETs", &f.c.gets, 1)
	wantCount(t, "S3 HEADs", &f.c.heads, 0)
}

func readMultipart(t *testing.T, ctype, body string) []string {
	t.Helper()
	_, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		t.Fatalf("Content-Type %q: %v", ctype, err)
	}
	mr := multipart.NewReader(strings.NewReader(body), params["boundary"])
	var out []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(p)
		out = append(out, p.Header.Get("Content-Range")+"="+string(data))
	}
}

// Objects above MaxObjectSize are streamed: conditionals and Range go to S3, and S3's 304,
// 206 and 416 come back as such (a 304 arrives in the SDK as an error; never a 500).
func testStreamedLargeObject(t *testing.T, b *backend) {
	body := strings.Repeat("0123456789", 100)
	etag := b.put(t, "big.bin", body)
	f := newFixture(t, b, s3cache.Options{MaxObjectSize: 100})

	w := f.do(t, "GET", "/big.bin")
	wantStatus(t, w, 200)
	if w.Body.String() != body {
		t.Fatalf("streamed body has %d bytes, want %d", w.Body.Len(), len(body))
	}
	wantHeader(t, w, "ETag", etag)
	wantHeader(t, w, "Content-Length", "1000")
	if s := f.h.Stats(); s.Entries != 1 || s.Bytes > 1000 {
		t.Errorf("stats = %+v: a large object must not be buffered", s)
	}

	w = f.do(t, "GET", "/big.bin", "If-None-Match", etag)
	wantStatus(t, w, 304)
	wantHeader(t, w, "ETag", etag)
	if in := f.c.lastGet(t); aws.ToString(in.IfNoneMatch) != etag {
		t.Errorf("forwarded If-None-Match = %q, want %q", aws.ToString(in.IfNoneMatch), etag)
	}

	w = f.do(t, "GET", "/big.bin", "Range", "bytes=10-19")
	wantStatus(t, w, 206)
	wantHeader(t, w, "Content-Range", "bytes 10-19/1000")
	if w.Body.String() != "0123456789" {
		t.Errorf("range body = %q", w.Body.String())
	}
	if in := f.c.lastGet(t); aws.ToString(in.Range) != "bytes=10-19" {
		t.Errorf("forwarded Range = %q", aws.ToString(in.Range))
	}

	w = f.do(t, "GET", "/big.bin", "Range", "bytes=5000-")
	wantStatus(t, w, 416)

	// If-Range with another ETag: the whole object (RFC 9110 §13.1.5).
	w = f.do(t, "GET", "/big.bin", "Range", "bytes=0-9", "If-Range", `"changed"`)
	wantStatus(t, w, 200)
	if w.Body.Len() != 1000 {
		t.Errorf("If-Range mismatch body has %d bytes, want 1000", w.Body.Len())
	}
	w = f.do(t, "GET", "/big.bin", "Range", "bytes=0-9", "If-Range", etag)
	wantStatus(t, w, 206)

	w = f.do(t, "HEAD", "/big.bin")
	wantStatus(t, w, 200)
	wantHeader(t, w, "Content-Length", "1000")
	wantCount(t, "S3 HEADs", &f.c.heads, 1)
	w = f.do(t, "HEAD", "/big.bin", "If-None-Match", etag)
	wantStatus(t, w, 304)
	if n := f.h.Stats().Streamed; n < 7 {
		t.Errorf("Streamed = %d, want every large-object response counted", n)
	}
}

// A 404 from S3 is remembered for NegativeTTL.
func testNegativeCaching(t *testing.T, b *backend) {
	f := newFixture(t, b, s3cache.Options{NegativeTTL: 10 * time.Second})
	wantStatus(t, f.do(t, "GET", "/missing.png"), 404)
	wantStatus(t, f.do(t, "GET", "/missing.png"), 404)
	wantCount(t, "S3 GETs within NegativeTTL", &f.c.gets, 1)
	b.put(t, "missing.png", "now here")
	f.clock.Advance(11 * time.Second)
	wantStatus(t, f.do(t, "GET", "/missing.png"), 200)
	wantCount(t, "S3 GETs", &f.c.gets, 2)
}

// Nothing outside the prefix is reachable, whatever the path looks like.
func testTraversal(t *testing.T, b *backend) {
	b.put(t, "secret.txt", "top secret")
	b.put(t, "public/ok.txt", "ok")
	f := newFixture(t, b, s3cache.Options{Prefix: "public/"})
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/../secret.txt", 400},
		{"/a/../../secret.txt", 400},
		{"/%2e%2e/secret.txt", 400},
		{"/..%2fsecret.txt", 400},
		{"/..%2Fsecret.txt", 400},
		{"/x%5c..%5csecret.txt", 400},
		{"/..\\secret.txt", 400},
		{"//secret.txt", 400},
		{"/ok.txt%00", 400},
		{"/%ff.txt", 400},
		{"/a%0a.txt", 400},
		{"/", 404},
		{"/" + strings.Repeat("a", 1100), 400},
		{"/secret.txt", 404},
	} {
		t.Run(tc.path[:min(len(tc.path), 30)], func(t *testing.T) {
			req, err := http.NewRequest("GET", "http://h"+tc.path, nil)
			if err != nil {
				t.Fatalf("building a request for %q: %v", tc.path, err)
			}
			w := newRecorder()
			f.h.ServeHTTP(w, req)
			if w.Code != tc.want || strings.Contains(w.Body.String(), "secret") {
				t.Errorf("GET %s = %d %q, want %d", tc.path, w.Code, w.Body.String(), tc.want)
			}
		})
	}
	f.c.mu.Lock()
	for _, in := range f.c.getInputs {
		if !strings.HasPrefix(aws.ToString(in.Key), "public/") {
			t.Errorf("S3 was asked for %q, outside the prefix", aws.ToString(in.Key))
		}
	}
	f.c.mu.Unlock()
	w := f.do(t, "GET", "/./x/../ok.txt")
	wantStatus(t, w, 400)
	w = f.do(t, "GET", "/.//ok.txt")
	wantStatus(t, w, 200)
	w = f.do(t, "POST", "/ok.txt")
	wantStatus(t, w, 405)
	wantHeader(t, w, "Allow", "GET, HEAD")
}

func testIndexDocument(t *testing.T, b *backend) {
	b.put(t, "docs/index.html", "<h1>hi</h1>", func(in *s3.PutObjectInput) { in.ContentType = aws.String("text/html") })
	f := newFixture(t, b, s3cache.Options{IndexDocument: "index.html"})
	for _, p := range []string{"/docs/", "/docs/index.html"} {
		w := f.do(t, "GET", p)
		wantStatus(t, w, 200)
		wantHeader(t, w, "Content-Type", "text/html")
	}
	wantCount(t, "S3 GETs", &f.c.gets, 1)
}

// PUT and DELETE need a precondition (428 without), fail with 412, and invalidate the cache.
func testWriteHandler(t *testing.T, b *backend) {
	f := newFixture(t, b, s3cache.Options{Writes: true})
	wantStatus(t, f.doBody(t, "PUT", "/w.txt", []byte("v1")), 428)
	wantStatus(t, f.doBody(t, "PUT", "/w.txt", []byte("v1"), "If-Match", `W/"x"`), 428)
	w := f.doBody(t, "PUT", "/w.txt", []byte("v1"), "If-None-Match", "*", "Content-Type", "text/plain")
	wantStatus(t, w, 201)
	etag1 := w.Header().Get("ETag")
	if etag1 == "" {
		t.Fatal("201 without ETag")
	}
	wantStatus(t, f.doBody(t, "PUT", "/w.txt", []byte("v1"), "If-None-Match", "*"), 412)

	w = f.do(t, "GET", "/w.txt")
	wantStatus(t, w, 200)
	if w.Body.String() != "v1" {
		t.Fatalf("body = %q", w.Body.String())
	}
	wantStatus(t, f.doBody(t, "PUT", "/w.txt", []byte("v2"), "If-Match", `"stale"`), 412)
	w = f.doBody(t, "PUT", "/w.txt", []byte("v2"), "If-Match", etag1)
	wantStatus(t, w, 204)
	etag2 := w.Header().Get("ETag")
	// The entry was invalidated: the new version is served at once, within the TTL.
	w = f.do(t, "GET", "/w.txt")
	if w.Body.String() != "v2" {
		t.Fatalf("after PUT If-Match, body = %q, want v2", w.Body.String())
	}
	wantStatus(t, f.do(t, "DELETE", "/w.txt"), 428)
	wantStatus(t, f.do(t, "POST", "/w.txt"), 405)
	if b.conditionalDelete {
		wantStatus(t, f.do(t, "DELETE", "/w.txt", "If-Match", etag1), 412)
		wantStatus(t, f.do(t, "DELETE", "/w.txt", "If-Match", etag2), 204)
		wantStatus(t, f.do(t, "GET", "/w.txt"), 404)
	}
	if got := f.h.Stats().Writes; got < 2 {
		t.Errorf("Writes = %d, want at least 2", got)
	}
	off := newFixture(t, b, s3cache.Options{})
	w = off.doBody(t, "PUT", "/w.txt", []byte("x"), "If-None-Match", "*")
	wantStatus(t, w, 405)
	wantHeader(t, w, "Allow", "GET, HEAD")
}

func testWriteHelpers(t *testing.T, b *backend) {
	ctx := context.Background()
	in := func(s string) s3cache.PutInput {
		return s3cache.PutInput{Body: strings.NewReader(s), ContentType: "text/plain"}
	}
	r1, err := s3cache.PutIfAbsent(ctx, b.client, b.bucket, "k", in("a"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s3cache.PutIfAbsent(ctx, b.client, b.bucket, "k", in("b"))
	if !errors.Is(err, s3cache.ErrPreconditionFailed) || !strings.HasPrefix(err.Error(), "s3cache: ") {
		t.Fatalf("second PutIfAbsent error = %v, want ErrPreconditionFailed", err)
	}
	r2, err := s3cache.PutIfMatch(ctx, b.client, b.bucket, "k", r1.ETag, in("c"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err = s3cache.PutIfMatch(ctx, b.client, b.bucket, "k", r1.ETag, in("d")); !errors.Is(err, s3cache.ErrPreconditionFailed) {
		t.Fatalf("PutIfMatch with an old ETag: %v, want ErrPreconditionFailed", err)
	}
	if _, err = s3cache.PutIfMatch(ctx, b.client, b.bucket, "nope", r1.ETag, in("d")); !errors.Is(err, s3cache.ErrPreconditionFailed) {
		t.Fatalf("PutIfMatch on a missing key: %v, want ErrPreconditionFailed", err)
	}
	if !b.conditionalDelete {
		return // gofakes3 ignores If-Match on DELETE
	}
	if err := s3cache.DeleteIfMatch(ctx, b.client, b.bucket, "k", r1.ETag); !errors.Is(err, s3cache.ErrPreconditionFailed) {
		t.Fatalf("DeleteIfMatch with an old ETag: %v, want ErrPreconditionFailed", err)
	}
	if err := s3cache.DeleteIfMatch(ctx, b.client, b.bucket, "k", r2.ETag); err != nil {
		t.Fatalf("DeleteIfMatch: %v", err)
	}
}

// If-Match and If-Unmodified-Since on GET of a streamed object are S3's to evaluate; gofakes3
// ignores them, so this runs on versitygw only. For a cached object they are local.
func testGetPreconditions(t *testing.T, b *backend) {
	body := strings.Repeat("z", 300)
	etag := b.put(t, "p.bin", body)
	b.put(t, "small.txt", "s")
	for _, large := range []bool{false, true} {
		if large && !b.getIfMatch {
			continue
		}
		opts := s3cache.Options{}
		if large {
			opts.MaxObjectSize = 100
		}
		f := newFixture(t, b, opts)
		wantStatus(t, f.do(t, "GET", "/p.bin", "If-Match", etag), 200)
		wantStatus(t, f.do(t, "GET", "/p.bin", "If-Match", `"other"`), 412)
		wantStatus(t, f.do(t, "GET", "/p.bin", "If-Unmodified-Since", "Mon, 01 Jan 2001 00:00:00 GMT"), 412)
		wantStatus(t, f.do(t, "GET", "/p.bin", "If-Modified-Since", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)), 304)
	}
}

// With ObjectMaxAge, the object's own Cache-Control sets the freshness (gofakes3 does not
// store Cache-Control, so this runs on versitygw only).
func testObjectCacheControl(t *testing.T, b *backend) {
	b.put(t, "cc.txt", "cc", func(in *s3.PutObjectInput) { in.CacheControl = aws.String("public, max-age=300") })
	f := newFixture(t, b, s3cache.Options{TTL: time.Second, ObjectMaxAge: true})
	w := f.do(t, "GET", "/cc.txt")
	wantHeader(t, w, "Cache-Control", "public, max-age=300")
	f.clock.Advance(299 * time.Second)
	f.do(t, "GET", "/cc.txt")
	wantCount(t, "S3 GETs within max-age", &f.c.gets, 1)
	f.clock.Advance(2 * time.Second)
	f.do(t, "GET", "/cc.txt")
	wantCount(t, "S3 GETs after max-age", &f.c.gets, 2)
}

// Content-Encoding is stored with the object and passed through untouched (no transparent
// decompression between S3 and the client).
func testContentEncoding(t *testing.T, b *backend) {
	gz := "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00" // gzip of ""
	b.put(t, "e.js", gz, func(in *s3.PutObjectInput) { in.ContentEncoding = aws.String("gzip") })
	for _, max := range []int64{0, 10} { // cached, then streamed
		f := newFixture(t, b, s3cache.Options{MaxObjectSize: max})
		w := f.do(t, "GET", "/e.js")
		wantStatus(t, w, 200)
		wantHeader(t, w, "Content-Encoding", "gzip")
		if w.Body.String() != gz {
			t.Errorf("MaxObjectSize %d: body %q, want the stored gzip bytes", max, w.Body.String())
		}
	}
}
