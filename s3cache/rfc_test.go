package s3cache_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tollgate-go/tollgate/s3cache"
)

// rfcPaths are the three ways s3cache answers an object: from memory, streamed from S3 (too
// large for memory, no disk tier), and from the disk tier.
func rfcPaths(t *testing.T) []struct {
	name string
	opts s3cache.Options
} {
	return []struct {
		name string
		opts s3cache.Options
	}{
		{"memory", s3cache.Options{}},
		{"streamed", s3cache.Options{MaxObjectSize: 100}},
		{"disk", s3cache.Options{MaxObjectSize: 100, DiskDir: t.TempDir()}},
	}
}

// The client's preconditions are evaluated by s3cache per RFC 9110 whenever it knows the
// object's validators, on every path, whatever the S3 server's own evaluation:
// If-Unmodified-Since equal to Last-Modified is true (§13.1.4: "modified after" is false), so
// 200 or 206, never 412; If-Range with a date sends the range only when the date is exactly
// Last-Modified and Last-Modified is a strong validator (§13.1.5, §8.8.2.2), else the whole
// object.
func testRFCConditionals(t *testing.T, b *backend) {
	data := payload(2000)
	etag := putBytes(t, b, "rfc.bin", data)
	head, err := b.client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &b.bucket, Key: aws.String("rfc.bin")})
	if err != nil {
		t.Fatal(err)
	}
	lm := head.LastModified.UTC()
	// §8.8.2.2: Last-Modified is strong only in a response dated at least one second after it.
	// The S3 server dates its responses with the real clock, and versitygw's Date (fasthttp's,
	// refreshed once a second) lags by up to a second: let two seconds pass. This waits for a
	// property of time itself, not to synchronise anything.
	time.Sleep(time.Until(lm.Truncate(time.Second).Add(2*time.Second + 100*time.Millisecond)))
	at := func(d time.Duration) string { return lm.Add(d).Format(http.TimeFormat) }
	whole, ten := data, data[10:20]
	cases := []struct {
		name   string
		method string
		hdr    []string
		status int
		body   []byte
	}{
		{"If-Unmodified-Since = Last-Modified", "GET", []string{"If-Unmodified-Since", at(0)}, 200, whole},
		{"If-Unmodified-Since = Last-Modified, Range", "GET", []string{"If-Unmodified-Since", at(0), "Range", "bytes=10-19"}, 206, ten},
		{"If-Unmodified-Since after", "GET", []string{"If-Unmodified-Since", at(time.Hour)}, 200, whole},
		{"If-Unmodified-Since before", "GET", []string{"If-Unmodified-Since", at(-time.Second)}, 412, nil},
		{"If-Match and If-Unmodified-Since = Last-Modified", "GET", []string{"If-Match", etag, "If-Unmodified-Since", at(0)}, 200, whole},
		{"HEAD If-Unmodified-Since = Last-Modified", "HEAD", []string{"If-Unmodified-Since", at(0)}, 200, []byte{}},
		{"HEAD If-Unmodified-Since before", "HEAD", []string{"If-Unmodified-Since", at(-time.Second)}, 412, []byte{}},
		{"If-Modified-Since = Last-Modified", "GET", []string{"If-Modified-Since", at(0)}, 304, []byte{}},
		{"If-Range = Last-Modified", "GET", []string{"If-Range", at(0), "Range", "bytes=10-19"}, 206, ten},
		{"If-Range before", "GET", []string{"If-Range", at(-time.Second), "Range", "bytes=10-19"}, 200, whole},
		{"If-Range after", "GET", []string{"If-Range", at(time.Second), "Range", "bytes=10-19"}, 200, whole},
		{"If-Range = Last-Modified, unsatisfiable", "GET", []string{"If-Range", at(0), "Range", "bytes=5000-"}, 416, nil},
		{"If-Range before, unsatisfiable", "GET", []string{"If-Range", at(-time.Second), "Range", "bytes=5000-"}, 200, whole},
		{"If-Range = Last-Modified, If-Unmodified-Since before", "GET", []string{"If-Range", at(0), "Range", "bytes=10-19", "If-Unmodified-Since", at(-time.Second)}, 412, nil},
	}
	for _, p := range rfcPaths(t) {
		f := newFixture(t, b, p.opts)
		t.Cleanup(func() { _ = f.h.Close() })
		for _, tc := range cases {
			w := f.do(t, tc.method, "/rfc.bin", tc.hdr...)
			if w.Code != tc.status {
				t.Errorf("%s: %s %s: status %d, want %d", p.name, tc.method, tc.name, w.Code, tc.status)
				continue
			}
			if tc.body != nil && !bytes.Equal(w.Body.Bytes(), tc.body) {
				t.Errorf("%s: %s: body has %d bytes, want %d", p.name, tc.name, w.Body.Len(), len(tc.body))
			}
			if tc.status == 416 && w.Header().Get("Content-Range") != "bytes */2000" {
				t.Errorf("%s: %s: Content-Range %q, want bytes */2000", p.name, tc.name, w.Header().Get("Content-Range"))
			}
		}
		if s := f.h.Stats(); p.name == "disk" && (s.DiskFiles != 1 || s.Streamed != 0) {
			t.Errorf("disk: stats = %+v, want every answer from the one file", s)
		}
	}
}

