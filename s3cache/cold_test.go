package s3cache_test

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tollgate-go/tollgate/internal/testenv"
	"github.com/tollgate-go/tollgate/s3cache"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// payload returns n deterministic bytes with no short period (xorshift64), so that a byte
// served from the wrong offset changes the checksum.
func payload(n int) []byte {
	b := make([]byte, n)
	x := uint64(0x9e3779b97f4a7c15)
	for i := 0; i < n; i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(x >> (8 * j))
		}
	}
	return b
}

func putBytes(t testing.TB, b *backend, key string, data []byte) string {
	t.Helper()
	out, err := b.client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &b.bucket, Key: &key,
		Body: bytes.NewReader(data), ContentType: aws.String("application/octet-stream")})
	if err != nil {
		t.Fatalf("put %s (%d bytes): %v", key, len(data), err)
	}
	return aws.ToString(out.ETag)
}

// sumWriter is a ResponseWriter that keeps a checksum and a count of the body, not the body,
// so that a hundred 64 MiB responses cost no memory.
type sumWriter struct {
	h    http.Header
	code int
	n    int64
	crc  uint32
}

func newSumWriter() *sumWriter { return &sumWriter{h: http.Header{}} }

func (w *sumWriter) Header() http.Header  { return w.h }
func (w *sumWriter) WriteHeader(code int) { w.code = code }
func (w *sumWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.crc = crc32.Update(w.crc, castagnoli, p)
	w.n += int64(len(p))
	return len(p), nil
}

func TestColdConcurrentGofakes3(t *testing.T) { runColdConcurrent(t, fakeBackend(t)) }

func TestColdConcurrentVersitygw(t *testing.T) {
	testenv.S3Endpoint(t) // fails under the test command when versitygw is missing, else skips
	runColdConcurrent(t, versityBackend(t))
}

// 100 concurrent cold requests for one object make one S3 GET that transfers the object once,
// at every size: 4 KiB is cached in memory, 2 MiB and 64 MiB in the disk tier, where the
// hundred responses read the file while the one fill writes it.
func runColdConcurrent(t *testing.T, b *backend) {
	const n = 100
	for _, size := range []int{4 << 10, 2 << 20, 64 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := payload(size)
			key := fmt.Sprintf("cold-%d.bin", size)
			putBytes(t, b, key, data)
			want := crc32.Checksum(data, castagnoli)
			data = nil // the 64 MiB copy is not needed any more

			f := newFixture(t, b, s3cache.Options{DiskDir: t.TempDir(), DiskMaxBytes: 256 << 20})
			t.Cleanup(func() { _ = f.h.Close() })
			f.c.gate = make(chan struct{})
			start := time.Now()
			writers := make([]*sumWriter, n)
			var wg sync.WaitGroup
			for i := range n {
				writers[i] = newSumWriter()
				wg.Add(1)
				go func() {
					defer wg.Done()
					f.h.ServeHTTP(writers[i], httptest.NewRequest("GET", "/"+key, nil))
				}()
			}
			// The one GetObject waits at the gate until every request has missed the cache
			// and waits for it, so all hundred are cold and concurrent.
			for f.h.Stats().Misses < n {
				runtime.Gosched()
			}
			close(f.c.gate)
			wg.Wait()
			elapsed := time.Since(start)
			f.h.WaitFills()
			for i, w := range writers {
				if w.code != 200 || w.n != int64(size) || w.crc != want {
					t.Fatalf("response %d: status %d, %d bytes, crc %08x; want 200, %d bytes, crc %08x", i, w.code, w.n, w.crc, size, want)
				}
			}
			gets, fromS3 := f.c.gets.Load(), f.c.bodyBytes.Load()
			t.Logf("s3cache-cold: size=%d concurrent=%d s3_gets=%d bytes_from_s3=%d", size, n, gets, fromS3)
			t.Logf("(%s: %d responses of %d bytes in %v)", b.name, n, size, elapsed.Round(time.Millisecond))
			if gets != 1 || fromS3 != int64(size) {
				t.Errorf("s3_gets=%d bytes_from_s3=%d, want 1 and %d", gets, fromS3, size)
			}
			s := f.h.Stats()
			if size > s3cache.DefaultMaxObjectSize && (s.DiskHits != n || s.DiskFiles != 1 || s.DiskBytes != int64(size)) {
				t.Errorf("stats = %+v, want %d disk hits from one file of %d bytes", s, n, size)
			}
		})
	}
}

