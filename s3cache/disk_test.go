package s3cache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tollgate-go/tollgate/s3cache"
)

// tierFiles lists the disk tier's files in dir, complete or being written.
func tierFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "s3c-*"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

// errorLog collects what Options.OnError receives.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) record(_ string, err error) {
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
}

// disk returns how many of the errors are disk-tier errors.
func (l *errorLog) disk() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, err := range l.errs {
		if errors.Is(err, s3cache.ErrDisk) {
			n++
		}
	}
	return n
}

func newDiskFixture(t testing.TB, b *backend, opts s3cache.Options) *fixture {
	t.Helper()
	if opts.DiskDir == "" {
		opts.DiskDir = t.TempDir()
	}
	if opts.MaxObjectSize == 0 {
		opts.MaxObjectSize = 1 << 10
	}
	f := newFixture(t, b, opts)
	t.Cleanup(func() { _ = f.h.Close() })
	return f
}

// An object above MaxObjectSize is written to the disk tier once and answered from there like
// a cached object: 200, one range, several ranges, 416, If-Range, HEAD, 304 and 412, with one
// S3 GET. After the TTL, S3's 304 keeps the file; a changed object replaces it.
func testDiskTier(t *testing.T, b *backend) {
	data := payload(300 << 10)
	size := len(data)
	etag := putBytes(t, b, "d/big.bin", data)
	dir := t.TempDir()
	f := newDiskFixture(t, b, s3cache.Options{DiskDir: dir, TTL: time.Minute})

	w := f.do(t, "GET", "/d/big.bin")
	wantStatus(t, w, 200)
	if !bytes.Equal(w.Body.Bytes(), data) {
		t.Fatalf("body from the disk tier has %d bytes and differs from the object", w.Body.Len())
	}
	wantHeader(t, w, "ETag", etag)
	wantHeader(t, w, "Content-Length", fmt.Sprint(size))
	wantHeader(t, w, "Accept-Ranges", "bytes")
	lastModified := w.Header().Get("Last-Modified")
	if lastModified == "" {
		t.Error("Last-Modified missing")
	}
	f.h.WaitFills()
	files := tierFiles(t, dir)
	if len(files) != 1 || strings.HasSuffix(files[0], ".part") {
		t.Fatalf("disk tier files = %v, want one complete file", files)
	}

	for _, tc := range []struct {
		name   string
		hdr    []string
		status int
		body   []byte // nil: not checked
		cr     string
	}{
		{"range", []string{"Range", "bytes=1000-1999"}, 206, data[1000:2000], fmt.Sprintf("bytes 1000-1999/%d", size)},
		{"suffix", []string{"Range", "bytes=-10"}, 206, data[size-10:], fmt.Sprintf("bytes %d-%d/%d", size-10, size-1, size)},
		{"open end", []string{"Range", fmt.Sprintf("bytes=%d-", size-5)}, 206, data[size-5:], ""},
		{"unsatisfiable", []string{"Range", fmt.Sprintf("bytes=%d-", size)}, 416, nil, fmt.Sprintf("bytes */%d", size)},
		{"malformed range", []string{"Range", "bytes=9-1"}, 200, data, ""},
		{"If-Range match", []string{"Range", "bytes=0-9", "If-Range", etag}, 206, data[:10], ""},
		{"If-Range mismatch", []string{"Range", "bytes=0-9", "If-Range", `"other"`}, 200, data, ""},
		{"If-None-Match", []string{"If-None-Match", etag}, 304, []byte{}, ""},
		{"If-Modified-Since", []string{"If-Modified-Since", lastModified}, 304, []byte{}, ""},
		{"If-Match other", []string{"If-Match", `"other"`}, 412, nil, ""},
		{"If-Match", []string{"If-Match", etag, "Range", "bytes=5-9"}, 206, data[5:10], ""},
	} {
		w := f.do(t, "GET", "/d/big.bin", tc.hdr...)
		if w.Code != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, w.Code, tc.status)
			continue
		}
		if tc.body != nil && !bytes.Equal(w.Body.Bytes(), tc.body) {
			t.Errorf("%s: body has %d bytes, want %d from the object", tc.name, w.Body.Len(), len(tc.body))
		}
		if tc.cr != "" {
			wantHeader(t, w, "Content-Range", tc.cr)
		}
		if w.Code == 206 || w.Code == 200 {
			wantHeader(t, w, "Content-Length", fmt.Sprint(w.Body.Len()))
		}
	}

	w = f.do(t, "GET", "/d/big.bin", "Range", "bytes=0-3,-4")
	wantStatus(t, w, 206)
	parts := readMultipart(t, w.Header().Get("Content-Type"), w.Body.String())
	want := []string{
		fmt.Sprintf("bytes 0-3/%d=%s", size, data[:4]),
		fmt.Sprintf("bytes %d-%d/%d=%s", size-4, size-1, size, data[size-4:]),
	}
	if !slices.Equal(parts, want) {
		t.Errorf("multipart parts = %q, want %q", parts, want)
	}
	wantHeader(t, w, "Content-Length", fmt.Sprint(w.Body.Len()))

	w = f.do(t, "HEAD", "/d/big.bin")
	wantStatus(t, w, 200)
	wantHeader(t, w, "Content-Length", fmt.Sprint(size))
	wantHeader(t, w, "ETag", etag)
	if w.Body.Len() != 0 {
		t.Errorf("HEAD body has %d bytes", w.Body.Len())
	}
	wantCount(t, "S3 GETs", &f.c.gets, 1)
	wantCount(t, "S3 HEADs", &f.c.heads, 0)
	if s := f.h.Stats(); s.DiskFiles != 1 || s.DiskBytes != int64(size) || s.Streamed != 0 || s.DiskFallbacks != 0 {
		t.Errorf("stats = %+v, want one file of %d bytes and nothing streamed", s, size)
	}

	// Stale: revalidated with If-None-Match; S3's 304 keeps the file.
	f.clock.Advance(2 * time.Minute)
	hits := f.h.Stats().DiskHits
	w = f.do(t, "GET", "/d/big.bin")
	wantStatus(t, w, 200)
	if !bytes.Equal(w.Body.Bytes(), data) {
		t.Fatal("body after revalidation differs from the object")
	}
	wantCount(t, "S3 GETs after the TTL", &f.c.gets, 2)
	wantCount(t, "S3 body bytes", &f.c.bodyBytes, int64(size))
	if in := f.c.lastGet(t); aws.ToString(in.IfNoneMatch) != etag {
		t.Errorf("revalidation If-None-Match = %q, want %q", aws.ToString(in.IfNoneMatch), etag)
	}
	if got := tierFiles(t, dir); !slices.Equal(got, files) {
		t.Errorf("files after S3's 304 = %v, want the same file %v", got, files)
	}
	if s := f.h.Stats(); s.S3NotModified != 1 || s.DiskHits != hits+1 {
		t.Errorf("stats = %+v, want one S3 304 and the body from the kept file", s)
	}

	// Changed in S3: after the TTL, the new version replaces the file.
	data2 := payload(200 << 10)[100:]
	etag2 := putBytes(t, b, "d/big.bin", data2)
	f.clock.Advance(2 * time.Minute)
	w = f.do(t, "GET", "/d/big.bin", "If-None-Match", etag)
	wantStatus(t, w, 200)
	wantHeader(t, w, "ETag", etag2)
	if !bytes.Equal(w.Body.Bytes(), data2) {
		t.Fatal("body after the object changed is not the new version")
	}
	f.h.WaitFills()
	if got := tierFiles(t, dir); len(got) != 1 || slices.Equal(got, files) {
		t.Errorf("files after the object changed = %v, want one new file (old: %v)", got, files)
	}
	if s := f.h.Stats(); s.DiskBytes != int64(len(data2)) {
		t.Errorf("DiskBytes = %d, want %d", s.DiskBytes, len(data2))
	}
}

