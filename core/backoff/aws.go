package backoff

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
)

// conditionalCodes are the AWS error codes of a failed precondition: the
// caller lost a compare-and-swap race. Repeating the same request cannot
// succeed, so the retryer never does; the stores re-read and retry themselves.
var conditionalCodes = map[string]struct{}{
	"PreconditionFailed":              {}, // S3 412, If-Match / If-None-Match
	"ConditionalRequestConflict":      {}, // S3 409, concurrent conditional write
	"ConditionalCheckFailedException": {}, // DynamoDB condition expression
}

// extraRetryableCodes are retried in addition to the SDK's defaults
// (retry.DefaultRetryableErrorCodes and DefaultThrottleErrorCodes, which
// already hold ThrottlingException, ProvisionedThroughputExceededException,
// RequestLimitExceeded and SlowDown). The SDK retries these only through
// their HTTP status (500/503); naming them keeps them retried when a proxy or
// an S3-compatible server answers them with another status.
var extraRetryableCodes = map[string]struct{}{
	"InternalError":       {}, // S3
	"InternalServerError": {}, // DynamoDB
	"ServiceUnavailable":  {}, // S3, DynamoDB
	"TooManyRequests":     {}, // S3-compatible servers
}

// extraRetryableStatus adds 429, which S3-compatible servers and proxies use
// for throttling; the SDK's defaults are 500, 502, 503 and 504.
var extraRetryableStatus = map[int]struct{}{http.StatusTooManyRequests: {}}

var extraThrottleCodes = map[string]struct{}{"TooManyRequests": {}}

// IsConditionalFailure reports whether err is a failed AWS precondition: S3's
// 412 PreconditionFailed or 409 ConditionalRequestConflict, or DynamoDB's
// ConditionalCheckFailedException. The AWS retryer never retries these; a
// store's compare-and-swap loop uses this predicate to decide to re-read and
// try again.
func IsConditionalFailure(err error) bool {
	if err == nil {
		return false
	}
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) {
		if _, ok := conditionalCodes[coded.ErrorCode()]; ok {
			return true
		}
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) {
		// Only 412: a 409 is also BucketNotEmpty, OperationAborted and
		// others, so a 409 counts only with its code above.
		return status.HTTPStatusCode() == http.StatusPreconditionFailed
	}
	return false
}

// AWSOption configures NewAWSRetryer and AWSRetryer.
type AWSOption func(*awsOptions)

type awsOptions struct {
	adaptive bool
	onRetry  func(attempt int, delay time.Duration, err error)
}

// WithAdaptiveMode builds the retryer on the SDK's adaptive mode
// (retry.NewAdaptiveMode), which also slows the client's send rate after
// throttling responses. Our policy, classification and budget still apply.
func WithAdaptiveMode() AWSOption {
	return func(o *awsOptions) { o.adaptive = true }
}

// WithOnRetry calls fn before each retry's wait with the attempt that failed
// (1 for the first), the chosen delay and the error. fn must be safe for
// concurrent use: one retryer serves every call of a client.
func WithOnRetry(fn func(attempt int, delay time.Duration, err error)) AWSOption {
	return func(o *awsOptions) { o.onRetry = fn }
}

