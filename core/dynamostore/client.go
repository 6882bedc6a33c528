package dynamostore

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tollgate-go/tollgate/core/backoff"
)

// ClientOptions configures [NewClient]. Zero values are the documented defaults.
type ClientOptions struct {
	// Region is the AWS region. Optional. Default: the standard AWS environment
	// (AWS_REGION, AWS_DEFAULT_REGION, the shared config file).
	Region string
	// Endpoint is the DynamoDB endpoint URL, for dynalite or DynamoDB Local
	// ("http://127.0.0.1:8000"). Optional. Default: AWS_ENDPOINT_URL_DYNAMODB or
	// AWS_ENDPOINT_URL when set, otherwise the region's endpoint.
	Endpoint string
	// Retry is the backoff policy of the client's retryer (see core/backoff). Optional.
	// Default: backoff's defaults — full jitter from 25 ms, capped at 2 s, 3 attempts —
	// which suit the request path, where the limiter's per-decision deadline cuts retries
	// short anyway.
	Retry backoff.Policy
	// HTTPClient sends the requests (a proxy, an instrumented transport). It is set on the
	// DynamoDB client after the AWS config is loaded, so it works with AWS_CA_BUNDLE, which
	// the config loader only applies to its own client. Optional. Default: the SDK's.
	HTTPClient aws.HTTPClient
	// LoadOptions are passed to the AWS config loader after the ones above, to set
	// credentials, an HTTP client, or anything else. Optional.
	LoadOptions []func(*config.LoadOptions) error
}

// NewClient returns a DynamoDB client configured from the standard AWS environment (region,
// credentials chain, endpoint URL), with the project's retryer: throttling, 5xx and
// connection errors are retried with full-jitter exponential backoff (core/backoff), a failed
// condition never is. Bound each call with a context deadline.
func NewClient(ctx context.Context, o ClientOptions) (*dynamodb.Client, error) {
	var opts []func(*config.LoadOptions) error
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	opts = append(opts, o.LoadOptions...)
	cfg, err := backoff.LoadAWSConfig(ctx, o.Retry, opts...)
	if err != nil {
		return nil, fmt.Errorf("dynamostore: %w", err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("dynamostore: no AWS region: set AWS_REGION or ClientOptions.Region")
	}
	return dynamodb.NewFromConfig(cfg, func(do *dynamodb.Options) {
		if o.HTTPClient != nil {
			do.HTTPClient = o.HTTPClient
		}
		if o.Endpoint != "" {
			do.BaseEndpoint = aws.String(o.Endpoint)
		}
	}), nil
}
