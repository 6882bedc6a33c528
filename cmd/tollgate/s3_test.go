package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/tollgate-go/tollgate/core/s3store"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// fakeLifecycle keeps a bucket's lifecycle rules in memory (versitygw v1.8.0 and gofakes3
// do not implement lifecycle configuration).
type fakeLifecycle struct {
	rules []types.LifecycleRule
	puts  int
}

func (f *fakeLifecycle) GetBucketLifecycleConfiguration(context.Context, *s3.GetBucketLifecycleConfigurationInput, ...func(*s3.Options)) (*s3.GetBucketLifecycleConfigurationOutput, error) {
	if f.rules == nil {
		return nil, &smithy.GenericAPIError{Code: "NoSuchLifecycleConfiguration"}
	}
	return &s3.GetBucketLifecycleConfigurationOutput{Rules: f.rules}, nil
}

func (f *fakeLifecycle) PutBucketLifecycleConfiguration(_ context.Context, in *s3.PutBucketLifecycleConfigurationInput, _ ...func(*s3.Options)) (*s3.PutBucketLifecycleConfigurationOutput, error) {
	f.puts++
	f.rules = in.LifecycleConfiguration.Rules
	return &s3.PutBucketLifecycleConfigurationOutput{}, nil
}

func withFake(t *testing.T, f *fakeLifecycle) *s3store.ClientOptions {
	t.Helper()
	var got s3store.ClientOptions
	old := newLifecycleClient
	newLifecycleClient = func(_ context.Context, cfg s3store.ClientOptions) (s3store.LifecycleAPI, error) {
		got = cfg
		return f, nil
	}
	t.Cleanup(func() { newLifecycleClient = old })
	return &got
}

func TestS3Lifecycle(t *testing.T) {
	other := types.LifecycleRule{ID: aws.String("keep-me"), Status: types.ExpirationStatusEnabled,
		Filter: &types.LifecycleRuleFilter{Prefix: aws.String("logs/")}, Expiration: &types.LifecycleExpiration{Days: aws.Int32(9)}}
	f := &fakeLifecycle{rules: []types.LifecycleRule{other}}
	cfg := withFake(t, f)
	var stdout, stderr bytes.Buffer
	args := []string{"s3-lifecycle", "-bucket", "limits", "-prefix", "rl/", "-days", "31", "-endpoint", "http://127.0.0.1:1", "-region", "eu-west-1"}
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "(updated)") || !strings.Contains(stdout.String(), "31 day(s)") {
		t.Fatalf("stdout %q; want the rule reported as updated with 31 days", stdout.String())
	}
	if cfg.Endpoint != "http://127.0.0.1:1" || cfg.Region != "eu-west-1" {
		t.Fatalf("client config %+v; want the -endpoint and -region flags", *cfg)
	}
	if len(f.rules) != 2 || aws.ToString(f.rules[0].ID) != "keep-me" || aws.ToString(f.rules[1].Filter.Prefix) != "rl/" {
		t.Fatalf("rules after the command: %d, first %q; want the other rule kept and ours added", len(f.rules), aws.ToString(f.rules[0].ID))
	}
	stdout.Reset()
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "(unchanged)") || f.puts != 1 {
		t.Fatalf("second run: exit %d, stdout %q, %d writes; want unchanged and one write in all", code, stdout.String(), f.puts)
	}
}

func TestS3LifecycleBadFlags(t *testing.T) {
	f := &fakeLifecycle{}
	withFake(t, f)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		// A command line that cannot run: usage on stderr, exit 2.
		{[]string{"s3-lifecycle"}, 2, "-bucket is required"},
		{[]string{"s3-lifecycle", "-bucket", "b", "-days", "0"}, 2, "-days 0 must be at least 1"},
		{[]string{"s3-lifecycle", "-bucket", "b", "extra"}, 2, "unexpected arguments"},
		{[]string{"s3-lifecycle", "-bucket", "b", "-nosuchflag"}, 2, "flag provided but not defined"},
		// A command that ran and failed: exit 1, naming the bucket.
		{[]string{"s3-lifecycle", "-bucket", "b", "-prefix", ""}, 1, `bucket "b": s3store: PutLifecycleRule needs a non-empty prefix`},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), c.args, &stdout, &stderr); code != c.code || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr.String(), c.code, c.want)
		}
		if c.code == 2 && !strings.Contains(stderr.String(), "usage: tollgate s3-lifecycle") {
			t.Errorf("%q: stderr %q; want the usage", c.args, stderr.String())
		}
	}
	if f.puts != 0 {
		t.Fatalf("bad flags wrote the lifecycle configuration %d times", f.puts)
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"s3-lifecycle", "-h"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "usage: tollgate s3-lifecycle") {
		t.Fatalf("-h: exit %d, stdout %q", code, stdout.String())
	}
}

// noBucket answers every call as S3 does for a bucket that does not exist.
type noBucket struct{}

func (noBucket) GetBucketLifecycleConfiguration(context.Context, *s3.GetBucketLifecycleConfigurationInput, ...func(*s3.Options)) (*s3.GetBucketLifecycleConfigurationOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "NoSuchBucket", Message: "The specified bucket does not exist"}
}

func (noBucket) PutBucketLifecycleConfiguration(context.Context, *s3.PutBucketLifecycleConfigurationInput, ...func(*s3.Options)) (*s3.PutBucketLifecycleConfigurationOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "NoSuchBucket", Message: "The specified bucket does not exist"}
}

func TestS3LifecycleMissingBucket(t *testing.T) {
	old := newLifecycleClient
	newLifecycleClient = func(context.Context, s3store.ClientOptions) (s3store.LifecycleAPI, error) { return noBucket{}, nil }
	t.Cleanup(func() { newLifecycleClient = old })
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"s3-lifecycle", "-bucket", "nosuchbucket", "-endpoint", "http://127.0.0.1:1"}, &stdout, &stderr)
	want := `bucket "nosuchbucket" at http://127.0.0.1:1 does not exist`
	if code != 1 || !strings.Contains(stderr.String(), want) {
		t.Fatalf("exit %d, stderr %q; want exit 1 and %q", code, stderr.String(), want)
	}
}

// TestS3LifecycleVersitygw runs the command against the real server: versitygw v1.8.0
// answers lifecycle configuration with 501 NotImplemented, and the command must say so and
// fail rather than claim success.
func TestS3LifecycleVersitygw(t *testing.T) {
	ep := testenv.S3Endpoint(t)
	t.Setenv("AWS_ACCESS_KEY_ID", ep.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", ep.SecretKey)
	ctx := context.Background()
	c, err := s3store.NewClient(ctx, s3store.ClientOptions{Endpoint: ep.Endpoint, Region: ep.Region})
	if err != nil {
		t.Fatal(err)
	}
	bucket := testenv.UniqueName("tollgate-cli")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"s3-lifecycle", "-bucket", bucket, "-endpoint", ep.Endpoint, "-region", ep.Region}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "NotImplemented") || !strings.Contains(stderr.String(), `bucket "`+bucket+`"`) {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 1 with versitygw's NotImplemented, naming the bucket", code, stdout.String(), stderr.String())
	}
	t.Logf("versitygw: %s", strings.TrimSpace(stderr.String()))
}