// NewAWSRetryer returns the retryer every AWS client of the project uses: the
// SDK's standard retryer (retry.NewStandard) with
//   - p's jitter and windows as its backoff (full jitter by default, instead
//     of the SDK's one-second base), p.Cap as MaxBackoff;
//   - p.MaxAttempts (default 3) attempts;
//   - the SDK's retryable errors (throttling codes, 500/502/503/504,
//     connection errors, timeouts) plus 429 and a few codes named in this
//     file, and never a failed precondition (see IsConditionalFailure);
//   - p.Budget as its retry quota, or a new Budget per retryer (the SDK's own
//     behaviour) when p.Budget is nil.
//
// p.MaxElapsed and p.Sleep are not used: the SDK sleeps by itself and gives a
// retryer no start time. Bound AWS calls with a context deadline.
func NewAWSRetryer(p Policy, opts ...AWSOption) aws.Retryer {
	var o awsOptions
	for _, fn := range opts {
		fn(&o)
	}
	budget := p.Budget
	if budget == nil {
		budget = NewBudget(DefaultBudgetTokens)
	}
	throttles := []retry.IsErrorThrottle{
		retry.ThrottleErrorCode{Codes: retry.DefaultThrottleErrorCodes},
		retry.ThrottleErrorCode{Codes: extraThrottleCodes},
	}
	standard := func(so *retry.StandardOptions) {
		so.MaxAttempts = p.maxAttempts()
		so.MaxBackoff = p.capDelay()
		so.Backoff = awsDelayer{p: p, onRetry: o.onRetry}
		so.Retryables = append([]retry.IsErrorRetryable{
			retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
				if IsConditionalFailure(err) {
					return aws.FalseTernary
				}
				return aws.UnknownTernary
			}),
		}, retry.DefaultRetryables...)
		so.Retryables = append(so.Retryables,
			retry.RetryableErrorCode{Codes: extraRetryableCodes},
			retry.RetryableHTTPStatusCode{Codes: extraRetryableStatus},
		)
		so.Throttles = throttles
		so.RateLimiter = budget
		so.RetryCost = RetryCost
		so.RetryTimeoutCost = TimeoutRetryCost
		so.ThrottlingRetryCost = RetryCost
		so.NoRetryIncrement = SuccessRefund
	}
	if o.adaptive {
		return retry.NewAdaptiveMode(func(ao *retry.AdaptiveModeOptions) {
			ao.Throttles = throttles
			ao.StandardOptions = append(ao.StandardOptions, standard)
		})
	}
	return retry.NewStandard(standard)
}

// awsDelayer adapts Policy to the SDK's retry.BackoffDelayer.
type awsDelayer struct {
	p       Policy
	onRetry func(int, time.Duration, error)
}

// BackoffDelay implements retry.BackoffDelayer. The SDK passes the number of
// the attempt that failed (1 for the first) in its default mode, and that
// number minus one when AWS_NEW_RETRIES_2026=true (aws/retry/middleware.go);
// both map to our n, which is 0 before the first retry.
func (d awsDelayer) BackoffDelay(attempt int, err error) (time.Duration, error) {
	n := attempt - 1
	if os.Getenv("AWS_NEW_RETRIES_2026") == "true" {
		n = attempt
	}
	delay := d.p.Delay(n)
	if d.onRetry != nil {
		d.onRetry(n+1, delay, err)
	}
	return delay, nil
}

// AWSRetryer returns NewAWSRetryer(p, opts...) as the constructor that
// config.WithRetryer and a service client's Options.Retryer expect. Each call
// of the constructor builds a new retryer, so each client gets its own budget
// unless p.Budget is set.
func AWSRetryer(p Policy, opts ...AWSOption) func() aws.Retryer {
	return func() aws.Retryer { return NewAWSRetryer(p, opts...) }
}

// LoadAWSConfig is config.LoadDefaultConfig with the project's retryer: every
// client made from the returned aws.Config retries as NewAWSRetryer(p) does.
// optFns are applied after ours, so a caller can still override anything,
// including the retryer (config.WithRetryer(AWSRetryer(p, WithAdaptiveMode()))).
//
// The AWS_MAX_ATTEMPTS and AWS_RETRY_MODE settings (environment or shared
// config) are cleared from the result: p is the one place that configures
// retries, and the SDK would otherwise wrap our retryer with its own limit.
// With p.AttemptTimeout > 0 the config gets an HTTP client whose
// ResponseHeaderTimeout is that timeout.
func LoadAWSConfig(ctx context.Context, p Policy, optFns ...func(*config.LoadOptions) error) (aws.Config, error) {
	fns := []func(*config.LoadOptions) error{config.WithRetryer(AWSRetryer(p))}
	if p.AttemptTimeout > 0 {
		client := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.ResponseHeaderTimeout = p.AttemptTimeout
		})
		fns = append(fns, config.WithHTTPClient(client))
	}
	cfg, err := config.LoadDefaultConfig(ctx, append(fns, optFns...)...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("backoff: load AWS config: %w", err)
	}
	cfg.RetryMaxAttempts = 0
	cfg.RetryMode = ""
	return cfg, nil
}