// Files a previous run left are removed at start (by name: nothing else in the directory,
// no subdirectory and nothing a symbolic link points to is touched), and the objects are
// fetched again.
func TestDiskRestart(t *testing.T) {
	b := fakeBackend(t)
	data := payload(64 << 10)
	putBytes(t, b, "a.bin", data)
	putBytes(t, b, "b.bin", data[1:])
	dir := t.TempDir()
	f := newDiskFixture(t, b, s3cache.Options{DiskDir: dir})
	wantStatus(t, f.do(t, "GET", "/a.bin"), 200)
	wantStatus(t, f.do(t, "GET", "/b.bin"), 200)
	f.h.WaitFills()
	files := tierFiles(t, dir)
	if len(files) != 2 {
		t.Fatalf("files = %v, want 2", files)
	}
	left := map[string][]byte{}
	for _, p := range files {
		left[p], _ = os.ReadFile(p)
	}
	if err := f.h.Close(); err != nil {
		t.Fatal(err)
	}
	if got := tierFiles(t, dir); len(got) != 0 {
		t.Fatalf("files after Close = %v, want none", got)
	}

	// What a crash leaves: complete files, a partial one, and things that are not ours.
	for p, body := range left {
		if err := os.WriteFile(p, body, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	partial := filepath.Join(dir, "s3c-0123456789ab-7.part")
	mustWrite(t, partial, data[:1000])
	mustWrite(t, filepath.Join(dir, "keep.txt"), []byte("not the tier's"))
	mustWrite(t, filepath.Join(dir, "sub", "s3c-0123456789ab-1"), []byte("in a subdirectory"))
	outside := filepath.Join(t.TempDir(), "target")
	mustWrite(t, outside, []byte("outside"))
	if err := os.Symlink(outside, filepath.Join(dir, "s3c-link")); err != nil {
		t.Fatal(err)
	}

	g := newDiskFixture(t, b, s3cache.Options{DiskDir: dir})
	for p := range left {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("file of the previous run %s: %v, want removed", p, err)
		}
	}
	if _, err := os.Stat(partial); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("partial file: %v, want removed", err)
	}
	for _, p := range []string{"keep.txt", "sub/s3c-0123456789ab-1", "s3c-link"} {
		if _, err := os.Lstat(filepath.Join(dir, p)); err != nil {
			t.Errorf("%s: %v, want it left alone", p, err)
		}
	}
	if got, _ := os.ReadFile(outside); string(got) != "outside" {
		t.Errorf("symbolic link target = %q, want untouched", got)
	}
	w := g.do(t, "GET", "/a.bin")
	wantStatus(t, w, 200)
	if !bytes.Equal(w.Body.Bytes(), data) {
		t.Error("body after restart differs from the object")
	}
	wantCount(t, "S3 GETs after restart", &g.c.gets, 1)
	g.h.WaitFills()
	if got := tierFiles(t, dir); len(got) != 2 { // the new file and the link
		t.Errorf("files after restart = %v, want the new file and the link", got)
	}
}

