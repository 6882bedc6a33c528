package s3cachefiber_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"
	"github.com/gofiber/fiber/v2/middleware/timeout"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/tollgate-go/tollgate/adapters/fiber/s3cachefiber"
	"github.com/tollgate-go/tollgate/s3cache"
)

// newS3Client builds a client for a local S3-compatible endpoint as s3cache's own tests do:
// static credentials, path-style addressing, BaseEndpoint, and no SDK retries so that tests
// count exactly the calls made. It is built from an aws.Config, not config.LoadDefaultConfig,
// so AWS_CA_BUNDLE and the rest of the environment do not apply.
func newS3Client(endpoint string) *s3.Client {
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("key", "secret", ""),
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
		o.RetryMaxAttempts = 1
	})
}

// startS3 starts gofakes3 (in memory, in process) behind an httptest server, with a bucket
// named "assets".
func startS3(t testing.TB) *s3.Client {
	t.Helper()
	mem := s3mem.New()
	if err := mem.CreateBucket("assets"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(mem, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	t.Cleanup(srv.Close)
	return newS3Client(srv.URL)
}

func put(t testing.TB, c *s3.Client, key string, body []byte, ctype string) string {
	t.Helper()
	out, err := c.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String("assets"), Key: aws.String(key), Body: bytes.NewReader(body), ContentType: aws.String(ctype),
	})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return aws.ToString(out.ETag)
}

// counting wraps the S3 client: it counts GetObject calls and the object bodies opened and
// closed, and records whether the request's context carried ctxKey.
type counting struct {
	s3cache.Client
	gets, heads, opened, closed atomic.Int64
	sawValue                    atomic.Bool
}

type ctxKey struct{}

func (c *counting) GetObject(ctx context.Context, in *s3.GetObjectInput, o ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	c.gets.Add(1)
	if ctx.Value(ctxKey{}) != nil {
		c.sawValue.Store(true)
	}
	out, err := c.Client.GetObject(ctx, in, o...)
	if err == nil {
		c.opened.Add(1)
		out.Body = &countingBody{ReadCloser: out.Body, closed: &c.closed}
	}
	return out, err
}

func (c *counting) HeadObject(ctx context.Context, in *s3.HeadObjectInput, o ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	c.heads.Add(1)
	return c.Client.HeadObject(ctx, in, o...)
}

// wantAllClosed fails unless every S3 object body opened so far was closed: no S3 request is
// left open behind a response.
func (c *counting) wantAllClosed(t testing.TB) {
	t.Helper()
	if o, cl := c.opened.Load(), c.closed.Load(); o != cl {
		t.Errorf("S3 bodies opened %d, closed %d", o, cl)
	}
}

type countingBody struct {
	io.ReadCloser
	closed *atomic.Int64
	done   atomic.Bool
}

func (b *countingBody) Close() error {
	if b.done.CompareAndSwap(false, true) {
		b.closed.Add(1)
	}
	return b.ReadCloser.Close()
}

// fixture is an s3cache.Handler over gofakes3, behind a counting client.
type fixture struct {
	s3 *s3.Client
	c  *counting
	h  *s3cache.Handler
}

func newFixture(t testing.TB, opts s3cache.Options) *fixture {
	t.Helper()
	client := startS3(t)
	c := &counting{Client: client}
	opts.Bucket = "assets"
	h, err := s3cache.New(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{s3: client, c: c, h: h}
}

func newApp(cfg ...fiber.Config) *fiber.App {
	c := fiber.Config{DisableStartupMessage: true}
	if len(cfg) > 0 {
		c = cfg[0]
		c.DisableStartupMessage = true
	}
	return fiber.New(c)
}

// conn is one client connection into a Fiber app: the request's bytes to read and the
// response's bytes written. Writes fail once failAfter bytes have been written, when it is
// positive: a client that goes away.
type conn struct {
	r         bytes.Buffer
	w         bytes.Buffer
	failAfter int
}

var errGone = errors.New("client went away")

func (c *conn) Read(b []byte) (int, error) { return c.r.Read(b) }
func (c *conn) Write(b []byte) (int, error) {
	if c.failAfter > 0 && c.w.Len()+len(b) > c.failAfter {
		n, _ := c.w.Write(b[:c.failAfter-c.w.Len()])
		return n, errGone
	}
	return c.w.Write(b)
}
func (c *conn) Close() error                     { return nil }
func (c *conn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }
func (c *conn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1234} }
func (c *conn) SetDeadline(time.Time) error      { return nil }
func (c *conn) SetReadDeadline(time.Time) error  { return nil }
func (c *conn) SetWriteDeadline(time.Time) error { return nil }

