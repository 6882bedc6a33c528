package backoff_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/tollgate-go/tollgate/core/backoff"
)

// TestAWSOnRetryAttemptNumbers: WithOnRetry sees the failed attempt's number
// from 1 and the policy's delay, in both of the SDK's attempt numberings.
func TestAWSOnRetryAttemptNumbers(t *testing.T) {
	p := backoff.Policy{Base: 10 * time.Millisecond, Cap: time.Second, Rand: constRand(0.5)}
	for _, tt := range []struct {
		env   string
		first int // the number the SDK passes for the first failure
	}{{"", 1}, {"true", 0}} {
		t.Run("AWS_NEW_RETRIES_2026="+tt.env, func(t *testing.T) {
			t.Setenv("AWS_NEW_RETRIES_2026", tt.env)
			type call struct {
				attempt int
				delay   time.Duration
			}
			var calls []call
			r := backoff.NewAWSRetryer(p, backoff.WithOnRetry(func(attempt int, d time.Duration, _ error) {
				calls = append(calls, call{attempt, d})
			}))
			for i := 0; i < 3; i++ {
				if _, err := r.RetryDelay(tt.first+i, errors.New("throttled")); err != nil {
					t.Fatal(err)
				}
			}
			want := []call{{1, 5 * time.Millisecond}, {2, 10 * time.Millisecond}, {3, 20 * time.Millisecond}}
			if !slices.Equal(calls, want) {
				t.Errorf("OnRetry calls = %v, want %v", calls, want)
			}
		})
	}
}

// TestLoadAWSConfigNoAttemptTimeout: without AttemptTimeout the config keeps
// the SDK's own HTTP client (nil here, so each service client builds its
// default with the defaults mode's timeouts).
func TestLoadAWSConfigNoAttemptTimeout(t *testing.T) {
	t.Setenv("AWS_CA_BUNDLE", "") // a CA bundle makes the SDK build a client itself
	cfg, err := backoff.LoadAWSConfig(context.Background(), backoff.Policy{},
		config.WithRegion("us-east-1"),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
	)
	if err != nil {
		t.Fatalf("LoadAWSConfig: %v", err)
	}
	if cfg.HTTPClient != nil {
		t.Errorf("HTTPClient = %T, want nil (the SDK's default)", cfg.HTTPClient)
	}
}
