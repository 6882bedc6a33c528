package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"

	"github.com/tollgate-go/tollgate/core/s3store"
)

func init() {
	register("s3-lifecycle", "put the S3 lifecycle rule that expires s3store's old state", runS3Lifecycle)
}

// newLifecycleClient builds the S3 client of s3-lifecycle; tests replace it with a fake.
var newLifecycleClient = func(ctx context.Context, cfg s3store.ClientConfig) (s3store.LifecycleAPI, error) {
	return s3store.NewClient(ctx, cfg)
}

// runS3Lifecycle is `tollgate s3-lifecycle`: s3store.PutLifecycleRule from the command line.
func runS3Lifecycle(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("s3-lifecycle", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: tollgate s3-lifecycle -bucket B [-prefix P] [-days N] [-endpoint URL] [-region R]")
		fmt.Fprintln(fs.Output(), "Adds (or updates) the lifecycle rule that expires the objects under the store's prefix N days")
		fmt.Fprintln(fs.Output(), "after their last write, keeping the bucket's other rules. Running it again changes nothing.")
		fmt.Fprintln(fs.Output(), "Credentials come from the AWS environment. Needs s3:GetLifecycleConfiguration and")
		fmt.Fprintln(fs.Output(), "s3:PutLifecycleConfiguration on the bucket.")
		fs.PrintDefaults()
	}
	bucket := fs.String("bucket", "", "the bucket of s3store.Config.Bucket (required)")
	prefix := fs.String("prefix", s3store.DefaultPrefix, "the store's s3store.Config.Prefix")
	days := fs.Int("days", 1, "expire state this many days after its last write: at least the longest window (31 for monthly quotas)")
	endpoint := fs.String("endpoint", "", "URL of an S3-compatible server, path-style (default: AWS S3)")
	region := fs.String("region", "", "AWS region (default: from the AWS environment)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *bucket == "" {
		return errors.New("-bucket is required")
	}
	if *days < 1 || *days > math.MaxInt32 {
		return fmt.Errorf("-days %d must be at least 1", *days)
	}
	client, err := newLifecycleClient(ctx, s3store.ClientConfig{Endpoint: *endpoint, Region: *region})
	if err != nil {
		return err
	}
	changed, err := s3store.PutLifecycleRule(ctx, client, *bucket, *prefix, int32(*days))
	if err != nil {
		return err
	}
	state := "unchanged"
	if changed {
		state = "updated"
	}
	fmt.Fprintf(stdout, "s3://%s/%s: rule %q expires objects %d day(s) after their last write (%s)\n",
		*bucket, *prefix, s3store.LifecycleRuleID(*prefix), *days, state)
	return nil
}