// result is a response read back from the wire.
type result struct {
	status int
	header http.Header
	body   []byte
	raw    []byte // every byte the server wrote
}

// do sends one raw HTTP/1.1 request through the app's own fasthttp server. target goes on
// the request line exactly as given, so encoded and dot segments reach the server unchanged;
// headers are name, value pairs. The response has been written completely, and a streamed
// body closed, when do returns.
func do(t testing.TB, app *fiber.App, method, target string, headers ...string) *result {
	t.Helper()
	return doBody(t, app, method, target, "", headers...)
}

func doBody(t testing.TB, app *fiber.App, method, target, body string, headers ...string) *result {
	t.Helper()
	app.Handler() // builds the routing tree, as app.Test and app.Listen do first
	r, err := serve(app, method, target, body, headers...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	return r
}

// serve is doBody for any goroutine: it returns errors instead of failing the test. The
// app's routing tree must be built.
func serve(app *fiber.App, method, target, body string, headers ...string) (*result, error) {
	c := &conn{}
	fmt.Fprintf(&c.r, "%s %s HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n", method, target)
	for i := 0; i+1 < len(headers); i += 2 {
		fmt.Fprintf(&c.r, "%s: %s\r\n", headers[i], headers[i+1])
	}
	if body != "" {
		fmt.Fprintf(&c.r, "Content-Length: %d\r\n", len(body))
	}
	c.r.WriteString("\r\n" + body)
	if err := app.Server().ServeConn(c); err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	raw := bytes.Clone(c.w.Bytes())
	res, err := http.ReadResponse(bufio.NewReader(&c.w), &http.Request{Method: method})
	if err != nil {
		return nil, fmt.Errorf("read response: %w\n%s", err, raw)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return &result{status: res.StatusCode, header: res.Header, body: b, raw: raw}, nil
}

func (r *result) want(t testing.TB, status int, kv ...string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %q", r.status, status, r.body)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if got := r.header.Get(kv[i]); got != kv[i+1] {
			t.Errorf("%s = %q, want %q", kv[i], got, kv[i+1])
		}
	}
}

func (r *result) wantBody(t testing.TB, body string) {
	t.Helper()
	if string(r.body) != body {
		t.Errorf("body = %q, want %q", r.body, body)
	}
}

func (r *result) wantAbsent(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if v, ok := r.header[http.CanonicalHeaderKey(n)]; ok {
			t.Errorf("%d response carries %s: %q", r.status, n, v)
		}
	}
}

func assets(h *s3cache.Handler) *fiber.App {
	app := newApp()
	app.Get("/assets/*", s3cachefiber.Handler(h, s3cachefiber.Config{StripPrefix: "/assets"}))
	return app
}

// 200, then 304 for the client's If-None-Match, answered from the cache: one S3 GET, and the
// handler's counters show the hit.
func TestNotModified(t *testing.T) {
	t.Parallel()
	f := newFixture(t, s3cache.Options{Prefix: "site/"})
	etag := put(t, f.s3, "site/app.js", []byte("console.log(1)"), "text/javascript")
	app := assets(f.h)

	r := do(t, app, "GET", "/assets/app.js")
	r.want(t, 200, "ETag", etag, "Content-Type", "text/javascript", "Content-Length", "14",
		"Accept-Ranges", "bytes", "Cache-Control", "no-cache")
	r.wantBody(t, "console.log(1)")
	if r.header.Get("Last-Modified") == "" {
		t.Error("Last-Modified missing")
	}

	r = do(t, app, "GET", "/assets/app.js", "If-None-Match", `W/"other", `+etag)
	r.want(t, 304, "ETag", etag, "Cache-Control", "no-cache")
	r.wantAbsent(t, "Content-Type", "Content-Length", "Content-Encoding", "Last-Modified", "Accept-Ranges")
	r.wantBody(t, "")
	if !bytes.HasSuffix(r.raw, []byte("\r\n\r\n")) {
		t.Errorf("304 has bytes after its header:\n%s", r.raw)
	}

	r = do(t, app, "GET", "/assets/app.js", "If-Match", `"stale"`)
	r.want(t, 412, "X-Content-Type-Options", "nosniff")

	if n := f.c.gets.Load(); n != 1 {
		t.Errorf("S3 GETs = %d, want 1", n)
	}
	if s := f.h.Stats(); s.Misses != 1 || s.Hits != 2 || s.ClientNotModified != 1 {
		t.Errorf("stats = %+v, want 1 miss, 2 hits, 1 client 304", s)
	}
	f.c.wantAllClosed(t)
}

