package backoff

import (
	"context"
	"fmt"
	"sync"
)

// Token costs of the retry budget, the same as the AWS SDK's standard retry
// mode (aws/retry.DefaultRetryCost, DefaultRetryTimeoutCost,
// DefaultNoRetryIncrement and DefaultRetryRateTokens), so a Budget shared by
// Retry and the AWS retryer behaves the same on both paths.
const (
	// DefaultBudgetTokens is a Budget's capacity when NewBudget gets 0.
	DefaultBudgetTokens uint = 500
	// RetryCost is withdrawn for each retry.
	RetryCost uint = 5
	// TimeoutRetryCost is withdrawn for a retry after a timeout.
	TimeoutRetryCost uint = 10
	// SuccessRefund is deposited when a first attempt succeeds. A retry
	// that succeeds refunds its own cost instead.
	SuccessRefund uint = 1
)

// Budget is a token bucket that bounds retries, as the AWS SDK's retry quota
// does: each retry withdraws RetryCost tokens, a retry that succeeds gives
// them back, and a first attempt that succeeds adds SuccessRefund, up to the
// capacity. When a dependency fails persistently, the bucket empties after
// capacity/RetryCost retries and callers stop retrying, so a fleet of clients
// sends about one call per request instead of MaxAttempts calls: retries do
// not amplify an outage (AWS Builders' Library, "Timeouts, retries, and
// backoff with jitter").
//
// Budget implements the AWS SDK's retry.RateLimiter, so one Budget can be
// given to Retry, Transport and the AWS retryer through Policy.Budget.
// It is safe for concurrent use.
type Budget struct {
	mu       sync.Mutex
	tokens   uint
	capacity uint
}

// NewBudget returns a full Budget of capacity tokens (DefaultBudgetTokens if
// capacity is 0).
func NewBudget(capacity uint) *Budget {
	if capacity == 0 {
		capacity = DefaultBudgetTokens
	}
	return &Budget{tokens: capacity, capacity: capacity}
}

// Remaining returns the number of tokens left.
func (b *Budget) Remaining() uint {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tokens
}

// GetToken withdraws cost tokens. It returns a function that gives them back
// (call it when the retry succeeds) or, when fewer than cost tokens remain, an
// error wrapping ErrBudgetExhausted and withdraws nothing. It also fails if
// ctx is done. GetToken implements the AWS SDK's retry.RateLimiter.
func (b *Budget) GetToken(ctx context.Context, cost uint) (func() error, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("backoff: retry token: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tokens < cost {
		return nil, fmt.Errorf("%w: %d tokens left, %d needed", ErrBudgetExhausted, b.tokens, cost)
	}
	b.tokens -= cost
	var once sync.Once
	return func() error {
		once.Do(func() { _ = b.AddTokens(cost) })
		return nil
	}, nil
}

// AddTokens deposits n tokens, up to the capacity. It implements the AWS
// SDK's retry.RateLimiter and never fails.
func (b *Budget) AddTokens(n uint) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.capacity-b.tokens < n {
		b.tokens = b.capacity
	} else {
		b.tokens += n
	}
	return nil
}

func (b *Budget) refundSuccess() { _ = b.AddTokens(SuccessRefund) }
