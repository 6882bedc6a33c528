package s3cache_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/internal/testenv"
	"github.com/tollgate-go/tollgate/s3cache"
)

// RFC 5861 §3: within the stale-while-revalidate window the stale copy is served at once,
// with an Age, and one background request revalidates it.
func TestStaleWhileRevalidate(t *testing.T) {
	b := fakeBackend(t)
	b.put(t, "s.js", "v1")
	f := newFixture(t, b, s3cache.Options{TTL: time.Minute, StaleWhileRevalidate: time.Minute})
	wantStatus(t, f.do(t, "GET", "/s.js"), 200)
	b.put(t, "s.js", "v2")
	f.clock.Advance(90 * time.Second)

	w := f.do(t, "GET", "/s.js")
	wantStatus(t, w, 200)
	if w.Body.String() != "v1" {
		t.Fatalf("within the window, body = %q, want the stale v1", w.Body.String())
	}
	wantHeader(t, w, "Age", "90")
	f.h.WaitBackground()
	wantCount(t, "S3 GETs", &f.c.gets, 2)
	w = f.do(t, "GET", "/s.js")
	if w.Body.String() != "v2" || w.Header().Get("Age") != "" {
		t.Fatalf("after revalidation, body = %q Age = %q, want v2 and no Age", w.Body.String(), w.Header().Get("Age"))
	}
	// Past the window, a stale entry is revalidated before answering.
	f.clock.Advance(3 * time.Minute)
	b.put(t, "s.js", "v3")
	if w = f.do(t, "GET", "/s.js"); w.Body.String() != "v3" {
		t.Fatalf("past the window, body = %q, want v3", w.Body.String())
	}
	if s := f.h.Stats(); s.StaleServed != 1 {
		t.Errorf("StaleServed = %d, want 1", s.StaleServed)
	}
}

// RFC 5861 §4: when S3 fails, a stale copy within StaleIfError is served with an Age; past it,
// or without a copy, the client gets a generic 502 (503 + Retry-After when S3 throttles) that
// never carries the error text.
func TestStaleIfErrorInjected(t *testing.T) {
	b := fakeBackend(t)
	b.put(t, "e.css", "body{}")
	var logged []string
	f := newFixture(t, b, s3cache.Options{TTL: time.Minute, StaleIfError: time.Hour,
		OnError: func(key string, err error) { logged = append(logged, key+": "+err.Error()) }})
	wantStatus(t, f.do(t, "GET", "/e.css"), 200)
	f.c.failWith(errors.New("dial tcp 10.0.0.1:443: connection refused (secret detail)"))
	f.clock.Advance(2 * time.Minute)

	w := f.do(t, "GET", "/e.css")
	wantStatus(t, w, 200)
	wantHeader(t, w, "Age", "120")
	if w.Body.String() != "body{}" {
		t.Fatalf("stale body = %q", w.Body.String())
	}
	if len(logged) != 1 || !strings.Contains(logged[0], "secret detail") {
		t.Errorf("OnError got %q, want the S3 error once", logged)
	}

	// A conditional request is answered from the stale copy too (the only copy there is).
	etag := w.Header().Get("ETag")
	wantStatus(t, f.do(t, "GET", "/e.css", "If-None-Match", etag), 304)

	f.clock.Advance(2 * time.Hour)
	w = f.do(t, "GET", "/e.css")
	wantStatus(t, w, 502)
	if strings.Contains(w.Body.String(), "secret") || strings.Contains(w.Body.String(), "dial") {
		t.Errorf("502 body leaks the error: %q", w.Body.String())
	}
	f.c.failWith(httpError(503, "SlowDown: please reduce your request rate"))
	w = f.do(t, "GET", "/other.css")
	wantStatus(t, w, 503)
	wantHeader(t, w, "Retry-After", "1")
	if strings.Contains(w.Body.String(), "SlowDown") {
		t.Errorf("503 body leaks the error: %q", w.Body.String())
	}
	f.c.failWith(nil)
	wantStatus(t, f.do(t, "GET", "/e.css"), 200)
}

// Without StaleIfError, a failed revalidation is a 502, never a stale answer.
func TestNoStaleIfErrorByDefault(t *testing.T) {
	b := fakeBackend(t)
	b.put(t, "n.css", "x")
	f := newFixture(t, b, s3cache.Options{TTL: time.Minute})
	wantStatus(t, f.do(t, "GET", "/n.css"), 200)
	f.c.failWith(errors.New("boom"))
	f.clock.Advance(2 * time.Minute)
	wantStatus(t, f.do(t, "GET", "/n.css"), 502)
}

