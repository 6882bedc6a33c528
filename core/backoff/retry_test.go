package backoff_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core/backoff"
)

var errLost = errors.New("lost the race")

// failing returns an fn that fails n times with err, then succeeds, and a
// pointer to its call count.
func failing(n int, err error) (func(context.Context) error, *int) {
	calls := 0
	return func(context.Context) error {
		calls++
		if calls <= n {
			return err
		}
		return nil
	}, &calls
}

func testPolicy(c *fakeClock) backoff.Policy {
	return backoff.Policy{
		Base: 10 * time.Millisecond, Cap: time.Second, MaxAttempts: 5,
		Rand: constRand(0.5), Now: c.Now, Sleep: c.Sleep,
	}
}

func TestRetrySucceedsAfterFailures(t *testing.T) {
	c := newFakeClock()
	fn, calls := failing(3, errLost)
	if err := backoff.Retry(context.Background(), testPolicy(c), fn, nil); err != nil {
		t.Fatalf("Retry = %v, want nil", err)
	}
	if *calls != 4 {
		t.Errorf("calls = %d, want 4", *calls)
	}
	want := []time.Duration{5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond}
	if got := c.Sleeps(); !slices.Equal(got, want) {
		t.Errorf("sleeps = %v, want %v", got, want)
	}
}

func TestRetryMaxAttempts(t *testing.T) {
	c := newFakeClock()
	fn, calls := failing(100, errLost)
	err := backoff.Retry(context.Background(), testPolicy(c), fn, nil)
	if !errors.Is(err, backoff.ErrMaxAttempts) || !errors.Is(err, errLost) {
		t.Fatalf("Retry = %v, want ErrMaxAttempts wrapping the last error", err)
	}
	if *calls != 5 {
		t.Errorf("calls = %d, want MaxAttempts 5", *calls)
	}
}

func TestRetryNotRetryable(t *testing.T) {
	c := newFakeClock()
	permanent := errors.New("permanent")
	fn, calls := failing(100, permanent)
	err := backoff.Retry(context.Background(), testPolicy(c), fn, func(err error) bool { return !errors.Is(err, permanent) })
	if err != permanent {
		t.Fatalf("Retry = %v, want the unwrapped error %v", err, permanent)
	}
	if *calls != 1 || len(c.Sleeps()) != 0 {
		t.Errorf("calls = %d, sleeps = %v; want 1 call, no sleep", *calls, c.Sleeps())
	}
}

func TestRetryStopsBeforeDeadline(t *testing.T) {
	c := newFakeClock()
	// 5ms + 10ms + 20ms = 35ms of waits fit; the 40ms wait would end after
	// the 50ms deadline.
	ctx, cancel := context.WithDeadline(context.Background(), c.Now().Add(50*time.Millisecond))
	defer cancel()
	p := testPolicy(c)
	p.MaxAttempts = 100
	fn, calls := failing(100, errLost)
	err := backoff.Retry(ctx, p, fn, nil)
	if !errors.Is(err, backoff.ErrDeadline) || !errors.Is(err, errLost) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Retry = %v, want ErrDeadline wrapping the last error", err)
	}
	if *calls != 4 {
		t.Errorf("calls = %d, want 4", *calls)
	}
	var total time.Duration
	for _, d := range c.Sleeps() {
		total += d
	}
	if total >= 50*time.Millisecond {
		t.Errorf("slept %v in total, want less than the 50ms deadline", total)
	}
}

func TestRetryMaxElapsed(t *testing.T) {
	c := newFakeClock()
	p := testPolicy(c)
	p.MaxAttempts, p.MaxElapsed = 100, 30*time.Millisecond
	fn, calls := failing(100, errLost)
	err := backoff.Retry(context.Background(), p, fn, nil)
	if !errors.Is(err, backoff.ErrDeadline) {
		t.Fatalf("Retry = %v, want ErrDeadline", err)
	}
	if *calls != 3 { // waits 5ms and 10ms fit in 30ms; 5+10+20 does not
		t.Errorf("calls = %d, want 3", *calls)
	}
}

func TestRetryContextCanceled(t *testing.T) {
	c := newFakeClock()
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := backoff.Retry(ctx, testPolicy(c), func(context.Context) error {
		calls++
		if calls == 2 {
			cancel()
		}
		return errLost
	}, nil)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, errLost) {
		t.Fatalf("Retry = %v, want context.Canceled wrapping the last error", err)
	}
	if calls != 2 {
		t.Errorf("calls = %d, want 2", calls)
	}

	fn, calls2 := failing(0, nil)
	if err := backoff.Retry(ctx, testPolicy(c), fn, nil); !errors.Is(err, context.Canceled) || *calls2 != 0 {
		t.Errorf("Retry on a canceled ctx = %v after %d calls, want context.Canceled and no call", err, *calls2)
	}
}

