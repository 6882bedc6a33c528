package s3cache_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/tollgate-go/tollgate/s3cache"
)

// memClient is an S3 client over a map of objects, with no HTTP behind it: fast enough for the
// package's whole test run to be repeated per mutant. It answers GetObject's If-None-Match
// (304), If-Match (412) and single Range (206, 416), stores Cache-Control (which gofakes3
// does not), and counts calls.
type memClient struct {
	s3cache.Client // unused: every method is implemented here

	mu     sync.Mutex
	objs   map[string]*memObject
	err    error // when set, every call fails with it
	ranges []string
	inputs []s3.GetObjectInput
	headIn []s3.HeadObjectInput
	putIn  []s3.PutObjectInput
	delIn  []s3.DeleteObjectInput
	puts   [][]byte
	// onGet, when set, is called at the start of each GetObject (to hold a call).
	onGet func()

	gets, heads atomic.Int64
	seq         int // versions written, for ETags
}

type memObject struct {
	body         []byte
	etag         string
	cacheControl string
	lastModified time.Time
	// readErr, when set, fails the body's read after half of it.
	readErr error
	// date, when set, is the Date field of S3's response, in the raw response of the output's
	// metadata: an *http.Response when rawHTTP is set, else a *smithyhttp.Response (the SDK's).
	date    time.Time
	rawHTTP bool
	// ignoreRange answers a ranged GET with the whole object (a server that ignores Range);
	// shortRange cuts that many bytes off a ranged answer.
	ignoreRange bool
	shortRange  int
	// ignoreIfMatch makes GET ignore If-Match (as some S3-compatible servers do); bare416
	// answers an unsatisfiable Range without Content-Range.
	ignoreIfMatch, bare416 bool
	// extra is sent after the body of a whole-object GET, beyond its Content-Length.
	extra []byte
	// failOnce fails the next GET's body after half of it, once.
	failOnce error
	// untyped sends no Content-Type (else text/plain).
	untyped bool
	// noLength sends no Content-Length (an object of unknown size).
	noLength bool
	// reading, when set, is closed by the next GET's body once holdAt bytes have been read;
	// that Read then waits for hold.
	reading, hold chan struct{}
	holdAt        int
}

func newMemClient() *memClient { return &memClient{objs: map[string]*memObject{}} }

func (c *memClient) put(key string, body []byte, cacheControl string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	etag := `"` + strconv.Itoa(c.seq) + "-" + strconv.Itoa(len(body)) + `"`
	c.objs[key] = &memObject{body: body, etag: etag, cacheControl: cacheControl,
		lastModified: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	return etag
}

func (c *memClient) object(key string) (*memObject, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return nil, c.err
	}
	o := c.objs[key]
	if o == nil {
		return nil, httpError(404, "NoSuchKey")
	}
	return o, nil
}

// holdNext makes the next GET of key deliver at bytes of its body, then close reading and
// wait for hold to be closed.
func (c *memClient) holdNext(key string, at int) (reading, hold chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := c.objs[key]
	o.reading, o.hold, o.holdAt = make(chan struct{}), make(chan struct{}), at
	return o.reading, o.hold
}

func (c *memClient) remove(key string) {
	c.mu.Lock()
	delete(c.objs, key)
	c.mu.Unlock()
}

func (c *memClient) setErr(err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
}

