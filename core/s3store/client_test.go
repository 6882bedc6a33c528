package s3store_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/tollgate-go/tollgate/core/s3store"
)

// isolateAWSEnv makes the AWS environment empty for one test: no region, profile, endpoint
// or credentials from the environment, shared files that do not exist, no instance metadata.
// t.Setenv makes the test non-parallel.
func isolateAWSEnv(t *testing.T) {
	t.Helper()
	missing := filepath.Join(t.TempDir(), "missing")
	for k, v := range map[string]string{
		"AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_PROFILE": "", "AWS_DEFAULT_PROFILE": "",
		"AWS_CONFIG_FILE": missing, "AWS_SHARED_CREDENTIALS_FILE": missing,
		"AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_S3": "", "AWS_CA_BUNDLE": "",
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
		"AWS_EC2_METADATA_DISABLED":              "true",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "",
		"AWS_WEB_IDENTITY_TOKEN_FILE": "", "AWS_ROLE_ARN": "",
	} {
		t.Setenv(k, v)
	}
}

// unusedHTTPClient is an aws.HTTPClient that is not an *awshttp.BuildableClient, so that the
// SDK keeps it as it is; it never sends anything.
type unusedHTTPClient struct{}

func (*unusedHTTPClient) Do(*http.Request) (*http.Response, error) {
	return nil, errors.New("unusedHTTPClient: no request expected")
}

// TestNewClientRegion: ClientOptions.Region is the client's region, with or without an
// Endpoint; without it the region comes from the environment; with neither, an Endpoint gets
// "us-east-1" and AWS S3 is left to the SDK's default (no region). LoadOptions are applied
// last and win.
func TestNewClientRegion(t *testing.T) {
	for _, c := range []struct {
		name       string
		envRegion  string
		cfg        s3store.ClientOptions
		wantRegion string
	}{
		{"Region with Endpoint", "", s3store.ClientOptions{Region: "ap-south-1", Endpoint: "http://127.0.0.1:9"}, "ap-south-1"},
		{"Region with Endpoint, another region in the environment", "eu-north-1",
			s3store.ClientOptions{Region: "ap-south-1", Endpoint: "http://127.0.0.1:9"}, "ap-south-1"},
		{"Region without Endpoint", "", s3store.ClientOptions{Region: "ap-south-1"}, "ap-south-1"},
		{"Endpoint, no region anywhere", "", s3store.ClientOptions{Endpoint: "http://127.0.0.1:9"}, "us-east-1"},
		{"Endpoint, region in the environment", "eu-central-1", s3store.ClientOptions{Endpoint: "http://127.0.0.1:9"}, "eu-central-1"},
		{"no Endpoint, no region anywhere", "", s3store.ClientOptions{}, ""},
		{"no Endpoint, region in the environment", "eu-central-1", s3store.ClientOptions{}, "eu-central-1"},
		{"LoadOptions win", "", s3store.ClientOptions{Region: "ap-south-1", Endpoint: "http://127.0.0.1:9",
			LoadOptions: []func(*config.LoadOptions) error{config.WithRegion("sa-east-1")}}, "sa-east-1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			isolateAWSEnv(t)
			t.Setenv("AWS_REGION", c.envRegion)
			cl, err := s3store.NewClient(context.Background(), c.cfg)
			if err != nil {
				t.Fatalf("NewClient: %v", err)
			}
			if got := cl.Options().Region; got != c.wantRegion {
				t.Fatalf("region %q; want %q", got, c.wantRegion)
			}
		})
	}
}

// TestNewClientEndpoint: with an Endpoint the client sends to it, path-style (what
// S3-compatible servers expect); without one it keeps the SDK's AWS endpoint resolution,
// virtual-hosted style.
func TestNewClientEndpoint(t *testing.T) {
	isolateAWSEnv(t)
	ctx := context.Background()
	cl, err := s3store.NewClient(ctx, s3store.ClientOptions{Endpoint: "http://127.0.0.1:9", Region: "us-west-2"})
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	if o := cl.Options(); aws.ToString(o.BaseEndpoint) != "http://127.0.0.1:9" || !o.UsePathStyle {
		t.Fatalf("with Endpoint: BaseEndpoint %v, UsePathStyle %v; want the endpoint, path-style", aws.ToString(o.BaseEndpoint), o.UsePathStyle)
	}
	cl, err = s3store.NewClient(ctx, s3store.ClientOptions{Region: "us-west-2"})
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	if o := cl.Options(); o.BaseEndpoint != nil || o.UsePathStyle {
		t.Fatalf("without Endpoint: BaseEndpoint %q, UsePathStyle %v; want none, virtual-hosted style", aws.ToString(o.BaseEndpoint), o.UsePathStyle)
	}
}

// TestNewClientHTTPClient: ClientOptions.HTTPClient is the client that sends the requests;
// without it the SDK's is used.
func TestNewClientHTTPClient(t *testing.T) {
	isolateAWSEnv(t)
	ctx := context.Background()
	h := &unusedHTTPClient{}
	cl, err := s3store.NewClient(ctx, s3store.ClientOptions{Endpoint: "http://127.0.0.1:9", HTTPClient: h})
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	if got := cl.Options().HTTPClient; got != aws.HTTPClient(h) {
		t.Fatalf("HTTPClient %T %p; want the one given, %p", got, got, h)
	}
	cl, err = s3store.NewClient(ctx, s3store.ClientOptions{Endpoint: "http://127.0.0.1:9"})
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	if got := cl.Options().HTTPClient; got == nil || got == aws.HTTPClient(h) {
		t.Fatalf("HTTPClient without ClientOptions.HTTPClient: %T %p; want the SDK's", got, got)
	}
}

// TestNewClientCredentials: AccessKey and SecretKey go together: one without the other is
// refused naming both; with both, they are the client's credentials (retrieved without any
// request).
func TestNewClientCredentials(t *testing.T) {
	isolateAWSEnv(t)
	ctx := context.Background()
	for _, cfg := range []s3store.ClientOptions{
		{Endpoint: "http://127.0.0.1:9", AccessKey: "AKID"},
		{Endpoint: "http://127.0.0.1:9", SecretKey: "SECRET"},
	} {
		cl, err := s3store.NewClient(ctx, cfg)
		if err == nil || cl != nil || !strings.Contains(err.Error(), "s3store: ClientOptions needs both AccessKey and SecretKey") {
			t.Errorf("NewClient(AccessKey %q, SecretKey %q): %v, %v; want refused naming AccessKey and SecretKey", cfg.AccessKey, cfg.SecretKey, cl, err)
		}
	}
	cl, err := s3store.NewClient(ctx, s3store.ClientOptions{Endpoint: "http://127.0.0.1:9", AccessKey: "AKID", SecretKey: "SECRET"})
	if err != nil {
		t.Fatalf("NewClient with both keys: %v", err)
	}
	creds, err := cl.Options().Credentials.Retrieve(ctx)
	if err != nil || creds.AccessKeyID != "AKID" || creds.SecretAccessKey != "SECRET" {
		t.Fatalf("credentials %q/%q, %v; want AKID/SECRET", creds.AccessKeyID, creds.SecretAccessKey, err)
	}
	if _, err := s3store.NewClient(ctx, s3store.ClientOptions{Endpoint: "http://127.0.0.1:9"}); err != nil {
		t.Fatalf("NewClient with neither key: %v; want the default credential chain", err)
	}
}
