package s3cache_test

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/tollgate-go/tollgate/s3cache"
)

// Files that fill DiskMaxBytes exactly all stay: eviction starts only when a new file would
// go past the budget.
func TestDiskExactFit(t *testing.T) {
	f := newMemFixture(t, s3cache.Options{MaxBytes: 1 << 10, MaxObjectSize: 16, DiskDir: "disk", DiskMaxBytes: 200, DiskMaxObjectSize: 100})
	for _, k := range []string{"a", "b", "c"} {
		f.c.put(k, bytes.Repeat([]byte(k), 100), "")
	}
	get := func(k string) {
		t.Helper()
		wantResponse(t, "GET /"+k, f.do("GET", "/"+k), 200, string(bytes.Repeat([]byte(k), 100)))
		f.h.WaitFills()
	}
	get("a")
	get("b")
	if s := f.h.Stats(); s.DiskFiles != 2 || s.DiskBytes != 200 || s.DiskEvictions != 0 {
		t.Errorf("two files filling the budget: stats %+v, want both kept", s)
	}
	get("c") // evicts a, the least recently used
	if s := f.h.Stats(); s.DiskFiles != 2 || s.DiskBytes != 200 || s.DiskEvictions != 1 {
		t.Errorf("a third file: stats %+v, want one eviction", s)
	}
	get("b")
	get("c")
	if n := f.c.gets.Load(); n != 3 {
		t.Errorf("%d S3 GETs, want 3 (b and c kept)", n)
	}
}

// A file being written is never evicted: while it fills, an object that does not fit beside it
// is streamed from S3 instead (Stats.DiskFallbacks), and the tier stays within DiskMaxBytes.
func TestDiskNoRoomBesideAFill(t *testing.T) {
	f := newMemFixture(t, s3cache.Options{MaxBytes: 1 << 10, MaxObjectSize: 16, DiskDir: "disk", DiskMaxBytes: 150, DiskMaxObjectSize: 100})
	f.c.put("a", bytes.Repeat([]byte("a"), 100), "")
	f.c.put("b", bytes.Repeat([]byte("b"), 100), "")
	reading, hold := f.c.holdNext("a", 0)
	done := make(chan string)
	go func() { done <- f.do("GET", "/a").Body.String() }()
	<-reading // a's fill has its room and waits for S3
	wantResponse(t, "GET /b during a's fill", f.do("GET", "/b"), 200, strings.Repeat("b", 100))
	if s := f.h.Stats(); s.DiskFiles != 1 || s.DiskBytes != 100 || s.DiskFallbacks != 1 || s.Streamed != 1 {
		t.Errorf("stats %+v, want a's file only, b streamed", s)
	}
	close(hold)
	if body := <-done; body != strings.Repeat("a", 100) {
		t.Errorf("GET /a: %q", body)
	}
}

// A file's entry revalidated by S3 (304) is fresh again for a full TTL.
func TestDiskRevalidatedEntryIsFresh(t *testing.T) {
	f := newMemFixture(t, s3cache.Options{MaxBytes: 1 << 10, MaxObjectSize: 16, DiskDir: "disk", TTL: time.Minute})
	f.c.put("a", bytes.Repeat([]byte("a"), 100), "")
	f.do("GET", "/a")
	f.h.WaitFills()
	f.clock.Advance(2 * time.Minute)
	for i := range 3 {
		wantResponse(t, fmt.Sprint("GET ", i), f.do("GET", "/a"), 200, strings.Repeat("a", 100))
		f.clock.Advance(time.Second)
	}
	if s := f.h.Stats(); f.c.gets.Load() != 2 || s.Revalidations != 1 || s.S3NotModified != 1 || s.DiskHits != 4 {
		t.Errorf("%d S3 GETs, stats %+v; want one revalidation, then fresh from the file", f.c.gets.Load(), s)
	}
}