func (c *memClient) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	c.gets.Add(1)
	c.mu.Lock()
	c.ranges = append(c.ranges, aws.ToString(in.Range))
	c.inputs = append(c.inputs, *in)
	hook := c.onGet
	c.mu.Unlock()
	if hook != nil {
		hook()
	}
	o, err := c.object(aws.ToString(in.Key))
	if err != nil {
		return nil, err
	}
	if m := aws.ToString(in.IfMatch); m != "" && m != "*" && m != o.etag && !o.ignoreIfMatch {
		return nil, httpError(412, "PreconditionFailed")
	}
	if m := aws.ToString(in.IfNoneMatch); m != "" && m == o.etag {
		// As S3: a 304 carries the object's validators and caching fields.
		return nil, httpErrorHeader(304, "NotModified", http.Header{"Etag": {o.etag}, "Cache-Control": {o.cacheControl}})
	}
	out := &s3.GetObjectOutput{ETag: aws.String(o.etag), LastModified: aws.Time(o.lastModified),
		ContentType: o.contentType()}
	if o.cacheControl != "" {
		out.CacheControl = aws.String(o.cacheControl)
	}
	body := o.body
	if r := aws.ToString(in.Range); r != "" && !o.ignoreRange {
		a, b, _ := strings.Cut(strings.TrimPrefix(r, "bytes="), "-")
		start, _ := strconv.Atoi(a)
		end, err := strconv.Atoi(b)
		if err != nil || end >= len(body) {
			end = len(body) - 1
		}
		if start >= len(body) && o.bare416 {
			return nil, httpError(416, "InvalidRange")
		}
		if start >= len(body) {
			return nil, httpErrorHeader(416, "InvalidRange", http.Header{"Content-Range": {"bytes */" + strconv.Itoa(len(body))}})
		}
		out.ContentRange = aws.String("bytes " + a + "-" + strconv.Itoa(end) + "/" + strconv.Itoa(len(body)))
		body = body[start : end+1-o.shortRange]
	}
	if !o.noLength {
		out.ContentLength = aws.Int64(int64(len(body)))
	}
	if !o.date.IsZero() {
		out.ResultMetadata = rawResponse(o.date, o.rawHTTP)
	}
	var rd io.Reader = bytes.NewReader(body)
	if o.readErr != nil {
		rd = io.MultiReader(bytes.NewReader(body[:len(body)/2]), errReader{o.readErr})
	}
	if len(o.extra) > 0 && out.ContentRange == nil {
		rd = io.MultiReader(rd, bytes.NewReader(o.extra))
	}
	c.mu.Lock()
	if o.failOnce != nil {
		rd = io.MultiReader(bytes.NewReader(body[:len(body)/2]), errReader{o.failOnce})
		o.failOnce = nil
	}
	if o.reading != nil { // the next GET's body only
		rd = &heldReader{Reader: rd, reading: o.reading, hold: o.hold, left: o.holdAt}
		o.reading = nil
	}
	c.mu.Unlock()
	out.Body = io.NopCloser(rd)
	return out, nil
}

func (o *memObject) contentType() *string {
	if o.untyped {
		return nil
	}
	return aws.String("text/plain")
}

// heldReader reads left bytes, then announces the next Read and holds it until released.
type heldReader struct {
	io.Reader
	reading, hold chan struct{}
	left          int
	once          sync.Once
}

func (r *heldReader) Read(p []byte) (int, error) {
	if r.left > 0 {
		n, err := r.Reader.Read(p[:min(len(p), r.left)])
		r.left -= n
		return n, err
	}
	r.once.Do(func() { close(r.reading); <-r.hold })
	return r.Reader.Read(p)
}

// httpErrorHeader is an S3 error response with header fields.
func httpErrorHeader(status int, msg string, hdr http.Header) error {
	err := httpError(status, msg)
	var re *smithyhttp.ResponseError
	errors.As(err, &re)
	re.Response.Header = hdr
	return err
}

// rawResponse returns operation metadata holding a raw HTTP response dated date, as the SDK's
// AddRawResponse middleware records it.
func rawResponse(date time.Time, plain bool) middleware.Metadata {
	hr := &http.Response{StatusCode: 200, Header: http.Header{"Date": {date.UTC().Format(http.TimeFormat)}}}
	var raw any = &smithyhttp.Response{Response: hr}
	if plain {
		raw = hr
	}
	_, md, _ := awsmiddleware.AddRawResponse{}.HandleDeserialize(context.Background(), middleware.DeserializeInput{},
		middleware.DeserializeHandlerFunc(func(context.Context, middleware.DeserializeInput) (middleware.DeserializeOutput, middleware.Metadata, error) {
			return middleware.DeserializeOutput{RawResponse: raw}, middleware.Metadata{}, nil
		}))
	return md
}