// The private versitygw is stopped: the stale copy is served with an Age; once it is back,
// revalidation resumes.
func TestStaleIfErrorServerStopped(t *testing.T) {
	srv, ep := testenv.StartVersitygw(t)
	b := versityOn(t, ep)
	b.put(t, "app.js", "alert(1)")
	f := newFixture(t, b, s3cache.Options{TTL: time.Minute, StaleIfError: 10 * time.Minute})
	wantStatus(t, f.do(t, "GET", "/app.js"), 200)

	srv.Stop()
	f.clock.Advance(5 * time.Minute)
	w := f.do(t, "GET", "/app.js")
	wantStatus(t, w, 200)
	wantHeader(t, w, "Age", "300")
	if w.Body.String() != "alert(1)" {
		t.Fatalf("stale body = %q", w.Body.String())
	}
	wantStatus(t, f.do(t, "GET", "/never-cached.js"), http.StatusBadGateway)
	if s := f.h.Stats(); s.StaleServed != 1 || s.S3Errors != 2 {
		t.Errorf("stats = %+v, want 1 stale, 2 S3 errors", s)
	}

	srv.Start()
	w = f.do(t, "GET", "/app.js")
	wantStatus(t, w, 200)
	wantHeader(t, w, "Age", "")
	if s := f.h.Stats(); s.S3NotModified != 1 {
		t.Errorf("S3NotModified = %d after restart, want 1", s.S3NotModified)
	}
}

// The cache is bounded by bytes: the least recently used entry goes first.
func TestLRUBoundedByBytes(t *testing.T) {
	b := fakeBackend(t)
	body := strings.Repeat("b", 1000)
	for _, k := range []string{"1", "2", "3"} {
		b.put(t, k, body)
	}
	f := newFixture(t, b, s3cache.Options{MaxBytes: 3200, MaxObjectSize: 1000})
	f.do(t, "GET", "/1")
	f.do(t, "GET", "/2")
	f.do(t, "GET", "/1") // 1 is now more recent than 2
	f.do(t, "GET", "/3") // evicts 2 (each entry costs 1000 bytes plus overhead)
	s := f.h.Stats()
	if s.Entries != 2 || s.Evictions != 1 || s.Bytes > 3200 {
		t.Fatalf("stats = %+v, want 2 entries, 1 eviction, at most 3200 bytes", s)
	}
	f.do(t, "GET", "/1")
	wantCount(t, "S3 GETs (1 still cached)", &f.c.gets, 3)
	f.do(t, "GET", "/2")
	wantCount(t, "S3 GETs (2 evicted)", &f.c.gets, 4)
}

func TestNewValidates(t *testing.T) {
	c := &counting{}
	for _, tc := range []struct {
		name string
		opts s3cache.Options
	}{
		{"no bucket", s3cache.Options{}},
		{"absolute prefix", s3cache.Options{Bucket: "b", Prefix: "/x"}},
		{"index with slash", s3cache.Options{Bucket: "b", IndexDocument: "a/index.html"}},
		{"object larger than cache", s3cache.Options{Bucket: "b", MaxBytes: 10, MaxObjectSize: 11}},
		{"negative stale", s3cache.Options{Bucket: "b", StaleIfError: -1}},
	} {
		if _, err := s3cache.New(c, tc.opts); err == nil || !strings.HasPrefix(err.Error(), "s3cache: ") {
			t.Errorf("%s: New error = %v, want an s3cache: error", tc.name, err)
		}
	}
	if _, err := s3cache.New(nil, s3cache.Options{Bucket: "b"}); err == nil {
		t.Error("New(nil client) succeeded")
	}
}

// S3's 409 ConditionalRequestConflict is ErrConflict and a 409 to the client; any other S3
// failure is a generic 502 whose body does not carry the error.
func TestWriteErrorsMapped(t *testing.T) {
	b := fakeBackend(t)
	f := newFixture(t, b, s3cache.Options{Writes: true})
	f.c.failWith(httpError(409, "ConditionalRequestConflict: a conflicting operation is in progress"))
	wantStatus(t, f.doBody(t, "PUT", "/x", []byte("1"), "If-None-Match", "*"), 409)
	_, err := s3cache.PutIfAbsent(t.Context(), f.c, b.bucket, "x", s3cache.PutInput{Body: strings.NewReader("1")})
	if !errors.Is(err, s3cache.ErrConflict) {
		t.Errorf("PutIfAbsent error = %v, want ErrConflict", err)
	}
	f.c.failWith(errors.New("internal detail"))
	w := f.doBody(t, "PUT", "/x", []byte("1"), "If-None-Match", "*")
	wantStatus(t, w, 502)
	if strings.Contains(w.Body.String(), "detail") {
		t.Errorf("502 body leaks the error: %q", w.Body.String())
	}
	f.c.failWith(nil)
	big := make([]byte, 2<<20)
	g := newFixture(t, b, s3cache.Options{Writes: true, MaxWriteSize: 1 << 20})
	wantStatus(t, g.doBody(t, "PUT", "/big", big, "If-None-Match", "*"), 413)
	wantCount(t, "S3 PUTs for an oversized body", &g.c.puts, 0)
}
