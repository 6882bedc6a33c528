package backoff

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors wrapped (with %w, beside the last attempt's error) by Retry when it
// stops retrying. Test for them with errors.Is.
var (
	// ErrMaxAttempts means Policy.MaxAttempts attempts failed.
	ErrMaxAttempts = errors.New("backoff: attempts exhausted")
	// ErrDeadline means the next wait would end at or after the context's
	// deadline or Policy.MaxElapsed, so Retry returned instead of sleeping.
	// errors.Is(ErrDeadline, context.DeadlineExceeded) is true, so callers
	// that map deadline errors to timeouts need no special case.
	ErrDeadline = fmt.Errorf("backoff: next wait would pass the deadline: %w", context.DeadlineExceeded)
	// ErrBudgetExhausted means the shared retry Budget had too few tokens.
	ErrBudgetExhausted = errors.New("backoff: retry budget exhausted")
)

// Retry calls fn until it returns nil, returns an error that retryable
// rejects, or p says to stop; between attempts it waits p.NextDelay.
// A nil retryable retries every error.
//
// Retry never sleeps past ctx's deadline or p.MaxElapsed: when the next wait
// would, it returns at once. Its results are:
//   - nil when an attempt succeeded;
//   - fn's error unchanged when retryable rejected it;
//   - otherwise an error wrapping the reason (ErrMaxAttempts, ErrDeadline,
//     ErrBudgetExhausted, or ctx.Err() when ctx ended) and the last
//     attempt's error, so errors.Is and errors.As see both.
//
// With p.AttemptTimeout, each call of fn gets a context with that timeout; an
// attempt that times out while ctx is still live counts as a failed attempt.
//
// Retry is meant for compare-and-swap loops (a lost race on S3's If-Match or
// DynamoDB's condition expressions) and other calls the AWS SDK's retryer does
// not repeat on its own.
func Retry(ctx context.Context, p Policy, fn func(ctx context.Context) error, retryable func(error) bool) error {
	if fn == nil {
		return errors.New("backoff: Retry called with a nil fn")
	}
	maxAttempts := p.maxAttempts()
	start := p.now()
	var (
		prev    time.Duration
		release func() error // refunds the retry token if the retry succeeds
		lastErr error
	)
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return stopped(err, attempt-1, lastErr)
		}
		err := call(ctx, p.AttemptTimeout, fn)
		if err == nil {
			if p.Budget != nil {
				if release != nil {
					_ = release()
				} else {
					p.Budget.refundSuccess()
				}
			}
			return nil
		}
		lastErr = err
		if cerr := ctx.Err(); cerr != nil {
			return stopped(cerr, attempt, err)
		}
		if retryable != nil && !retryable(err) {
			return err
		}
		if attempt >= maxAttempts {
			return fmt.Errorf("%w after %d attempts: %w", ErrMaxAttempts, attempt, err)
		}
		d := p.NextDelay(attempt-1, prev)
		if crossesDeadline(ctx, p, start, d) {
			return fmt.Errorf("%w (after %d attempts, next wait %v): %w", ErrDeadline, attempt, d, err)
		}
		if p.Budget != nil {
			rel, berr := p.Budget.GetToken(ctx, retryCostOf(err))
			if berr != nil {
				return fmt.Errorf("%w after %d attempts: %w", ErrBudgetExhausted, attempt, err)
			}
			release = rel
		}
		if serr := p.sleep(ctx, d); serr != nil {
			return stopped(serr, attempt, err)
		}
		prev = d
	}
}

func call(ctx context.Context, timeout time.Duration, fn func(context.Context) error) error {
	if timeout <= 0 {
		return fn(ctx)
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return fn(actx)
}

// stopped reports that ctx ended (or a Sleep failed) after n attempts.
func stopped(reason error, n int, last error) error {
	if last == nil {
		return fmt.Errorf("backoff: %w before the first attempt", reason)
	}
	return fmt.Errorf("backoff: %w after %d attempts: %w", reason, n, last)
}

// crossesDeadline reports whether waiting d from now would end at or after
// ctx's deadline or start+p.MaxElapsed: an attempt starting then could not
// finish in time, so it is not worth the wait.
func crossesDeadline(ctx context.Context, p Policy, start time.Time, d time.Duration) bool {
	end := p.now().Add(d)
	if dl, ok := ctx.Deadline(); ok && !end.Before(dl) {
		return true
	}
	return p.MaxElapsed > 0 && end.Sub(start) > p.MaxElapsed
}

// retryCostOf prices a retry as the AWS SDK's standard mode does: a timeout
// costs twice as much, because it held a connection for the whole timeout.
func retryCostOf(err error) uint {
	var te interface{ Timeout() bool }
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &te) && te.Timeout()) {
		return TimeoutRetryCost
	}
	return RetryCost
}

// Sleep waits for d or until ctx is done, whichever is first. It returns nil
// after a full wait and ctx.Err() otherwise. It never sleeps past ctx's
// deadline: if d would end at or after it, Sleep returns ErrDeadline at once,
// so a caller does not hold a goroutine only to fail later.
// A d of zero or less returns ctx.Err() without waiting.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Add(d).Before(dl) {
		if err := ctx.Err(); err != nil {
			return err
		}
		return ErrDeadline
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