// PutObject stores the object, honouring If-None-Match: * and If-Match as S3 does (412, or
// 404 when If-Match names a missing object).
func (c *memClient) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	body, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.putIn = append(c.putIn, *in)
	c.puts = append(c.puts, body)
	err, o := c.err, c.objs[aws.ToString(in.Key)]
	c.mu.Unlock()
	switch {
	case err != nil:
		return nil, err
	case aws.ToString(in.IfNoneMatch) == "*" && o != nil:
		return nil, httpError(412, "PreconditionFailed")
	case in.IfMatch != nil && o == nil:
		return nil, httpError(404, "NoSuchKey")
	case in.IfMatch != nil && *in.IfMatch != o.etag:
		return nil, httpError(412, "PreconditionFailed")
	}
	etag := c.put(aws.ToString(in.Key), body, aws.ToString(in.CacheControl))
	return &s3.PutObjectOutput{ETag: aws.String(etag)}, nil
}

// DeleteObject deletes the object, honouring If-Match.
func (c *memClient) DeleteObject(_ context.Context, in *s3.DeleteObjectInput, _ ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.delIn = append(c.delIn, *in)
	o := c.objs[aws.ToString(in.Key)]
	switch {
	case c.err != nil:
		return nil, c.err
	case in.IfMatch != nil && o == nil:
		return nil, httpError(404, "NoSuchKey")
	case in.IfMatch != nil && *in.IfMatch != o.etag:
		return nil, httpError(412, "PreconditionFailed")
	}
	delete(c.objs, aws.ToString(in.Key))
	return &s3.DeleteObjectOutput{}, nil
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func (c *memClient) HeadObject(_ context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	c.heads.Add(1)
	c.mu.Lock()
	c.headIn = append(c.headIn, *in)
	c.mu.Unlock()
	o, err := c.object(aws.ToString(in.Key))
	if err != nil {
		return nil, err
	}
	out := &s3.HeadObjectOutput{ETag: aws.String(o.etag), LastModified: aws.Time(o.lastModified),
		ContentType: o.contentType()}
	if !o.noLength {
		out.ContentLength = aws.Int64(int64(len(o.body)))
	}
	return out, nil
}

// memFixture is a Handler over a memClient, on a fake clock.
type memFixture struct {
	c     *memClient
	h     *s3cache.Handler
	clock *pausingClock
	dir   string // Options.DiskDir
}

// pausingClock is a fake clock that can hold one call of Now, to stop a request at a known
// point: pause(n) lets n calls through, then holds the next one until release is closed,
// after closing entered.
type pausingClock struct {
	*clock
	mu      sync.Mutex
	skip    int
	entered chan struct{}
	release chan struct{}
}

func (c *pausingClock) pause(n int) (entered, release chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.skip, c.entered, c.release = n, make(chan struct{}), make(chan struct{})
	return c.entered, c.release
}

func (c *pausingClock) Now() time.Time {
	c.mu.Lock()
	var hold chan struct{}
	if c.release != nil {
		if c.skip == 0 {
			hold = c.release
			close(c.entered)
			c.release = nil
		}
		c.skip--
	}
	c.mu.Unlock()
	if hold != nil {
		<-hold
	}
	return c.clock.Now()
}

func newMemFixture(t testing.TB, opts s3cache.Options) *memFixture {
	t.Helper()
	f := &memFixture{c: newMemClient(), clock: &pausingClock{clock: newClock()}}
	opts.Bucket = "b"
	if opts.Now == nil {
		opts.Now = f.clock.Now
	}
	if opts.DiskDir == "disk" {
		opts.DiskDir = t.TempDir()
	}
	f.dir = opts.DiskDir
	h, err := s3cache.New(f.c, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	f.h = h
	return f
}

// do sends one request; hdr holds name, value pairs.
func (f *memFixture) do(method, target string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

// doBodyReq sends one request with a body.
func (f *memFixture) doBodyReq(method, target string, body []byte, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, bytes.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

var errBoom = errors.New("boom")

// wantResponse checks a response's status, body and the named header fields.
func wantResponse(t testing.TB, what string, w *httptest.ResponseRecorder, status int, body string, hdr ...string) {
	t.Helper()
	if w.Code != status || w.Body.String() != body {
		t.Errorf("%s: %d %q, want %d %q", what, w.Code, w.Body.String(), status, body)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if got := w.Header().Get(hdr[i]); got != hdr[i+1] {
			t.Errorf("%s: %s = %q, want %q", what, hdr[i], got, hdr[i+1])
		}
	}
}
