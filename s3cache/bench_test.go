package s3cache_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/s3cache"
)

// discard is a ResponseWriter that keeps nothing, so benchmarks measure the handlers.
type discard struct {
	h    http.Header
	code int
}

func (w *discard) Header() http.Header         { return w.h }
func (w *discard) Write(p []byte) (int, error) { return len(p), nil }
func (w *discard) WriteHeader(code int)        { w.code = code }

// BenchmarkCacheHit compares a cache hit with http.ServeContent serving the same bytes from
// memory with the same validators, in the same run:
//
//	go test -run '^$' -bench 'CacheHit' -benchmem -count 5 ./s3cache/
func BenchmarkCacheHit(b *testing.B) {
	body := bytes.Repeat([]byte("tollgate "), 4096/9+1)[:4096]
	be := fakeBackend(b)
	etag := be.put(b, "asset.js", string(body))
	h, err := s3cache.New(be.client, s3cache.Options{Bucket: be.bucket, TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	warm := httptest.NewRecorder()
	h.ServeHTTP(warm, httptest.NewRequest("GET", "/asset.js", nil))
	if warm.Code != 200 {
		b.Fatalf("warm-up status %d", warm.Code)
	}
	modTime, _ := http.ParseTime(warm.Header().Get("Last-Modified"))
	serveContent := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Etag", etag)
		hd.Set("Content-Type", "text/plain")
		hd.Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, "asset.js", modTime, bytes.NewReader(body))
	})
	for _, cond := range []struct {
		name   string
		header http.Header
		status int
	}{
		{"200", http.Header{}, 200},
		{"304", http.Header{"If-None-Match": {etag}}, 304},
		{"206", http.Header{"Range": {"bytes=100-199"}}, 206},
	} {
		for _, impl := range []struct {
			name string
			h    http.Handler
		}{{"s3cache", h}, {"ServeContent", serveContent}} {
			b.Run(cond.name+"/"+impl.name, func(b *testing.B) {
				r := httptest.NewRequest("GET", "/asset.js", nil)
				r.Header = cond.header
				w := &discard{h: http.Header{}}
				b.ReportAllocs()
				b.SetBytes(int64(len(body)))
				for b.Loop() {
					clear(w.h)
					impl.h.ServeHTTP(w, r)
				}
				if w.code != cond.status {
					b.Fatalf("status %d, want %d", w.code, cond.status)
				}
			})
		}
	}
}

// BenchmarkS3BytesPerRequest reports the object bytes S3 sends per client request for a 64 KiB
// object: when every request must fetch it (larger than MaxObjectSize, so nothing is cached),
// when every request revalidates a cached copy (TTL < 0: S3 answers 304), and when the cached
// copy is fresh:
//
//	go test -run '^$' -bench 'S3BytesPerRequest' -benchmem ./s3cache/
func BenchmarkS3BytesPerRequest(b *testing.B) {
	body := strings.Repeat("x", 64<<10)
	for _, tc := range []struct {
		name string
		opts s3cache.Options
	}{
		{"full-get-every-request", s3cache.Options{MaxObjectSize: 1 << 10}},
		{"revalidate-every-request", s3cache.Options{TTL: -1}},
		{"fresh-hit", s3cache.Options{TTL: time.Hour}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			be := fakeBackend(b)
			be.put(b, "big.css", body)
			f := newFixture(b, be, tc.opts)
			f.h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/big.css", nil))
			calls0, bytes0 := f.c.gets.Load(), f.c.bodyBytes.Load()
			r := httptest.NewRequest("GET", "/big.css", nil)
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				clear(w.h)
				f.h.ServeHTTP(w, r)
				n++
			}
			if w.code != 200 {
				b.Fatalf("status %d", w.code)
			}
			b.ReportMetric(float64(f.c.bodyBytes.Load()-bytes0)/float64(n), "s3-bytes/op")
			b.ReportMetric(float64(f.c.gets.Load()-calls0)/float64(n), "s3-calls/op")
		})
	}
}

// BenchmarkDiskHit serves an object from the disk tier (a file of the size of the object)
// and compares it with http.ServeContent serving the same file, opened per request as
// http.FileServer does, with the same validators. In process, the writer has no ReadFrom, so
// both copy through a buffer; the tcp cases go through a loopback connection and an
// http.Client, where net/http sends both files with sendfile(2):
//
//	go test -run '^$' -bench 'DiskHit' -benchmem -count 5 ./s3cache/
func BenchmarkDiskHit(b *testing.B) {
	for _, size := range []int{2 << 20, 16 << 20} {
		data := payload(size)
		be := fakeBackend(b)
		etag := putBytes(b, be, "video.mp4", data)
		dir := b.TempDir()
		h, err := s3cache.New(be.client, s3cache.Options{Bucket: be.bucket, TTL: time.Hour, DiskDir: dir, DiskMaxBytes: 1 << 30})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = h.Close() })
		warm := newSumWriter()
		h.ServeHTTP(warm, newGet("/video.mp4"))
		h.WaitFills()
		files := tierFiles(b, dir)
		if warm.code != 200 || len(files) != 1 {
			b.Fatalf("warm-up: status %d, files %v", warm.code, files)
		}
		modTime, _ := http.ParseTime(warm.h.Get("Last-Modified"))
		serveFile := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f, err := os.Open(files[0])
			if err != nil {
				http.Error(w, "open", 500)
				return
			}
			defer f.Close()
			hd := w.Header()
			hd.Set("Etag", etag)
			hd.Set("Content-Type", "application/octet-stream")
			hd.Set("Cache-Control", "no-cache")
			http.ServeContent(w, r, "video.mp4", modTime, f)
		})
		for _, cond := range []struct {
			name   string
			header http.Header
			status int
			bytes  int
		}{
			{"200", http.Header{}, 200, size},
			{"206", http.Header{"Range": {"bytes=1048576-1114111"}}, 206, 64 << 10},
			{"304", http.Header{"If-None-Match": {etag}}, 304, 0},
		} {
			for _, impl := range []struct {
				name string
				h    http.Handler
			}{{"s3cache", h}, {"ServeContent", serveFile}} {
				b.Run(fmt.Sprintf("%dMiB/%s/%s", size>>20, cond.name, impl.name), func(b *testing.B) {
					r := newGet("/video.mp4")
					r.Header = cond.header
					w := &discard{h: http.Header{}}
					b.ReportAllocs()
					b.SetBytes(int64(cond.bytes))
					for b.Loop() {
						clear(w.h)
						impl.h.ServeHTTP(w, r)
					}
					if w.code != cond.status {
						b.Fatalf("status %d, want %d", w.code, cond.status)
					}
				})
			}
		}
		if size < 16<<20 {
			continue
		}
		for _, impl := range []struct {
			name string
			h    http.Handler
		}{{"s3cache", h}, {"ServeContent", serveFile}} {
			b.Run(fmt.Sprintf("%dMiB/200-tcp/%s", size>>20, impl.name), func(b *testing.B) {
				srv := httptest.NewServer(impl.h)
				defer srv.Close()
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					resp, err := srv.Client().Get(srv.URL + "/video.mp4")
					if err != nil {
						b.Fatal(err)
					}
					n, _ := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || n != int64(size) {
						b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
					}
				}
			})
		}
	}
}
