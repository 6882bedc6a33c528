package backoff_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/tollgate-go/tollgate/core/backoff"
)

// awsFake is an httptest server that fails the first failures requests with
// fail and then answers with ok; it counts requests.
type awsFake struct {
	srv      *httptest.Server
	requests atomic.Int32
}

func newAWSFake(t *testing.T, failures int, fail, ok http.HandlerFunc) *awsFake {
	t.Helper()
	f := &awsFake{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if int(f.requests.Add(1)) <= failures {
			fail(w, r)
			return
		}
		ok(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func dynamoError(status int, code string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amzn-Errortype", code+":http://internal.amazon.com/coral/com.amazonaws.dynamodb.v20120810/")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":"fake %s"}`, code, code)
	}
}

func dynamoOK(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_, _ = io.WriteString(w, `{}`)
}

func s3Error(status int, code string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>fake %s</Message><RequestId>req-1</RequestId></Error>`, code, code)
	}
}

func s3OK(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("ETag", `"abc"`)
	if r.Method == http.MethodGet {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "hello")
	}
}

// delayLog records the retryer's chosen delays.
type delayLog struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (l *delayLog) record(_ int, d time.Duration, _ error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.delays = append(l.delays, d)
}

func (l *delayLog) get() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.delays)
}

// awsPolicy has tiny deterministic delays: 0.5ms, 1ms, 2ms, 4ms. The SDK
// sleeps them for real; nothing waits on them for synchronisation.
func awsPolicy() backoff.Policy {
	return backoff.Policy{Base: time.Millisecond, Cap: time.Second, MaxAttempts: 5, Rand: constRand(0.5)}
}

func loadConfig(t *testing.T, p backoff.Policy, log *delayLog) aws.Config {
	t.Helper()
	cfg, err := backoff.LoadAWSConfig(context.Background(), p,
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
		config.WithRetryer(backoff.AWSRetryer(p, backoff.WithOnRetry(log.record))),
	)
	if err != nil {
		t.Fatalf("LoadAWSConfig: %v", err)
	}
	return cfg
}

func dynamoClient(cfg aws.Config, url string) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(url) })
}

func s3Client(cfg aws.Config, url string) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(url)
		o.UsePathStyle = true
	})
}

var wantDelays = []time.Duration{500 * time.Microsecond, time.Millisecond, 2 * time.Millisecond}

func TestAWSDynamoDBThrottlingIsRetried(t *testing.T) {
	for _, code := range []string{"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"} {
		t.Run(code, func(t *testing.T) {
			// AWS_MAX_ATTEMPTS would make the SDK wrap our retryer with
			// its own limit; LoadAWSConfig must clear it.
			t.Setenv("AWS_MAX_ATTEMPTS", "1")
			fake := newAWSFake(t, 3, dynamoError(http.StatusBadRequest, code), dynamoOK)
			var log delayLog
			client := dynamoClient(loadConfig(t, awsPolicy(), &log), fake.srv.URL)
			_, err := client.GetItem(context.Background(), &dynamodb.GetItemInput{
				TableName: aws.String("t"),
				Key:       map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "k"}},
			})
			if err != nil {
				t.Fatalf("GetItem after 3 throttles = %v, want success", err)
			}
			if got := fake.requests.Load(); got != 4 {
				t.Errorf("requests = %d, want 4 (3 throttled + 1 success)", got)
			}
			if got := log.get(); !slices.Equal(got, wantDelays) {
				t.Errorf("delays = %v, want %v", got, wantDelays)
			}
		})
	}
}

func TestAWSDynamoDBGivesUpAfterMaxAttempts(t *testing.T) {
	fake := newAWSFake(t, 100, dynamoError(http.StatusBadRequest, "ThrottlingException"), dynamoOK)
	var log delayLog
	client := dynamoClient(loadConfig(t, awsPolicy(), &log), fake.srv.URL)
	_, err := client.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String("t"),
		Key:       map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "k"}},
	})
	var maxErr *retry.MaxAttemptsError
	if !errors.As(err, &maxErr) {
		t.Fatalf("GetItem = %v, want a retry.MaxAttemptsError", err)
	}
	if got := fake.requests.Load(); got != 5 {
		t.Errorf("requests = %d, want MaxAttempts 5", got)
	}
}

func TestAWSDynamoDBConditionalCheckNotRetried(t *testing.T) {
	fake := newAWSFake(t, 100, dynamoError(http.StatusBadRequest, "ConditionalCheckFailedException"), dynamoOK)
	var log delayLog
	client := dynamoClient(loadConfig(t, awsPolicy(), &log), fake.srv.URL)
	_, err := client.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName:           aws.String("t"),
		Key:                 map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "k"}},
		UpdateExpression:    aws.String("ADD n :one"),
		ConditionExpression: aws.String("attribute_not_exists(n)"),
	})
	var ccf *ddbtypes.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Fatalf("UpdateItem = %v, want ConditionalCheckFailedException", err)
	}
	if !backoff.IsConditionalFailure(err) {
		t.Errorf("IsConditionalFailure(%v) = false, want true", err)
	}
	if got := fake.requests.Load(); got != 1 {
		t.Errorf("requests = %d, want 1 (no retry)", got)
	}
}

func TestAWSS3SlowDownIsRetried(t *testing.T) {
	for _, tt := range []struct {
		status int
		code   string
	}{
		{http.StatusServiceUnavailable, "SlowDown"},
		{http.StatusInternalServerError, "InternalError"},
		{http.StatusServiceUnavailable, "ServiceUnavailable"},
	} {
		t.Run(tt.code, func(t *testing.T) {
			fake := newAWSFake(t, 3, s3Error(tt.status, tt.code), s3OK)
			var log delayLog
			client := s3Client(loadConfig(t, awsPolicy(), &log), fake.srv.URL)
			out, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("k")})
			if err != nil {
				t.Fatalf("GetObject after 3 x %d %s = %v, want success", tt.status, tt.code, err)
			}
			body, _ := io.ReadAll(out.Body)
			_ = out.Body.Close()
			if string(body) != "hello" {
				t.Errorf("body = %q, want %q", body, "hello")
			}
			if got := fake.requests.Load(); got != 4 {
				t.Errorf("requests = %d, want 4", got)
			}
			if got := log.get(); !slices.Equal(got, wantDelays) {
				t.Errorf("delays = %v, want %v", got, wantDelays)
			}
		})
	}
}

func TestAWSS3PreconditionNotRetried(t *testing.T) {
	for _, tt := range []struct {
		status int
		code   string
	}{
		{http.StatusPreconditionFailed, "PreconditionFailed"},
		{http.StatusConflict, "ConditionalRequestConflict"},
	} {
		t.Run(tt.code, func(t *testing.T) {
			fake := newAWSFake(t, 100, s3Error(tt.status, tt.code), s3OK)
			var log delayLog
			client := s3Client(loadConfig(t, awsPolicy(), &log), fake.srv.URL)
			_, err := client.PutObject(context.Background(), &s3.PutObjectInput{
				Bucket: aws.String("b"), Key: aws.String("k"),
				Body: strings.NewReader("state"), IfMatch: aws.String(`"old"`),
			})
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tt.code {
				t.Fatalf("PutObject = %v, want API error %s", err, tt.code)
			}
			if !backoff.IsConditionalFailure(err) {
				t.Errorf("IsConditionalFailure(%v) = false, want true", err)
			}
			if got := fake.requests.Load(); got != 1 {
				t.Errorf("requests = %d, want 1 (no retry)", got)
			}
		})
	}
}

// TestAWSRetries2026Mode: with AWS_NEW_RETRIES_2026 the SDK numbers attempts
// from 0; the delays must not shift.
func TestAWSRetries2026Mode(t *testing.T) {
	t.Setenv("AWS_NEW_RETRIES_2026", "true")
	fake := newAWSFake(t, 3, dynamoError(http.StatusBadRequest, "ThrottlingException"), dynamoOK)
	var log delayLog
	client := dynamoClient(loadConfig(t, awsPolicy(), &log), fake.srv.URL)
	if _, err := client.ListTables(context.Background(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("ListTables = %v, want success", err)
	}
	if got := log.get(); !slices.Equal(got, wantDelays) {
		t.Errorf("delays = %v, want %v", got, wantDelays)
	}
}

// TestAWSAdaptiveMode checks that adaptive mode keeps our delays and
// classification. It uses 500s: a throttling error would make the adaptive
// rate limiter slow the client down in real time.
func TestAWSAdaptiveMode(t *testing.T) {
	fake := newAWSFake(t, 2, dynamoError(http.StatusInternalServerError, "InternalServerError"), dynamoOK)
	var log delayLog
	p := awsPolicy()
	cfg := loadConfig(t, p, &log)
	cfg.Retryer = backoff.AWSRetryer(p, backoff.WithAdaptiveMode(), backoff.WithOnRetry(log.record))
	client := dynamoClient(cfg, fake.srv.URL)
	if _, err := client.ListTables(context.Background(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("ListTables = %v, want success", err)
	}
	if got := fake.requests.Load(); got != 3 {
		t.Errorf("requests = %d, want 3", got)
	}
	if got, want := log.get(), wantDelays[:2]; !slices.Equal(got, want) {
		t.Errorf("delays = %v, want %v", got, want)
	}
	if r := cfg.Retryer(); r.IsErrorRetryable(apiErr(400, "ConditionalCheckFailedException")) {
		t.Error("adaptive retryer retries ConditionalCheckFailedException, want no retry")
	}
}

// TestAWSSharedBudget: with Policy.Budget set, a persistent outage drains
// the budget and the retryer stops retrying.
func TestAWSSharedBudget(t *testing.T) {
	fake := newAWSFake(t, 1000, dynamoError(http.StatusBadRequest, "ThrottlingException"), dynamoOK)
	var log delayLog
	p := awsPolicy()
	p.Budget = backoff.NewBudget(10) // two retries
	client := dynamoClient(loadConfig(t, p, &log), fake.srv.URL)
	for i := 0; i < 3; i++ {
		_, _ = client.ListTables(context.Background(), &dynamodb.ListTablesInput{})
	}
	if got := fake.requests.Load(); got != 5 {
		t.Errorf("requests = %d for 3 calls, want 5 (3 first attempts + 2 budgeted retries)", got)
	}
}

func apiErr(status int, code string) error {
	return &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      &smithy.GenericAPIError{Code: code, Message: "fake"},
		},
	}
}

func TestAWSRetryerClassification(t *testing.T) {
	r := backoff.NewAWSRetryer(backoff.Policy{})
	tests := []struct {
		err  error
		want bool
	}{
		{apiErr(400, "ThrottlingException"), true},
		{apiErr(400, "ProvisionedThroughputExceededException"), true},
		{apiErr(503, "RequestLimitExceeded"), true},
		{apiErr(503, "SlowDown"), true},
		{apiErr(503, "ServiceUnavailable"), true},
		{apiErr(500, "InternalError"), true},
		{apiErr(500, "InternalServerError"), true},
		{apiErr(400, "InternalServerError"), true},
		{apiErr(429, "TooManyRequests"), true},
		{apiErr(429, "Unknown"), true},
		{apiErr(412, "PreconditionFailed"), false},
		{apiErr(409, "ConditionalRequestConflict"), false},
		{apiErr(400, "ConditionalCheckFailedException"), false},
		{apiErr(500, "ConditionalCheckFailedException"), false},
		{apiErr(400, "ValidationException"), false},
		{apiErr(404, "NoSuchKey"), false},
	}
	for _, tt := range tests {
		if got := r.IsErrorRetryable(tt.err); got != tt.want {
			t.Errorf("IsErrorRetryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	if got := r.MaxAttempts(); got != backoff.DefaultMaxAttempts {
		t.Errorf("MaxAttempts() = %d, want %d", got, backoff.DefaultMaxAttempts)
	}
}

func TestIsConditionalFailure(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("plain"), false},
		{apiErr(412, "PreconditionFailed"), true},
		{apiErr(412, ""), true},
		{apiErr(409, "ConditionalRequestConflict"), true},
		{apiErr(409, "BucketNotEmpty"), false},
		{fmt.Errorf("wrapped: %w", apiErr(400, "ConditionalCheckFailedException")), true},
		{apiErr(503, "SlowDown"), false},
	}
	for _, tt := range tests {
		if got := backoff.IsConditionalFailure(tt.err); got != tt.want {
			t.Errorf("IsConditionalFailure(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestLoadAWSConfigAttemptTimeout(t *testing.T) {
	p := backoff.Policy{AttemptTimeout: 3 * time.Second}
	cfg, err := backoff.LoadAWSConfig(context.Background(), p,
		config.WithRegion("us-east-1"),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
	)
	if err != nil {
		t.Fatalf("LoadAWSConfig: %v", err)
	}
	bc, ok := cfg.HTTPClient.(*awshttp.BuildableClient)
	if !ok {
		t.Fatalf("HTTPClient is %T, want *awshttp.BuildableClient", cfg.HTTPClient)
	}
	if got := bc.GetTransport().ResponseHeaderTimeout; got != 3*time.Second {
		t.Errorf("ResponseHeaderTimeout = %v, want 3s", got)
	}
	if cfg.Retryer == nil {
		t.Error("cfg.Retryer is nil, want the backoff retryer")
	}
}
