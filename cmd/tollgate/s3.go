package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"

	"github.com/aws/smithy-go"

	"github.com/tollgate-go/tollgate/core/s3store"
)

func init() {
	register("s3-lifecycle", command{
		summary:  "put the S3 lifecycle rule that expires s3store's old state",
		synopsis: "-bucket B [-prefix P] [-days N] [-endpoint URL] [-region R]",
		about: `Adds (or updates) the lifecycle rule that expires the objects under the store's prefix
N days after their last write, keeping the bucket's other rules. Running it again changes
nothing. Credentials come from the AWS environment. Needs s3:GetLifecycleConfiguration and
s3:PutLifecycleConfiguration on the bucket.`,
		run: runS3Lifecycle,
	})
}

// newLifecycleClient builds the S3 client of s3-lifecycle; tests replace it with a fake.
var newLifecycleClient = func(ctx context.Context, cfg s3store.ClientOptions) (s3store.LifecycleAPI, error) {
	return s3store.NewClient(ctx, cfg)
}

// runS3Lifecycle is `tollgate s3-lifecycle`: s3store.PutLifecycleRule from the command line.
func runS3Lifecycle(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error {
	bucket := fs.String("bucket", "", "the bucket of s3store.Config.Bucket (required)")
	prefix := fs.String("prefix", s3store.DefaultPrefix, "the store's s3store.Config.Prefix")
	days := fs.Int("days", 1, "expire state this many days after its last write: at least the longest window (31 for monthly quotas)")
	endpoint := fs.String("endpoint", "", "URL of an S3-compatible server, path-style (default: AWS S3)")
	region := fs.String("region", "", "AWS region (default: from the AWS environment)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	if *bucket == "" {
		return usagef("-bucket is required")
	}
	if *days < 1 || *days > math.MaxInt32 {
		return usagef("-days %d must be at least 1", *days)
	}
	client, err := newLifecycleClient(ctx, s3store.ClientOptions{Endpoint: *endpoint, Region: *region})
	if err != nil {
		return err
	}
	changed, err := s3store.PutLifecycleRule(ctx, client, *bucket, *prefix, int32(*days))
	if err != nil {
		return bucketError(*bucket, *endpoint, err)
	}
	state := "unchanged"
	if changed {
		state = "updated"
	}
	fmt.Fprintf(stdout, "s3://%s/%s: rule %q expires objects %d day(s) after their last write (%s)\n",
		*bucket, *prefix, s3store.LifecycleRuleID(*prefix), *days, state)
	return nil
}

// bucketError names the bucket (and the endpoint, when one was given) in err, and says
// plainly when the bucket does not exist.
func bucketError(bucket, endpoint string, err error) error {
	where := fmt.Sprintf("bucket %q", bucket)
	if endpoint != "" {
		where += " at " + endpoint
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchBucket" {
		return fmt.Errorf("%s does not exist: %w", where, err)
	}
	return fmt.Errorf("%s: %w", where, err)
}
