package s3store

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tollgate-go/tollgate/core/backoff"
)

// ClientOptions says how [NewClient] reaches S3. Zero values are the documented defaults.
type ClientOptions struct {
	// Endpoint is the URL of an S3-compatible server (versitygw, MinIO, a test server). With
	// it, requests use path-style addressing (http://host/bucket/key), which such servers
	// expect. Optional. Default: AWS S3 for the region, virtual-hosted style.
	Endpoint string
	// Region is the AWS region. Optional. Default: from the AWS environment and config
	// files; "us-east-1" when they name none and Endpoint is set.
	Region string
	// AccessKey and SecretKey are static credentials. Optional. Default: the AWS default
	// credential chain (environment, shared files, IAM role).
	AccessKey, SecretKey string
	// Retry configures the SDK retryer (throttling, 5xx, connection errors) through
	// [backoff.LoadAWSConfig]: full jitter, MaxAttempts, AttemptTimeout. Optional.
	// Default: the zero backoff.Policy.
	Retry backoff.Policy
	// HTTPClient sends the requests. When AWS_CA_BUNDLE is set the SDK must add its roots to
	// the transport, so it has to be an *awshttp.BuildableClient (aws/transport/http) then.
	// Optional. Default: the SDK's.
	HTTPClient aws.HTTPClient
	// LoadOptions are applied after the above, for anything else (a profile, a
	// retryer with backoff.WithOnRetry). Optional.
	LoadOptions []func(*config.LoadOptions) error
}

// NewClient returns an S3 client whose every call retries with the project's full-jitter
// backoff (see [backoff.LoadAWSConfig]). The store's own compare-and-swap retries are on top of
// these: the SDK never retries a failed precondition.
func NewClient(ctx context.Context, cfg ClientOptions) (*s3.Client, error) {
	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if (cfg.AccessKey == "") != (cfg.SecretKey == "") {
		return nil, errors.New("s3store: ClientOptions needs both AccessKey and SecretKey, or neither")
	}
	if cfg.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(cfg.HTTPClient))
	}
	opts = append(opts, cfg.LoadOptions...)
	awsCfg, err := backoff.LoadAWSConfig(ctx, cfg.Retry, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3store: load AWS config: %w", err)
	}
	if awsCfg.Region == "" && cfg.Endpoint != "" {
		awsCfg.Region = "us-east-1"
	}
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
			o.UsePathStyle = true
		}
	}), nil
}
