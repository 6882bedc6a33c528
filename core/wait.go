package core

import (
	"context"
	"math/rand/v2"
	"time"
)

// Wait configures [ConcurrencyLimiter.AcquireWait]: how long a request may wait for a slot
// instead of being denied at once. The zero value does not wait.
type Wait struct {
	// Max is the longest a request waits for a slot. Zero: deny at once.
	Max time.Duration
	// Delay returns the pause before retry n (0-based). Optional. Default: full jitter,
	// random(0, min(500ms, 10ms × 2^n)); core/backoff's Policy.Delay fits here.
	Delay func(n int) time.Duration
}

func (w Wait) delay(n int) time.Duration {
	if w.Delay != nil {
		return w.Delay(n)
	}
	window := 500 * time.Millisecond
	if n < 6 {
		window = min(window, 10*time.Millisecond<<n)
	}
	return time.Duration(rand.Int64N(int64(window) + 1))
}

// AcquireWait is [ConcurrencyLimiter.Acquire] that, when denied, polls again after a jittered
// pause until a slot frees, w.Max has passed, or ctx ends; then it returns the last denial.
// Waiting uses the real clock (time.Now), whatever Config.Now says.
func (c *ConcurrencyLimiter) AcquireWait(ctx context.Context, req Request, w Wait) (*Lease, Result, error) {
	lease, res, err := c.Acquire(ctx, req)
	if err != nil || res.Allowed || w.Max <= 0 {
		return lease, res, err
	}
	deadline := time.Now().Add(w.Max)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for n := 0; ; n++ {
		d := w.delay(n)
		if time.Now().Add(d).After(deadline) {
			return lease, res, nil
		}
		timer.Reset(d)
		select {
		case <-ctx.Done():
			return lease, res, nil
		case <-timer.C:
		}
		lease, res, err = c.Acquire(ctx, req)
		if err != nil || res.Allowed {
			return lease, res, err
		}
	}
}