// HEAD (registered by app.Get) carries the object's Content-Length and no body; Range gives
// 206 with Content-Range, a bad range 416.
func TestHeadAndRange(t *testing.T) {
	t.Parallel()
	f := newFixture(t, s3cache.Options{})
	etag := put(t, f.s3, "r.txt", []byte("0123456789"), "text/plain")
	app := assets(f.h)

	r := do(t, app, "HEAD", "/assets/r.txt")
	r.want(t, 200, "Content-Length", "10", "ETag", etag, "Accept-Ranges", "bytes", "Content-Type", "text/plain")
	if !bytes.HasSuffix(r.raw, []byte("\r\n\r\n")) {
		t.Errorf("HEAD response has a body:\n%s", r.raw)
	}

	r = do(t, app, "GET", "/assets/r.txt", "Range", "bytes=2-4")
	r.want(t, 206, "Content-Range", "bytes 2-4/10", "Content-Length", "3", "ETag", etag)
	r.wantBody(t, "234")

	r = do(t, app, "GET", "/assets/r.txt", "Range", "bytes=2-4", "If-Range", etag)
	r.want(t, 206)
	r.wantBody(t, "234")
	r = do(t, app, "GET", "/assets/r.txt", "Range", "bytes=2-4", "If-Range", `"other"`)
	r.want(t, 200)
	r.wantBody(t, "0123456789")

	r = do(t, app, "GET", "/assets/r.txt", "Range", "bytes=10-")
	r.want(t, 416, "Content-Range", "bytes */10")

	r = do(t, app, "HEAD", "/assets/missing.txt")
	r.want(t, 404)
	r.wantBody(t, "")
	if n := f.c.heads.Load(); n != 0 {
		t.Errorf("S3 HEADs = %d, want 0: a cached object's HEAD is answered locally", n)
	}
	f.c.wantAllClosed(t)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{1})
	_, _ = r.Read(b)
	return b
}

// An object above MaxObjectSize is streamed from S3 into fasthttp's body stream, never
// buffered: the bytes arrive intact and S3's body is closed once they are written. The
// handler runs under timeout.NewWithContext, which cancels its context when the handler
// returns, before fasthttp writes the body: the stream must outlive that. The context's
// values still reach the S3 call.
func TestStreamedLargeObject(t *testing.T) {
	t.Parallel()
	const size = 300 << 10
	f := newFixture(t, s3cache.Options{MaxObjectSize: 64 << 10})
	body := randomBytes(size)
	etag := put(t, f.s3, "big.bin", body, "application/octet-stream")

	app := newApp()
	app.Use(func(c *fiber.Ctx) error {
		c.SetUserContext(context.WithValue(c.UserContext(), ctxKey{}, "request-scoped"))
		return c.Next()
	})
	app.Get("/assets/*", timeout.NewWithContext(s3cachefiber.Handler(f.h, s3cachefiber.Config{StripPrefix: "/assets"}), time.Minute))

	for i := range 2 { // the first request leads the fetch; the second opens its own stream
		r := do(t, app, "GET", "/assets/big.bin")
		r.want(t, 200, "Content-Length", fmt.Sprint(size), "ETag", etag, "Content-Type", "application/octet-stream")
		if !bytes.Equal(r.body, body) {
			t.Fatalf("request %d: streamed body differs: %d bytes, want %d", i, len(r.body), size)
		}
		f.c.wantAllClosed(t)
	}
	if !f.c.sawValue.Load() {
		t.Error("the S3 call did not get c.UserContext()")
	}
	if s := f.h.Stats(); s.Streamed != 2 || s.Bytes >= size {
		t.Errorf("stats = %+v: want 2 streamed responses and no buffered body", s)
	}

	// Range and conditionals are forwarded to S3, whose 206 and 304 pass through.
	r := do(t, app, "GET", "/assets/big.bin", "Range", "bytes=1000-1999")
	r.want(t, 206, "Content-Range", fmt.Sprintf("bytes 1000-1999/%d", size), "Content-Length", "1000")
	if !bytes.Equal(r.body, body[1000:2000]) {
		t.Errorf("range body differs (%d bytes)", len(r.body))
	}
	r = do(t, app, "GET", "/assets/big.bin", "If-None-Match", etag)
	r.want(t, 304, "ETag", etag)
	r.wantBody(t, "")

	r = do(t, app, "HEAD", "/assets/big.bin")
	r.want(t, 200, "Content-Length", fmt.Sprint(size))
	if !bytes.HasSuffix(r.raw, []byte("\r\n\r\n")) {
		t.Errorf("HEAD response has a body (%d bytes on the wire)", len(r.raw))
	}
	f.c.wantAllClosed(t)
}