// A response reading a fill that fails gets the bytes it still lacks from S3: a ranged GET
// from where the file stopped to the end of what the response sends, on the same version.
func TestDiskResumeRange(t *testing.T) {
	f := newMemFixture(t, s3cache.Options{MaxBytes: 1 << 10, MaxObjectSize: 16, DiskDir: "disk"})
	data := payload(100)
	etag := f.c.put("r.bin", data, "")
	reading, hold := f.c.holdNext("r.bin", 50)
	f.h.InjectDiskFaults(s3cache.DiskFaults{Write: errBoom, WriteAfter: 50})

	serve := func(w *signalWriter, hdr ...string) chan struct{} {
		done := make(chan struct{})
		r := newGet("/r.bin")
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		go func() { defer close(done); f.h.ServeHTTP(w, r) }()
		return done
	}
	whole := &signalWriter{sumWriter: newSumWriter(), at: 50, reached: make(chan struct{})}
	wholeDone := serve(whole)
	<-reading // the fill wrote 50 bytes and waits for the rest
	<-whole.reached
	part := &signalWriter{sumWriter: newSumWriter(), at: 40, reached: make(chan struct{})}
	partDone := serve(part, "Range", "bytes=10-59")
	<-part.reached // bytes 10-49, from the file
	close(hold)    // the next write fails
	<-wholeDone
	<-partDone

	if whole.code != 200 || whole.n != 100 || whole.crc != crc32Of(data) {
		t.Errorf("whole: %d with %d bytes, want 200 and the object", whole.code, whole.n)
	}
	if part.code != 206 || part.n != 50 || part.crc != crc32Of(data[10:60]) {
		t.Errorf("range: %d with %d bytes, want 206 and bytes 10-59", part.code, part.n)
	}
	var got []string
	for _, in := range f.c.inputs[1:] {
		got = append(got, aws.ToString(in.Range)+" "+aws.ToString(in.IfMatch))
	}
	sort.Strings(got)
	if want := []string{"bytes=50-59 " + etag, "bytes=50-99 " + etag}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("resumed GETs %q, want %q", got, want)
	}
}

// A fill writes exactly the object's Content-Length, even when S3's body goes on (and its
// reads come in pieces): the file is whole and is served from disk afterwards.
func TestDiskFillStopsAtContentLength(t *testing.T) {
	f := newMemFixture(t, s3cache.Options{MaxBytes: 1 << 10, MaxObjectSize: 16, DiskDir: "disk"})
	data := payload(100)
	f.c.put("x.bin", data, "")
	f.c.objs["x.bin"].extra = []byte("trailing bytes past the length")
	_, hold := f.c.holdNext("x.bin", 50) // the first read stops at 50 bytes
	close(hold)
	for i := range 2 {
		w := f.do("GET", "/x.bin")
		f.h.WaitFills()
		if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), data) {
			t.Errorf("GET %d: %d with %d bytes, want the 100-byte object", i, w.Code, w.Body.Len())
		}
	}
	if s := f.h.Stats(); f.c.gets.Load() != 1 || s.DiskHits != 2 || s.DiskFallbacks != 0 || s.DiskFiles != 1 || s.DiskBytes != 100 {
		t.Errorf("%d S3 GETs, stats %+v; want one fill and two answers from its file", f.c.gets.Load(), s)
	}
}

// S3 failing in the middle of a fill: OnError gets S3's own error under the object's key, the
// response in progress is completed from S3, and the file leaves the tier (the next request
// fills it again).
func TestDiskFillS3Error(t *testing.T) {
	var logged []error
	var keys []string
	f := newMemFixture(t, s3cache.Options{Prefix: "p", MaxBytes: 1 << 10, MaxObjectSize: 16, DiskDir: "disk",
		OnError: func(key string, err error) { keys, logged = append(keys, key), append(logged, err) }})
	data := payload(100)
	f.c.put("p/x.bin", data, "")
	f.c.objs["p/x.bin"].failOnce = errBoom
	w := f.do("GET", "/x.bin")
	f.h.WaitFills()
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), data) {
		t.Errorf("GET during the failed fill: %d with %d bytes, want the object", w.Code, w.Body.Len())
	}
	if len(logged) != 1 || keys[0] != "p/x.bin" || !errors.Is(logged[0], errBoom) || errors.Is(logged[0], s3cache.ErrDisk) {
		t.Errorf("OnError got %q %v, want S3's error for p/x.bin", keys, logged)
	}
	if s := f.h.Stats(); s.S3Errors != 1 || s.DiskFiles != 0 {
		t.Errorf("stats %+v, want 1 S3 error and no file", s)
	}
	wantResponse(t, "GET after", f.do("GET", "/x.bin"), 200, string(data))
	f.h.WaitFills()
	if s := f.h.Stats(); s.DiskFiles != 1 {
		t.Errorf("after a new fill: %d disk files, want 1", s.DiskFiles)
	}
}