func TestRetryAttemptTimeout(t *testing.T) {
	c := newFakeClock()
	p := testPolicy(c)
	p.AttemptTimeout = time.Hour
	var deadlines []bool
	fn := func(ctx context.Context) error {
		_, ok := ctx.Deadline()
		deadlines = append(deadlines, ok)
		if len(deadlines) == 1 {
			return context.DeadlineExceeded // the attempt timed out; ctx is live
		}
		return nil
	}
	if err := backoff.Retry(context.Background(), p, fn, nil); err != nil {
		t.Fatalf("Retry = %v, want nil", err)
	}
	if !slices.Equal(deadlines, []bool{true, true}) {
		t.Errorf("attempt contexts had deadlines %v, want [true true]", deadlines)
	}
}

func TestRetryBudget(t *testing.T) {
	c := newFakeClock()
	b := backoff.NewBudget(10) // two retries' worth
	p := testPolicy(c)
	p.Budget, p.MaxAttempts = b, 100
	fn, calls := failing(100, errLost)
	err := backoff.Retry(context.Background(), p, fn, nil)
	if !errors.Is(err, backoff.ErrBudgetExhausted) || !errors.Is(err, errLost) {
		t.Fatalf("Retry = %v, want ErrBudgetExhausted wrapping the last error", err)
	}
	if *calls != 3 || b.Remaining() != 0 {
		t.Errorf("calls = %d, remaining = %d; want 3 calls and an empty budget", *calls, b.Remaining())
	}
	// A successful retry refunds its cost.
	b2 := backoff.NewBudget(10)
	p.Budget = b2
	fn, _ = failing(1, errLost)
	if err := backoff.Retry(context.Background(), p, fn, nil); err != nil {
		t.Fatalf("Retry = %v, want nil", err)
	}
	if b2.Remaining() != 10 {
		t.Errorf("after a successful retry remaining = %d, want 10", b2.Remaining())
	}
}

func TestRetryNilFn(t *testing.T) {
	if err := backoff.Retry(context.Background(), backoff.Policy{}, nil, nil); err == nil {
		t.Fatal("Retry(nil fn) = nil, want an error")
	}
}

func TestSleep(t *testing.T) {
	if err := backoff.Sleep(context.Background(), 0); err != nil {
		t.Errorf("Sleep(0) = %v, want nil", err)
	}
	if err := backoff.Sleep(context.Background(), time.Microsecond); err != nil {
		t.Errorf("Sleep(1µs) = %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := backoff.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep on a canceled ctx = %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if err := backoff.Sleep(ctx, 2*time.Hour); !errors.Is(err, backoff.ErrDeadline) {
		t.Errorf("Sleep past the deadline = %v, want ErrDeadline at once", err)
	}
}

func TestBudget(t *testing.T) {
	b := backoff.NewBudget(0)
	if got := b.Remaining(); got != backoff.DefaultBudgetTokens {
		t.Fatalf("NewBudget(0).Remaining() = %d, want %d", got, backoff.DefaultBudgetTokens)
	}
	release, err := b.GetToken(context.Background(), 5)
	if err != nil || b.Remaining() != 495 {
		t.Fatalf("GetToken(5) = %v, remaining %d; want nil, 495", err, b.Remaining())
	}
	_ = release()
	_ = release() // a second release must not refund twice
	if b.Remaining() != 500 {
		t.Errorf("after release remaining = %d, want 500", b.Remaining())
	}
	_ = b.AddTokens(100)
	if b.Remaining() != 500 {
		t.Errorf("AddTokens above capacity: remaining = %d, want 500", b.Remaining())
	}
	small := backoff.NewBudget(4)
	if _, err := small.GetToken(context.Background(), 5); !errors.Is(err, backoff.ErrBudgetExhausted) || small.Remaining() != 4 {
		t.Errorf("GetToken(5) on 4 tokens = %v, remaining %d; want ErrBudgetExhausted, 4", err, small.Remaining())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.GetToken(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("GetToken on a canceled ctx = %v, want context.Canceled", err)
	}
}

// TestBudgetStopsAmplification: during an outage, a shared budget turns
// MaxAttempts calls per request into about one.
func TestBudgetStopsAmplification(t *testing.T) {
	c := newFakeClock()
	b := backoff.NewBudget(0)
	p := testPolicy(c)
	p.Budget = b
	calls := 0
	down := func(context.Context) error { calls++; return fmt.Errorf("503: %w", errLost) }
	const requests = 1000
	for i := 0; i < requests; i++ {
		_ = backoff.Retry(context.Background(), p, down, nil)
	}
	// 500 tokens buy 100 retries; every request makes its first call.
	if want := requests + 100; calls != want {
		t.Errorf("calls = %d for %d requests, want %d (budget spent, then no retries)", calls, requests, want)
	}
}