// A client that goes away in the middle of a streamed body: fasthttp closes the stream, which
// ends the S3 request.
func TestStreamClosedWhenClientGoesAway(t *testing.T) {
	t.Parallel()
	f := newFixture(t, s3cache.Options{MaxObjectSize: 1 << 10})
	put(t, f.s3, "big.bin", randomBytes(256<<10), "application/octet-stream")
	app := assets(f.h)
	app.Handler()

	c := &conn{failAfter: 10 << 10}
	c.r.WriteString("GET /assets/big.bin HTTP/1.1\r\nHost: example.com\r\n\r\n")
	if err := app.Server().ServeConn(c); !errors.Is(err, errGone) {
		t.Errorf("ServeConn = %v, want the write error", err)
	}
	if f.c.opened.Load() == 0 {
		t.Fatal("no S3 body was opened")
	}
	f.c.wantAllClosed(t)
}

// Paths are refused by s3cache on their encoded form: dot segments, encoded slashes and
// backslashes, and absolute keys never reach outside the prefix, whether Fiber routes on the
// encoded path (the default) or on the decoded one (UnescapePath).
func TestTraversal(t *testing.T) {
	t.Parallel()
	f := newFixture(t, s3cache.Options{Prefix: "public/"})
	put(t, f.s3, "secret.txt", []byte("top secret"), "text/plain")
	put(t, f.s3, "public/ok.txt", []byte("ok"), "text/plain")

	for _, cfg := range []fiber.Config{{}, {UnescapePath: true}} {
		app := newApp(cfg)
		app.All("/assets/*", s3cachefiber.Handler(f.h, s3cachefiber.Config{StripPrefix: "/assets"}))
		do(t, app, "GET", "/assets/ok.txt").wantBody(t, "ok")
		for _, target := range []string{
			"/assets/../secret.txt",
			"/assets/..%2fsecret.txt",
			"/assets/..%2Fsecret.txt",
			"/assets/%2e%2e/secret.txt",
			"/assets/%2E%2E%2Fsecret.txt",
			"/assets/x/%2e%2e/%2e%2e/secret.txt",
			"/assets/..%5csecret.txt",
			"/assets/%2e%2e%5csecret.txt",
			"/assets/x/..\\..\\secret.txt",
			"/assets//secret.txt",
			"/assets/%2fsecret.txt",
			"/assets/ok.txt%00",
		} {
			r := do(t, app, "GET", target)
			if r.status != 400 {
				t.Errorf("UnescapePath=%v GET %s: status %d, want 400 (body %q)", cfg.UnescapePath, target, r.status, r.body)
			}
			if bytes.Contains(r.body, []byte("secret")) {
				t.Errorf("GET %s leaked the secret", target)
			}
		}
	}
	if n := f.c.gets.Load(); n != 1 {
		t.Errorf("S3 GETs = %d, want 1 (only ok.txt, once): a refused path never reaches S3", n)
	}
}

// Other methods get what s3cache gives: 405 with Allow, when the handler is mounted with
// app.All or app.Use.
func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, s3cache.Options{})
	put(t, f.s3, "a.txt", []byte("a"), "text/plain")
	all := newApp()
	all.All("/assets/*", s3cachefiber.Handler(f.h, s3cachefiber.Config{StripPrefix: "/assets"}))
	use := newApp()
	use.Use(s3cachefiber.Handler(f.h, s3cachefiber.Config{StripPrefix: "/assets"}))
	for _, app := range []*fiber.App{all, use} {
		for _, m := range []string{"POST", "DELETE", "PUT", "PATCH", "OPTIONS"} {
			r := do(t, app, m, "/assets/a.txt")
			r.want(t, 405, "Allow", "GET, HEAD", "X-Content-Type-Options", "nosniff", "Content-Type", "text/plain; charset=utf-8")
			r.wantBody(t, "Method Not Allowed\n")
		}
		do(t, app, "GET", "/assets/a.txt").wantBody(t, "a")
	}
	if n := f.c.gets.Load(); n != 1 {
		t.Errorf("S3 GETs = %d, want 1", n)
	}
}