func mustWrite(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Two Handlers never share a directory: the second New fails until the first is closed.
func TestDiskDirLocked(t *testing.T) {
	b := fakeBackend(t)
	dir := t.TempDir()
	h1, err := s3cache.New(b.client, s3cache.Options{Bucket: b.bucket, DiskDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s3cache.New(b.client, s3cache.Options{Bucket: b.bucket, DiskDir: dir}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second New on the same DiskDir: %v, want an error saying it is in use", err)
	}
	if err := h1.Close(); err != nil {
		t.Fatal(err)
	}
	h2, err := s3cache.New(b.client, s3cache.Options{Bucket: b.bucket, DiskDir: dir})
	if err != nil {
		t.Fatalf("New after Close: %v", err)
	}
	_ = h2.Close()
	_ = h2.Close() // twice is fine
}

func TestDiskOptions(t *testing.T) {
	b := fakeBackend(t)
	for _, tc := range []struct {
		name string
		opts s3cache.Options
	}{
		{"budget without dir", s3cache.Options{DiskMaxBytes: 1 << 20}},
		{"negative budget", s3cache.Options{DiskDir: t.TempDir(), DiskMaxBytes: -1}},
		{"object over budget", s3cache.Options{DiskDir: t.TempDir(), DiskMaxBytes: 10, DiskMaxObjectSize: 11}},
		{"dir is a file", s3cache.Options{DiskDir: filepath.Join(t.TempDir(), "f", "..", "f")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "dir is a file" {
				mustWrite(t, tc.opts.DiskDir, []byte("x"))
			}
			tc.opts.Bucket = b.bucket
			h, err := s3cache.New(b.client, tc.opts)
			if err == nil || !strings.HasPrefix(err.Error(), "s3cache: ") {
				_ = h.Close()
				t.Fatalf("New = %v, want an s3cache error", err)
			}
		})
	}
}

// The tier keeps the total size of its files within DiskMaxBytes, evicting the least
// recently used; an evicted object is fetched again, a kept one is not.
func TestDiskEviction(t *testing.T) {
	b := fakeBackend(t)
	const size = 100 << 10
	for _, k := range []string{"a", "b", "c", "d"} {
		putBytes(t, b, k, payload(size))
	}
	dir := t.TempDir()
	f := newDiskFixture(t, b, s3cache.Options{DiskDir: dir, DiskMaxBytes: 3*size + size/2, DiskMaxObjectSize: size})
	get := func(k string) {
		t.Helper()
		wantStatus(t, f.do(t, "GET", "/"+k), 200)
		f.h.WaitFills()
	}
	get("a")
	get("b")
	get("c")
	get("a") // a is now more recently used than b
	get("d") // evicts b
	s := f.h.Stats()
	if s.DiskFiles != 3 || s.DiskBytes != 3*size || s.DiskEvictions != 1 {
		t.Errorf("stats = %+v, want 3 files of %d bytes and 1 eviction", s, size)
	}
	if n := len(tierFiles(t, dir)); n != 3 {
		t.Errorf("%d files in the directory, want 3", n)
	}
	wantCount(t, "S3 GETs", &f.c.gets, 4)
	get("a")
	get("c")
	get("d")
	wantCount(t, "S3 GETs for kept objects", &f.c.gets, 4)
	get("b")
	wantCount(t, "S3 GETs for the evicted object", &f.c.gets, 5)
	if s := f.h.Stats(); s.DiskBytes > 3*size+size/2 {
		t.Errorf("DiskBytes = %d over the budget", s.DiskBytes)
	}
}

// A disk that refuses a file (read-only, full) costs S3 requests, never a client's response:
// the object is streamed from S3, OnError gets ErrDisk, Stats counts the fallback, and no
// file is left behind.
func TestDiskFullInjected(t *testing.T) {
	data := payload(64 << 10)
	for _, tc := range []struct {
		name   string
		faults s3cache.DiskFaults
	}{
		{"read-only", s3cache.DiskFaults{Create: &os.PathError{Op: "open", Path: "x", Err: syscall.EROFS}}},
		{"full at preallocation", s3cache.DiskFaults{Preallocate: syscall.ENOSPC}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := fakeBackend(t)
			putBytes(t, b, "big.bin", data)
			var log errorLog
			dir := t.TempDir()
			f := newDiskFixture(t, b, s3cache.Options{DiskDir: dir, OnError: log.record})
			f.h.InjectDiskFaults(tc.faults)
			for _, hdr := range [][]string{nil, {"Range", "bytes=10-19"}} {
				w := f.do(t, "GET", "/big.bin", hdr...)
				if hdr == nil {
					wantStatus(t, w, 200)
					if !bytes.Equal(w.Body.Bytes(), data) {
						t.Fatal("streamed body differs from the object")
					}
				} else {
					wantStatus(t, w, 206)
					if !bytes.Equal(w.Body.Bytes(), data[10:20]) {
						t.Fatal("streamed range differs from the object")
					}
				}
			}
			f.h.WaitFills()
			if s := f.h.Stats(); s.DiskFallbacks != 1 || s.DiskFiles != 0 || s.Streamed != 2 {
				t.Errorf("stats = %+v, want 1 disk fallback, no file, 2 streamed responses", s)
			}
			if n := log.disk(); n != 1 {
				t.Errorf("OnError got %d ErrDisk errors, want 1", n)
			}
			if files := tierFiles(t, dir); len(files) != 0 {
				t.Errorf("files left behind: %v", files)
			}
		})
	}
}

// A write that fails in the middle of a fill (the disk filled up, an I/O error) fails the fill,
// not its readers: each continues from S3 with a ranged GET for the bytes it lacks, on the
// same version (If-Match); the file is removed and the next request fills it again.
func TestDiskWriteFailureResumesFromS3(t *testing.T) {
	b := fakeBackend(t)
	data := payload(1 << 20)
	etag := putBytes(t, b, "big.bin", data)
	var log errorLog
	dir := t.TempDir()
	gate := make(chan struct{})
	counted := &counting{Client: &gatedBodies{Client: b.client, after: 300 << 10, gate: gate}}
	h, err := s3cache.New(counted, s3cache.Options{Bucket: b.bucket, DiskDir: dir, MaxObjectSize: 1 << 10, OnError: log.record})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	h.InjectDiskFaults(s3cache.DiskFaults{Write: syscall.EIO, WriteAfter: 500 << 10})

	const n = 5
	writers := make([]*signalWriter, n)
	var wg sync.WaitGroup
	for i := range n {
		writers[i] = &signalWriter{sumWriter: newSumWriter(), at: 300 << 10, reached: make(chan struct{})}
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.ServeHTTP(writers[i], newGet("/big.bin"))
		}()
	}
	for _, w := range writers {
		<-w.reached // every response is reading the fill when the disk fails
	}
	close(gate)
	wg.Wait()
	h.WaitFills()
	want := crc32Of(data)
	for i, w := range writers {
		if w.code != 200 || w.n != int64(len(data)) || w.crc != want {
			t.Errorf("response %d: status %d, %d bytes; want 200 and the whole object", i, w.code, w.n)
		}
	}
	counted.mu.Lock()
	for _, in := range counted.getInputs[1:] {
		if !strings.HasPrefix(aws.ToString(in.Range), "bytes=") || aws.ToString(in.IfMatch) != etag {
			t.Errorf("resumed GET Range %q If-Match %q, want a range on %s", aws.ToString(in.Range), aws.ToString(in.IfMatch), etag)
		}
	}
	counted.mu.Unlock()
	if got := counted.gets.Load(); got != 1+n {
		t.Errorf("S3 GETs = %d, want the fill and one resumption per response (%d)", got, 1+n)
	}
	if s := h.Stats(); s.DiskFallbacks != 1 || s.DiskFiles != 0 || log.disk() != 1 {
		t.Errorf("stats = %+v, %d ErrDisk; want 1 fallback, no file, 1 ErrDisk", s, log.disk())
	}
	if files := tierFiles(t, dir); len(files) != 0 {
		t.Errorf("files left behind: %v", files)
	}
}

// A file that is missing or cut short on disk (another process, a disk error) is detected by
// its size when opened: the response is streamed from S3, the file leaves the tier, and the
// next request fills it again.
func TestDiskCorruptFile(t *testing.T) {
	for _, damage := range []string{"truncated", "removed", "grown"} {
		t.Run(damage, func(t *testing.T) {
			b := fakeBackend(t)
			data := payload(100 << 10)
			putBytes(t, b, "c.bin", data)
			var log errorLog
			dir := t.TempDir()
			f := newDiskFixture(t, b, s3cache.Options{DiskDir: dir, OnError: log.record})
			wantStatus(t, f.do(t, "GET", "/c.bin"), 200)
			f.h.WaitFills()
			files := tierFiles(t, dir)
			if len(files) != 1 {
				t.Fatalf("files = %v", files)
			}
			switch damage {
			case "truncated":
				if err := os.Truncate(files[0], 1000); err != nil {
					t.Fatal(err)
				}
			case "removed":
				if err := os.Remove(files[0]); err != nil {
					t.Fatal(err)
				}
			case "grown":
				mustWrite(t, files[0], append(slices.Clone(data), 'x'))
			}
			for i := range 2 {
				w := f.do(t, "GET", "/c.bin", "Range", "bytes=0-")
				wantStatus(t, w, 206)
				if !bytes.Equal(w.Body.Bytes(), data) {
					t.Fatalf("request %d after the file was %s: body differs from the object", i, damage)
				}
				f.h.WaitFills()
			}
			wantCount(t, "S3 GETs (fill, stream, fill again)", &f.c.gets, 3)
			if s := f.h.Stats(); s.DiskFallbacks != 1 || s.DiskFiles != 1 || log.disk() != 1 {
				t.Errorf("stats = %+v, %d ErrDisk; want 1 fallback, 1 new file, 1 ErrDisk", s, log.disk())
			}
			w := f.do(t, "GET", "/c.bin")
			if !bytes.Equal(w.Body.Bytes(), data) {
				t.Fatal("body from the new file differs from the object")
			}
			wantCount(t, "S3 GETs", &f.c.gets, 3)
		})
	}
}

// RFC 5861 applies to the disk tier as to memory: within stale-while-revalidate the stale file
// is served at once while one background request fetches the new version; within
// stale-if-error the file is served when S3 fails.
func TestDiskStale(t *testing.T) {
	b := fakeBackend(t)
	v1, v2 := payload(50<<10), payload(60<<10)
	putBytes(t, b, "s.bin", v1)
	f := newDiskFixture(t, b, s3cache.Options{TTL: time.Minute, StaleWhileRevalidate: time.Minute, StaleIfError: time.Hour})
	wantStatus(t, f.do(t, "GET", "/s.bin"), 200)
	f.h.WaitFills()
	putBytes(t, b, "s.bin", v2)
	f.clock.Advance(90 * time.Second)
	w := f.do(t, "GET", "/s.bin")
	if !bytes.Equal(w.Body.Bytes(), v1) || w.Header().Get("Age") != "90" {
		t.Fatalf("within stale-while-revalidate: %d bytes, Age %q; want the stale file and Age 90", w.Body.Len(), w.Header().Get("Age"))
	}
	f.h.WaitBackground()
	f.h.WaitFills()
	if w = f.do(t, "GET", "/s.bin"); !bytes.Equal(w.Body.Bytes(), v2) {
		t.Fatal("after the background revalidation, the body is not the new version")
	}

	f.c.failWith(errors.New("connection refused"))
	f.clock.Advance(3 * time.Minute)
	w = f.do(t, "GET", "/s.bin", "Range", "bytes=0-99")
	wantStatus(t, w, 206)
	if !bytes.Equal(w.Body.Bytes(), v2[:100]) || w.Header().Get("Age") == "" {
		t.Fatalf("within stale-if-error: %d bytes, Age %q; want the stale range with an Age", w.Body.Len(), w.Header().Get("Age"))
	}
	f.clock.Advance(2 * time.Hour)
	wantStatus(t, f.do(t, "GET", "/s.bin"), 502)
}

// Close ends the fills in progress and removes the files; the responses that were reading a
// fill get the rest of the object from S3, and the Handler goes on serving without the tier.
func TestDiskCloseDuringFill(t *testing.T) {
	b := fakeBackend(t)
	data := payload(1 << 20)
	putBytes(t, b, "big.bin", data)
	var log errorLog
	dir := t.TempDir()
	gate := make(chan struct{})
	defer close(gate)
	counted := &counting{Client: &gatedBodies{Client: b.client, after: 100 << 10, gate: gate}}
	h, err := s3cache.New(counted, s3cache.Options{Bucket: b.bucket, DiskDir: dir, MaxObjectSize: 1 << 10, OnError: log.record})
	if err != nil {
		t.Fatal(err)
	}
	const n = 3
	writers := make([]*signalWriter, n)
	var wg sync.WaitGroup
	for i := range n {
		writers[i] = &signalWriter{sumWriter: newSumWriter(), at: 100 << 10, reached: make(chan struct{})}
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.ServeHTTP(writers[i], newGet("/big.bin"))
		}()
	}
	for _, w := range writers {
		<-w.reached
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if files := tierFiles(t, dir); len(files) != 0 {
		t.Errorf("files after Close: %v", files)
	}
	wg.Wait()
	for i, w := range writers {
		if w.code != 200 || w.n != int64(len(data)) || w.crc != crc32Of(data) {
			t.Errorf("response %d: status %d, %d bytes; want 200 and the whole object", i, w.code, w.n)
		}
	}
	log.mu.Lock()
	if len(log.errs) != 0 {
		t.Errorf("OnError got %v, want nothing for a fill that Close ended", log.errs)
	}
	log.mu.Unlock()
	w := newSumWriter()
	h.ServeHTTP(w, newGet("/big.bin"))
	if w.code != 200 || w.n != int64(len(data)) {
		t.Errorf("after Close: status %d, %d bytes; want the object, streamed", w.code, w.n)
	}
	if s := h.Stats(); s.DiskFiles != 0 {
		t.Errorf("DiskFiles = %d after Close", s.DiskFiles)
	}
}

// slowBodies wraps a Client so that GetObject bodies arrive in chunks of `chunk` bytes, each
// after `delay`: a slow S3 link.
type slowBodies struct {
	s3cache.Client
	chunk int
	delay time.Duration
}

func (c *slowBodies) GetObject(ctx context.Context, in *s3.GetObjectInput, o ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	out, err := c.Client.GetObject(ctx, in, o...)
	if err == nil {
		out.Body = &slowBody{ReadCloser: out.Body, chunk: c.chunk, delay: c.delay}
	}
	return out, err
}

type slowBody struct {
	io.ReadCloser
	chunk int
	delay time.Duration
}

func (b *slowBody) Read(p []byte) (int, error) {
	time.Sleep(b.delay) // the link's slowness, not synchronisation
	return io.ReadFull(b.ReadCloser, p[:min(len(p), b.chunk)])
}

// FetchTimeout bounds how long a fill may wait for S3 to send more, not the whole transfer:
// an object that keeps coming fills its file even when it takes several FetchTimeouts, and
// one that stops fails its fill, whose readers get the rest with a ranged GET.
func TestDiskFillTimeout(t *testing.T) {
	data := payload(256 << 10)
	t.Run("slow but steady", func(t *testing.T) {
		b := fakeBackend(t)
		putBytes(t, b, "slow.bin", data)
		var log errorLog
		// Gaps of 40 ms against a 400 ms FetchTimeout: a tenfold margin for a loaded machine
		// (race detector, parallel tests), and 16 chunks make the transfer outlast it.
		c := &counting{Client: &slowBodies{Client: b.client, chunk: 16 << 10, delay: 40 * time.Millisecond}}
		h, err := s3cache.New(c, s3cache.Options{Bucket: b.bucket, DiskDir: t.TempDir(), MaxObjectSize: 1 << 10,
			FetchTimeout: 400 * time.Millisecond, OnError: log.record})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = h.Close() })
		start := time.Now()
		w := newSumWriter()
		h.ServeHTTP(w, newGet("/slow.bin"))
		h.WaitFills()
		if w.n != int64(len(data)) || w.crc != crc32Of(data) {
			t.Fatalf("got %d bytes, want the object", w.n)
		}
		if took := time.Since(start); took < 400*time.Millisecond {
			t.Fatalf("the transfer took %v, not longer than FetchTimeout: the test proves nothing", took)
		}
		if s := h.Stats(); s.DiskFiles != 1 || s.S3Errors != 0 || c.gets.Load() != 1 || len(log.errs) != 0 {
			t.Errorf("stats = %+v, %d GETs, errors %v; want one GET filling one file", s, c.gets.Load(), log.errs)
		}
	})
	t.Run("stalled", func(t *testing.T) {
		b := fakeBackend(t)
		putBytes(t, b, "stuck.bin", data)
		var log errorLog
		gate := make(chan struct{}) // never opened: S3 stops after 64 KiB
		c := &counting{Client: &gatedBodies{Client: b.client, after: 64 << 10, gate: gate}}
		h, err := s3cache.New(c, s3cache.Options{Bucket: b.bucket, DiskDir: t.TempDir(), MaxObjectSize: 1 << 10,
			FetchTimeout: 100 * time.Millisecond, OnError: log.record})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = h.Close() })
		w := newSumWriter()
		h.ServeHTTP(w, newGet("/stuck.bin"))
		h.WaitFills()
		if w.n != int64(len(data)) || w.crc != crc32Of(data) {
			t.Fatalf("got %d bytes, want the object (the rest by a ranged GET)", w.n)
		}
		if s := h.Stats(); s.DiskFiles != 0 || s.S3Errors != 1 || c.gets.Load() != 2 || len(log.errs) != 1 {
			t.Errorf("stats = %+v, %d GETs, errors %v; want the fill failed once, no file, and one resumption", s, c.gets.Load(), log.errs)
		}
	})
}