// gatedBodies wraps a Client so that the body of the first GetObject stops after `after` bytes
// until gate is closed.
type gatedBodies struct {
	s3cache.Client
	after int64
	gate  chan struct{}
	used  atomic.Bool
}

func (c *gatedBodies) GetObject(ctx context.Context, in *s3.GetObjectInput, o ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	out, err := c.Client.GetObject(ctx, in, o...)
	if err == nil && !c.used.Swap(true) {
		out.Body = &heldBody{ReadCloser: out.Body, left: c.after, gate: c.gate, ctx: ctx}
	}
	return out, err
}

type heldBody struct {
	io.ReadCloser
	left int64
	gate chan struct{}
	ctx  context.Context // a canceled request ends the wait, as a real body's read would
}

func (b *heldBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		select {
		case <-b.gate:
		case <-b.ctx.Done():
			return 0, b.ctx.Err()
		}
		return b.ReadCloser.Read(p)
	}
	n, err := b.ReadCloser.Read(p[:min(int64(len(p)), b.left)])
	b.left -= int64(n)
	return n, err
}

// signalWriter closes reached when the body it received reaches at bytes.
type signalWriter struct {
	*sumWriter
	at      int64
	reached chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	before := w.n
	n, err := w.sumWriter.Write(p)
	if before < w.at && w.n >= w.at {
		close(w.reached)
	}
	return n, err
}

// Requests that share a fill receive the bytes S3 has sent so far while the rest is still on
// its way: with the S3 body held after its first MiB, every one of ten concurrent responses
// has that MiB, and the one S3 GET is still open.
func TestDiskFillStreamsToWaiters(t *testing.T) {
	b := fakeBackend(t)
	const size, first, n = 4 << 20, 1 << 20, 10
	data := payload(size)
	putBytes(t, b, "video.mp4", data)
	gate := make(chan struct{})
	counted := &counting{Client: &gatedBodies{Client: b.client, after: first, gate: gate}}
	h, err := s3cache.New(counted, s3cache.Options{Bucket: b.bucket, DiskDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })

	writers := make([]*signalWriter, n)
	var wg sync.WaitGroup
	for i := range n {
		writers[i] = &signalWriter{sumWriter: newSumWriter(), at: first, reached: make(chan struct{})}
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.ServeHTTP(writers[i], httptest.NewRequest("GET", "/video.mp4", nil))
		}()
	}
	timeout := time.After(time.Minute) // a failure guard, not synchronisation
	for i, w := range writers {
		select {
		case <-w.reached:
		case <-timeout:
			t.Fatalf("response %d did not receive the first %d bytes while S3 held the rest", i, first)
		}
	}
	if got := counted.bodyBytes.Load(); got != first {
		t.Errorf("S3 sent %d bytes before the gate opened, want %d", got, first)
	}
	close(gate)
	wg.Wait()
	want := crc32.Checksum(data, castagnoli)
	for i, w := range writers {
		if w.code != 200 || w.n != size || w.crc != want {
			t.Errorf("response %d: status %d, %d bytes; want 200 and the whole object (%d bytes)", i, w.code, w.n, size)
		}
	}
	wantCount(t, "S3 GETs", &counted.gets, 1)
}

func newGet(target string) *http.Request { return httptest.NewRequest("GET", target, nil) }

func crc32Of(data []byte) uint32 { return crc32.Checksum(data, castagnoli) }