// With app.Use, StripPrefix is a mount point: paths under it are served (case-insensitively
// unless the app is CaseSensitive), others go to the next handler, as do requests Next skips.
func TestStripPrefixAndNext(t *testing.T) {
	t.Parallel()
	f := newFixture(t, s3cache.Options{IndexDocument: "index.html"})
	put(t, f.s3, "ok.txt", []byte("ok"), "text/plain")
	put(t, f.s3, "index.html", []byte("<h1>home</h1>"), "text/html")

	mount := func(cfg fiber.Config) *fiber.App {
		app := newApp(cfg)
		app.Use(s3cachefiber.Handler(f.h, s3cachefiber.Config{
			StripPrefix: "/static/",
			Next:        func(c *fiber.Ctx) bool { return c.Get("X-Skip") != "" },
		}))
		app.All("/*", func(c *fiber.Ctx) error { return c.SendString("next " + c.Path()) })
		return app
	}
	app := mount(fiber.Config{})
	do(t, app, "GET", "/static/ok.txt").wantBody(t, "ok")
	do(t, app, "GET", "/STATIC/ok.txt").wantBody(t, "ok")
	do(t, app, "GET", "/static/").wantBody(t, "<h1>home</h1>")
	do(t, app, "GET", "/static").wantBody(t, "<h1>home</h1>")
	do(t, app, "GET", "/staticx/ok.txt").wantBody(t, "next /staticx/ok.txt")
	do(t, app, "GET", "/ok.txt").wantBody(t, "next /ok.txt")
	do(t, app, "GET", "/static/ok.txt", "X-Skip", "1").wantBody(t, "next /static/ok.txt")
	do(t, app, "POST", "/other").wantBody(t, "next /other")

	strict := mount(fiber.Config{CaseSensitive: true})
	do(t, strict, "GET", "/STATIC/ok.txt").wantBody(t, "next /STATIC/ok.txt")
	do(t, strict, "GET", "/static/ok.txt").wantBody(t, "ok")

	// Without StripPrefix the whole path names the object.
	bare := newApp()
	bare.Get("/*", s3cachefiber.Handler(f.h))
	do(t, bare, "GET", "/ok.txt").wantBody(t, "ok")
}

// With Options.Writes, PUT reaches s3cache with its body and Content-Type, and still
// requires a precondition.
func TestWrites(t *testing.T) {
	t.Parallel()
	f := newFixture(t, s3cache.Options{Writes: true})
	app := newApp()
	app.All("/assets/*", s3cachefiber.Handler(f.h, s3cachefiber.Config{StripPrefix: "/assets"}))

	doBody(t, app, "PUT", "/assets/new.json", `{"v":1}`, "Content-Type", "application/json").want(t, 428)
	r := doBody(t, app, "PUT", "/assets/new.json", `{"v":1}`, "Content-Type", "application/json", "If-None-Match", "*")
	r.want(t, 201)
	etag := r.header.Get("ETag")
	if etag == "" {
		t.Fatal("201 without ETag")
	}
	doBody(t, app, "PUT", "/assets/new.json", `{"v":0}`, "If-None-Match", "*").want(t, 412)

	r = do(t, app, "GET", "/assets/new.json")
	r.want(t, 200, "Content-Type", "application/json", "ETag", etag)
	r.wantBody(t, `{"v":1}`)
}

func TestNilHandlerPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Handler(nil) did not panic")
		}
	}()
	s3cachefiber.Handler(nil)
}

// A cached body is handed to fasthttp without a copy. Concurrent requests through Fiber's
// compress middleware, which replaces the response body with a compressed one, must all get
// the object, and the cache's bytes must be unchanged afterwards (run under -race).
func TestCachedBodyIsNotModified(t *testing.T) {
	t.Parallel()
	f := newFixture(t, s3cache.Options{})
	body := bytes.Repeat([]byte("body { color: red }\n"), 2000)
	put(t, f.s3, "site.css", body, "text/css")
	app := newApp()
	app.Use(compress.New())
	app.Get("/assets/*", s3cachefiber.Handler(f.h, s3cachefiber.Config{StripPrefix: "/assets"}))
	do(t, app, "GET", "/assets/site.css").wantBody(t, string(body))

	const n = 16
	errs := make(chan error, n)
	for range n {
		go func() {
			r, err := serve(app, "GET", "/assets/site.css", "", "Accept-Encoding", "gzip")
			if err == nil {
				err = wantGzip(r, body)
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	do(t, app, "GET", "/assets/site.css").wantBody(t, string(body))
	if n := f.c.gets.Load(); n != 1 {
		t.Errorf("S3 GETs = %d, want 1", n)
	}
}

func wantGzip(r *result, want []byte) error {
	if r.status != 200 || r.header.Get("Content-Encoding") != "gzip" {
		return fmt.Errorf("status %d, Content-Encoding %q; want 200, gzip", r.status, r.header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(r.body))
	if err != nil {
		return err
	}
	got, err := io.ReadAll(zr)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("gunzipped body differs (%d bytes, want %d)", len(got), len(want))
	}
	return nil
}
