package s3store_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/tollgate-go/tollgate/core/s3store"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// backendS3 is one S3 server the tests run against, with a bucket of its own.
type backendS3 struct {
	name   string
	client *s3.Client
	bucket string
	// endpoint and credentials, for tests that build their own client (through a proxy).
	endpoint, access, secret string
}

// newClient returns a client for an S3-compatible endpoint. Keep-alives are off so that no
// idle connection (and its two goroutines) outlives a test that counts goroutines; an
// *awshttp.BuildableClient, because the SDK adds AWS_CA_BUNDLE's roots to the client's
// transport when that variable is set and refuses a plain *http.Client then.
func newClient(t testing.TB, endpoint, access, secret string, opts ...func(*s3store.ClientOptions)) *s3.Client {
	t.Helper()
	cfg := s3store.ClientOptions{
		Endpoint: endpoint, Region: "us-east-1", AccessKey: access, SecretKey: secret,
		HTTPClient: awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.DisableKeepAlives = true
		}),
	}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := s3store.NewClient(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

func createBucket(t testing.TB, c *s3.Client, bucket string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
}

// fakeS3 starts gofakes3 (in memory, in process) behind an httptest server.
//
// gofakes3 v1.2.0 is faithful for what the store uses: PutObject If-None-Match: * and
// If-Match (checked under the backend's lock, so compare-and-swap is atomic; If-Match on a
// missing object answers 412 where S3 answers 404, both a lost race here), GET If-None-Match
// (304), HEAD 404. Its gaps (GET If-Match / If-Unmodified-Since, conditional DeleteObject,
// lifecycle configuration) are in calls the store does not make; lifecycle is tested on a
// fake client (lifecycle_test.go).
func fakeS3(t testing.TB) backendS3 {
	t.Helper()
	faker := gofakes3.New(s3mem.New(), gofakes3.WithLogger(gofakes3.DiscardLog()))
	ts := httptest.NewServer(faker.Server())
	t.Cleanup(ts.Close)
	// gofakes3 gap: its 304 to a GET If-None-Match repeats the object's x-amz-checksum-crc32
	// header without a body, and the SDK logs a checksum WARN when it discards that body. The
	// 304 itself is right; the client's log is silenced for the fake tier only.
	c := newClient(t, ts.URL, "fake", "fake-secret", func(cc *s3store.ClientOptions) {
		cc.LoadOptions = append(cc.LoadOptions, config.WithLogger(logging.Nop{}))
	})
	b := backendS3{name: "gofakes3", client: c, bucket: testenv.UniqueName("tollgate-s3store"), endpoint: ts.URL, access: "fake", secret: "fake-secret"}
	createBucket(t, c, b.bucket)
	return b
}

// versity returns the shared versitygw server (scripts/servers.sh) with a new bucket. It
// skips only outside the test command (TOLLGATE_REQUIRE_SERVERS unset).
func versity(t testing.TB) backendS3 {
	t.Helper()
	ep := testenv.S3Endpoint(t)
	c := newClient(t, ep.Endpoint, ep.AccessKey, ep.SecretKey)
	b := backendS3{name: "versitygw", client: c, bucket: testenv.UniqueName("tollgate-s3store"), endpoint: ep.Endpoint, access: ep.AccessKey, secret: ep.SecretKey}
	createBucket(t, c, b.bucket)
	return b
}

func newStore(t testing.TB, api s3store.API, cfg s3store.Config) *s3store.Store {
	t.Helper()
	s, err := s3store.New(api, cfg)
	if err != nil {
		t.Fatalf("s3store.New: %v", err)
	}
	return s
}

// counting wraps an API and counts its calls: the request accounting of the store.
type counting struct {
	s3store.API
	gets, puts, heads atomic.Int64
	// fail, if set, is called before each call and may return an injected error.
	fail func(op string) error
}

func (c *counting) GetObject(ctx context.Context, in *s3.GetObjectInput, o ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	c.gets.Add(1)
	if c.fail != nil {
		if err := c.fail("GetObject"); err != nil {
			return nil, err
		}
	}
	return c.API.GetObject(ctx, in, o...)
}

func (c *counting) PutObject(ctx context.Context, in *s3.PutObjectInput, o ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	c.puts.Add(1)
	if c.fail != nil {
		if err := c.fail("PutObject"); err != nil {
			return nil, err
		}
	}
	return c.API.PutObject(ctx, in, o...)
}

func (c *counting) HeadObject(ctx context.Context, in *s3.HeadObjectInput, o ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	c.heads.Add(1)
	if c.fail != nil {
		if err := c.fail("HeadObject"); err != nil {
			return nil, err
		}
	}
	return c.API.HeadObject(ctx, in, o...)
}

func (c *counting) total() int64 { return c.gets.Load() + c.puts.Load() + c.heads.Load() }

func (c *counting) String() string {
	return fmt.Sprintf("%d GET, %d PUT, %d HEAD", c.gets.Load(), c.puts.Load(), c.heads.Load())
}

func ctx30(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
