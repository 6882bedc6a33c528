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

func withFake(t *testing.T, f *fakeLifecycle) *s3store.ClientConfig {
	t.Helper()
	var got s3store.ClientConfig
	old := newLifecycleClient
	newLifecycleClient = func(_ context.Context, cfg s3store.ClientConfig) (s3store.LifecycleAPI, error) {
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
		want string
	}{
		{[]string{"s3-lifecycle"}, "-bucket is required"},
		{[]string{"s3-lifecycle", "-bucket", "b", "-days", "0"}, "-days 0 must be at least 1"},
		{[]string{"s3-lifecycle", "-bucket", "b", "extra"}, "unexpected arguments"},
		{[]string{"s3-lifecycle", "-bucket", "b", "-prefix", ""}, "s3store: PutLifecycleRule needs a non-empty prefix"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), c.args, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit 1 and %q", c.args, code, stderr.String(), c.want)
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

// TestS3LifecycleVersitygw runs the command against the real server: versitygw v1.8.0
// answers lifecycle configuration with 501 NotImplemented, and the command must say so and
// fail rather than claim success.
func TestS3LifecycleVersitygw(t *testing.T) {
	ep := testenv.S3Endpoint(t)
	t.Setenv("AWS_ACCESS_KEY_ID", ep.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", ep.SecretKey)
	ctx := context.Background()
	c, err := s3store.NewClient(ctx, s3store.ClientConfig{Endpoint: ep.Endpoint, Region: ep.Region})
	if err != nil {
		t.Fatal(err)
	}
	bucket := testenv.UniqueName("tollgate-cli")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"s3-lifecycle", "-bucket", bucket, "-endpoint", ep.Endpoint, "-region", ep.Region}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "NotImplemented") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 1 with versitygw's NotImplemented", code, stdout.String(), stderr.String())
	}
	t.Logf("versitygw: %s", strings.TrimSpace(stderr.String()))
}
