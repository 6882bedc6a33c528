package backoff_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core/backoff"
)

// TestRetryNoAttemptTimeout: without AttemptTimeout fn gets the caller's
// context as it is, with no deadline of its own.
func TestRetryNoAttemptTimeout(t *testing.T) {
	c := newFakeClock()
	for _, timeout := range []time.Duration{0, -time.Second} {
		p := testPolicy(c)
		p.AttemptTimeout = timeout
		err := backoff.Retry(context.Background(), p, func(ctx context.Context) error {
			if _, ok := ctx.Deadline(); ok {
				return errors.New("attempt has a deadline")
			}
			return ctx.Err()
		}, nil)
		if err != nil {
			t.Errorf("AttemptTimeout %v: Retry = %v, want nil", timeout, err)
		}
	}
}

// TestRetryStopErrors: the error Retry returns says why it stopped and after
// how many attempts, and wraps the last attempt's error.
func TestRetryStopErrors(t *testing.T) {
	t.Run("canceled before the first attempt", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := backoff.Retry(ctx, testPolicy(newFakeClock()), func(context.Context) error { return nil }, nil)
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "before the first attempt") {
			t.Errorf("Retry = %v, want context.Canceled before the first attempt", err)
		}
	})
	t.Run("canceled during a wait", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c := newFakeClock()
		p := testPolicy(c)
		p.Sleep = func(ctx context.Context, d time.Duration) error {
			cancel() // the wait completes, but ctx is done before attempt 2
			return c.Sleep(context.Background(), d)
		}
		fn, calls := failing(100, errLost)
		err := backoff.Retry(ctx, p, fn, nil)
		if !errors.Is(err, context.Canceled) || !errors.Is(err, errLost) || !strings.Contains(err.Error(), "after 1 attempts") {
			t.Errorf("Retry = %v, want context.Canceled after 1 attempt wrapping the last error", err)
		}
		if *calls != 1 {
			t.Errorf("calls = %d, want 1", *calls)
		}
	})
	t.Run("the wait fails", func(t *testing.T) {
		c := newFakeClock()
		p := testPolicy(c)
		errSleep := errors.New("sleep failed")
		p.Sleep = func(context.Context, time.Duration) error { return errSleep }
		fn, calls := failing(100, errLost)
		err := backoff.Retry(context.Background(), p, fn, nil)
		if !errors.Is(err, errSleep) || !errors.Is(err, errLost) || !strings.Contains(err.Error(), "after 1 attempts") {
			t.Errorf("Retry = %v, want the sleep error after 1 attempt wrapping the last error", err)
		}
		if *calls != 1 {
			t.Errorf("calls = %d, want 1", *calls)
		}
	})
	t.Run("attempts exhausted", func(t *testing.T) {
		fn, _ := failing(100, errLost)
		err := backoff.Retry(context.Background(), testPolicy(newFakeClock()), fn, nil)
		if !errors.Is(err, backoff.ErrMaxAttempts) || !strings.Contains(err.Error(), "after 5 attempts") {
			t.Errorf("Retry = %v, want ErrMaxAttempts after 5 attempts", err)
		}
	})
}

// TestRetryRetryableTrue: errors the predicate accepts are retried.
func TestRetryRetryableTrue(t *testing.T) {
	c := newFakeClock()
	fn, calls := failing(2, errLost)
	if err := backoff.Retry(context.Background(), testPolicy(c), fn, func(err error) bool { return errors.Is(err, errLost) }); err != nil {
		t.Fatalf("Retry = %v, want nil", err)
	}
	if *calls != 3 {
		t.Errorf("calls = %d, want 3", *calls)
	}
}

// TestRetryMaxElapsedBoundary: a wait that ends exactly at MaxElapsed is
// taken; one that ends after it is not.
func TestRetryMaxElapsedBoundary(t *testing.T) {
	for _, tt := range []struct {
		maxElapsed time.Duration
		want       int // waits are 5ms, 10ms, 20ms
	}{{14 * time.Millisecond, 2}, {15 * time.Millisecond, 3}, {35 * time.Millisecond, 4}} {
		c := newFakeClock()
		p := testPolicy(c)
		p.MaxAttempts, p.MaxElapsed = 100, tt.maxElapsed
		fn, calls := failing(100, errLost)
		if err := backoff.Retry(context.Background(), p, fn, nil); !errors.Is(err, backoff.ErrDeadline) {
			t.Errorf("MaxElapsed %v: Retry = %v, want ErrDeadline", tt.maxElapsed, err)
		}
		if *calls != tt.want {
			t.Errorf("MaxElapsed %v: calls = %d, want %d", tt.maxElapsed, *calls, tt.want)
		}
	}
}

