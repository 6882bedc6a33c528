package s3store_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/s3store"
)

// exampleClient starts an in-memory S3 server (gofakes3) for the examples and returns a
// client for it. In production: s3store.NewClient(ctx, s3store.ClientOptions{}) with the AWS
// environment's region and credentials.
func exampleClient(ctx context.Context, bucket string) (*s3.Client, func()) {
	srv := httptest.NewServer(gofakes3.New(s3mem.New(), gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	client, err := s3store.NewClient(ctx, s3store.ClientOptions{
		Endpoint: srv.URL, Region: "us-east-1", AccessKey: "example", SecretKey: "example",
		// gofakes3's 304s repeat a checksum header the SDK warns about; S3 does not.
		LoadOptions: []func(*config.LoadOptions) error{config.WithLogger(logging.Nop{})},
	})
	if err != nil {
		panic(err)
	}
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		panic(err)
	}
	return client, srv.Close
}

// A daily quota of 2 jobs per tenant, shared by every instance that uses the bucket.
func Example() {
	ctx := context.Background()
	client, stop := exampleClient(ctx, "limits")
	defer stop()

	store, err := s3store.New(client, s3store.Config{Bucket: "limits", Prefix: "tollgate/"})
	if err != nil {
		panic(err)
	}
	// At startup: the bucket is reachable and conditional writes work (names the bucket,
	// the endpoint and the option to change otherwise).
	if err := store.Verify(ctx); err != nil {
		panic(err)
	}
	p := core.NewFixedWindow("jobs-per-day", 2, 24*time.Hour)
	now := time.Date(2026, 3, 2, 18, 0, 0, 0, time.UTC)
	for i := 0; i < 3; i++ {
		d, err := store.Take(ctx, "tenant-42", p, 1, now)
		if err != nil {
			panic(err)
		}
		fmt.Printf("allowed=%v remaining=%d retry-after=%v\n", d.Allowed, d.Remaining, d.RetryAfter)
	}
	// Output:
	// allowed=true remaining=1 retry-after=0s
	// allowed=true remaining=0 retry-after=0s
	// allowed=false remaining=0 retry-after=6h0m0s
}

// Marker mode gives the same decisions with create-only writes (If-None-Match: *), for
// S3-compatible servers without If-Match.
func Example_marker() {
	ctx := context.Background()
	client, stop := exampleClient(ctx, "limits")
	defer stop()

	store, err := s3store.New(client, s3store.Config{Bucket: "limits", Mode: s3store.Marker})
	if err != nil {
		panic(err)
	}
	p := core.NewMonthlyQuota("reports-per-month", 2)
	now := time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 3; i++ {
		d, err := store.Take(ctx, "tenant-42", p, 1, now)
		if err != nil {
			panic(err)
		}
		fmt.Printf("allowed=%v remaining=%d retry-after=%v\n", d.Allowed, d.Remaining, d.RetryAfter)
	}
	_, err = store.Take(ctx, "tenant-42", core.NewSlidingWindow("smooth", 10, time.Minute), 1, now)
	fmt.Println(err)
	// Output:
	// allowed=true remaining=1 retry-after=0s
	// allowed=true remaining=0 retry-after=0s
	// allowed=false remaining=0 retry-after=24h0m0s
	// s3store: marker mode supports fixed windows with cost 0 or 1 only: policy "smooth" is sliding-window (core: invalid policy)
}