// objectClient is an S3 client holding one object in memory, with no HTTP response behind
// it (so no Date field): s3cache then dates a response by its clock, which the test drives.
type objectClient struct {
	s3cache.Client
	body []byte
	etag string
	lm   time.Time
	gets atomic.Int64
}

func (c *objectClient) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	c.gets.Add(1)
	if aws.ToString(in.IfNoneMatch) == c.etag {
		return nil, httpError(304, "NotModified")
	}
	out := &s3.GetObjectOutput{ETag: &c.etag, LastModified: &c.lm, ContentType: aws.String("application/octet-stream")}
	body := c.body
	if r := aws.ToString(in.Range); r != "" {
		a, b, _ := strings.Cut(strings.TrimPrefix(r, "bytes="), "-")
		start, _ := strconv.Atoi(a)
		end, err := strconv.Atoi(b)
		if err != nil || end >= len(body) {
			end = len(body) - 1
		}
		if start >= len(body) {
			return nil, httpError(416, "InvalidRange")
		}
		out.ContentRange = aws.String(fmt.Sprintf("bytes %d-%d/%d", start, end, len(body)))
		body = body[start : end+1]
	}
	out.ContentLength = aws.Int64(int64(len(body)))
	out.Body = io.NopCloser(bytes.NewReader(body))
	return out, nil
}

func (c *objectClient) HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return &s3.HeadObjectOutput{ETag: &c.etag, LastModified: &c.lm, ContentLength: aws.Int64(int64(len(c.body)))}, nil
}

// An If-Range date that equals Last-Modified is honoured only when Last-Modified is a strong
// validator: in a response dated within the same second as the modification, the object may
// have changed twice in that second (RFC 9110 §8.8.2.2), so the condition is false and the
// whole object is sent (§13.1.5, step 1). Dated a second later, the range is sent.
func TestIfRangeDateNeedsStrongLastModified(t *testing.T) {
	lm := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	date := lm.Format(http.TimeFormat)
	data := payload(2000)
	for _, p := range rfcPaths(t) {
		for _, tc := range []struct {
			dated  time.Duration // after Last-Modified
			status int
		}{{500 * time.Millisecond, 200}, {time.Second, 206}} {
			c := &objectClient{body: data, etag: `"v1"`, lm: lm}
			clk := &clock{t: lm.Add(tc.dated)}
			opts := p.opts
			opts.Bucket, opts.Now = "b", clk.Now
			if opts.DiskDir != "" {
				opts.DiskDir = t.TempDir()
			}
			h, err := s3cache.New(c, opts)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 2 { // cold, then from the cache (or streamed again)
				w := newRecorder()
				r := newGet("/o.bin")
				r.Header.Set("Range", "bytes=10-19")
				r.Header.Set("If-Range", date)
				h.ServeHTTP(w, r)
				want := data
				if tc.status == 206 {
					want = data[10:20]
				}
				if w.Code != tc.status || !bytes.Equal(w.Body.Bytes(), want) {
					t.Errorf("%s, S3 response dated %v after Last-Modified, request %d: status %d with %d bytes, want %d with %d",
						p.name, tc.dated, i, w.Code, w.Body.Len(), tc.status, len(want))
				}
			}
			_ = h.Close()
		}
	}
}