// TestRetryDeadlineBoundary: a wait that would end exactly at the context's
// deadline is not taken; one that ends a nanosecond before is.
func TestRetryDeadlineBoundary(t *testing.T) {
	dl := time.Now().Add(time.Hour)
	ctx, cancel := context.WithDeadline(context.Background(), dl)
	defer cancel()
	for _, tt := range []struct {
		left time.Duration
		want int
	}{{5 * time.Millisecond, 1}, {5*time.Millisecond + 1, 2}} {
		c := &fakeClock{now: dl.Add(-tt.left)}
		fn, calls := failing(1, errLost)
		err := backoff.Retry(ctx, testPolicy(c), fn, nil)
		if *calls != tt.want {
			t.Errorf("%v before the deadline, 5ms wait: calls = %d (err %v), want %d", tt.left, *calls, err, tt.want)
		}
	}
}

// TestRetryBudgetAccounting: a first-attempt success refunds SuccessRefund,
// a successful retry refunds its own cost, and a retry after a timeout costs
// TimeoutRetryCost.
func TestRetryBudgetAccounting(t *testing.T) {
	tests := []struct {
		name        string
		failures    int
		err         error
		maxAttempts int
		want        uint // of 100, after 50 were taken
	}{
		{"first attempt succeeds", 0, errLost, 3, 50 + backoff.SuccessRefund},
		{"retry succeeds", 1, errLost, 3, 50},
		{"two retries, the second succeeds", 2, errLost, 3, 50 - backoff.RetryCost},
		{"plain error, no retry left", 100, errLost, 2, 50 - backoff.RetryCost},
		{"deadline error", 100, context.DeadlineExceeded, 2, 50 - backoff.TimeoutRetryCost},
		{"wrapped deadline error", 100, errors.Join(errLost, context.DeadlineExceeded), 2, 50 - backoff.TimeoutRetryCost},
		{"net timeout error", 100, &timeoutError{}, 2, 50 - backoff.TimeoutRetryCost},
		{"Timeout() false", 100, notTimeoutError{}, 2, 50 - backoff.RetryCost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := backoff.NewBudget(100)
			if _, err := b.GetToken(context.Background(), 50); err != nil {
				t.Fatal(err)
			}
			p := testPolicy(newFakeClock())
			p.Budget, p.MaxAttempts = b, tt.maxAttempts
			fn, _ := failing(tt.failures, tt.err)
			_ = backoff.Retry(context.Background(), p, fn, nil)
			if got := b.Remaining(); got != tt.want {
				t.Errorf("budget left = %d, want %d", got, tt.want)
			}
		})
	}
}

type notTimeoutError struct{}

func (notTimeoutError) Error() string { return "refused" }
func (notTimeoutError) Timeout() bool { return false }

// TestSleepDoneContext: a done context ends Sleep with its own error, for
// any d, and a context already past its deadline is not ErrDeadline.
func TestSleepDoneContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := 0; i < 50; i++ { // a select between two ready channels would pick either
		if err := backoff.Sleep(ctx, 0); err != context.Canceled {
			t.Fatalf("Sleep(canceled, 0) = %v, want context.Canceled", err)
		}
	}
	past, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	if err := backoff.Sleep(past, time.Hour); err != context.DeadlineExceeded {
		t.Errorf("Sleep on an expired ctx = %v, want context.DeadlineExceeded itself", err)
	}
	if err := backoff.Sleep(past, 0); err != context.DeadlineExceeded {
		t.Errorf("Sleep(expired, 0) = %v, want context.DeadlineExceeded", err)
	}
}

// TestBudgetRefundBounds: deposits stop at the capacity and a withdrawal of
// exactly the tokens left succeeds.
func TestBudgetRefundBounds(t *testing.T) {
	b := backoff.NewBudget(10)
	if _, err := b.GetToken(context.Background(), 7); err != nil {
		t.Fatal(err)
	}
	_ = b.AddTokens(3)
	if got := b.Remaining(); got != 6 {
		t.Errorf("after AddTokens(3) on 3 of 10: %d, want 6", got)
	}
	_ = b.AddTokens(5)
	if got := b.Remaining(); got != 10 {
		t.Errorf("after AddTokens(5) on 6 of 10: %d, want the capacity 10", got)
	}
	if _, err := b.GetToken(context.Background(), 10); err != nil || b.Remaining() != 0 {
		t.Errorf("GetToken(10) on 10 = %v, left %d; want nil, 0", err, b.Remaining())
	}
}
