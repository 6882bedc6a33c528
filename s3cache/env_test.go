package s3cache_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/tollgate-go/tollgate/internal/testenv"
	"github.com/tollgate-go/tollgate/s3cache"
)

// backend is one S3 implementation the suite runs against, with a fresh bucket.
type backend struct {
	name   string
	client *s3.Client
	bucket string
	// gofakes3 gaps (DESIGN.md, "Local servers for tests"): it ignores If-Match and
	// If-Unmodified-Since on GET and conditions on DELETE.
	getIfMatch        bool
	conditionalDelete bool
	// gofakes3 does not store Cache-Control.
	storesCacheControl bool
}

// newS3Client builds a client for a local S3-compatible endpoint: static credentials,
// path-style addressing, and no SDK retries so that tests count exactly the calls made.
func newS3Client(endpoint, accessKey, secretKey string) *s3.Client {
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
		o.RetryMaxAttempts = 1
	})
}

// fakeBackend starts gofakes3 with its in-memory backend on an httptest server.
func fakeBackend(t testing.TB) *backend {
	t.Helper()
	mem := s3mem.New()
	srv := httptest.NewServer(gofakes3.New(mem, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	t.Cleanup(srv.Close)
	if err := mem.CreateBucket("assets"); err != nil {
		t.Fatal(err)
	}
	return &backend{name: "gofakes3", client: newS3Client(srv.URL, "key", "secret"), bucket: "assets"}
}

// versityBackend creates a bucket on the shared versitygw that the test command started.
func versityBackend(t testing.TB) *backend {
	t.Helper()
	ep := testenv.S3Endpoint(t)
	return versityOn(t, ep)
}

func versityOn(t testing.TB, ep testenv.S3) *backend {
	t.Helper()
	c := newS3Client(ep.Endpoint, ep.AccessKey, ep.SecretKey)
	bucket := testenv.UniqueName("s3cache")
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatalf("create bucket %s on versitygw: %v", bucket, err)
	}
	return &backend{name: "versitygw", client: c, bucket: bucket, getIfMatch: true, conditionalDelete: true, storesCacheControl: true}
}

func (b *backend) put(t testing.TB, key, body string, opts ...func(*s3.PutObjectInput)) string {
	t.Helper()
	in := &s3.PutObjectInput{Bucket: &b.bucket, Key: &key, Body: strings.NewReader(body), ContentType: aws.String("text/plain")}
	for _, o := range opts {
		o(in)
	}
	out, err := b.client.PutObject(context.Background(), in)
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return aws.ToString(out.ETag)
}

// counting wraps a Client: it counts calls and body bytes, records GetObject inputs, and
// can fail calls on demand.
type counting struct {
	s3cache.Client
	gets, heads, puts, deletes atomic.Int64
	bodyBytes                  atomic.Int64
	mu                         sync.Mutex
	getInputs                  []s3.GetObjectInput
	fail                       atomic.Pointer[error]
	// gate, when set, is received from before each GetObject reaches S3.
	gate chan struct{}
}

func (c *counting) failWith(err error) {
	if err == nil {
		c.fail.Store(nil)
		return
	}
	c.fail.Store(&err)
}

func (c *counting) injected() error {
	if p := c.fail.Load(); p != nil {
		return *p
	}
	return nil
}

func (c *counting) GetObject(ctx context.Context, in *s3.GetObjectInput, o ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	c.gets.Add(1)
	c.mu.Lock()
	c.getInputs = append(c.getInputs, *in)
	c.mu.Unlock()
	if c.gate != nil {
		<-c.gate
	}
	if err := c.injected(); err != nil {
		return nil, err
	}
	out, err := c.Client.GetObject(ctx, in, o...)
	if err == nil {
		out.Body = &countingBody{ReadCloser: out.Body, n: &c.bodyBytes}
	}
	return out, err
}

func (c *counting) HeadObject(ctx context.Context, in *s3.HeadObjectInput, o ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	c.heads.Add(1)
	if err := c.injected(); err != nil {
		return nil, err
	}
	return c.Client.HeadObject(ctx, in, o...)
}

func (c *counting) PutObject(ctx context.Context, in *s3.PutObjectInput, o ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	c.puts.Add(1)
	if err := c.injected(); err != nil {
		return nil, err
	}
	return c.Client.PutObject(ctx, in, o...)
}

func (c *counting) DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, o ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	c.deletes.Add(1)
	return c.Client.DeleteObject(ctx, in, o...)
}

func (c *counting) lastGet(t testing.TB) s3.GetObjectInput {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.getInputs) == 0 {
		t.Fatal("no GetObject call was made")
	}
	return c.getInputs[len(c.getInputs)-1]
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// httpError is an S3 error with an HTTP status, as the SDK returns it.
func httpError(status int, msg string) error {
	return &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status, Header: http.Header{}}},
		Err:      errors.New(msg),
	}
}

// clock is a fake clock for TTL tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fixture is a Handler over a counting client over a backend.
type fixture struct {
	b     *backend
	c     *counting
	h     *s3cache.Handler
	clock *clock
}

func newFixture(t testing.TB, b *backend, opts s3cache.Options) *fixture {
	t.Helper()
	f := &fixture{b: b, c: &counting{Client: b.client}, clock: newClock()}
	opts.Bucket = b.bucket
	if opts.Now == nil {
		opts.Now = f.clock.Now
	}
	h, err := s3cache.New(f.c, opts)
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	return f
}

// do sends one request through the Handler; hdr holds name, value pairs.
func (f *fixture) do(t testing.TB, method, target string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	return f.doBody(t, method, target, nil, hdr...)
}

func (f *fixture) doBody(t testing.TB, method, target string, body []byte, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	return w
}

func wantStatus(t testing.TB, w *httptest.ResponseRecorder, status int) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d, want %d (body %q, header %v)", w.Code, status, w.Body.String(), w.Header())
	}
}

func wantHeader(t testing.TB, w *httptest.ResponseRecorder, name, want string) {
	t.Helper()
	if got := w.Header().Get(name); got != want {
		t.Errorf("%s = %q, want %q", name, got, want)
	}
}

func wantCount(t testing.TB, what string, got *atomic.Int64, want int64) {
	t.Helper()
	if n := got.Load(); n != want {
		t.Errorf("%s = %d, want %d", what, n, want)
	}
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
