package backoff

import (
	"context"
	"math"
	"math/rand/v2"
	"time"
)

// Defaults used when the corresponding Policy field is zero.
//
// DefaultBase is about one S3 or DynamoDB round trip: a compare-and-swap loop
// that lost a race should try again after roughly the time the winner needed,
// not after the SDK's one second. DefaultCap keeps a single wait well inside
// the per-decision time budget of a rate limiter on the request path; waiting
// longer than two seconds is worse than applying the failure policy.
// DefaultMaxAttempts matches the AWS SDK's standard retryer.
const (
	// DefaultBase is Policy.Base when it is zero.
	DefaultBase = 25 * time.Millisecond
	// DefaultCap is Policy.Cap when it is zero.
	DefaultCap = 2 * time.Second
	// DefaultMaxAttempts is Policy.MaxAttempts when it is zero.
	DefaultMaxAttempts = 3
)

// Jitter selects how a Policy randomises its exponential window. The zero
// value is FullJitter.
//
// The names and formulas are those of the AWS Architecture Blog post
// "Exponential Backoff And Jitter" (Marc Brooker, 2015), where
// window(n) = min(Cap, Base*2^n).
type Jitter uint8

const (
	// FullJitter waits random(0, window(n)). It is the default: it spreads
	// contending clients the most and needs the fewest calls (see the
	// simulation in the package documentation).
	FullJitter Jitter = iota
	// EqualJitter waits window(n)/2 + random(0, window(n)/2): never less than
	// half the window.
	EqualJitter
	// DecorrelatedJitter waits min(Cap, random(Base, 3*prev)), where prev is
	// the previous wait. See Policy.NextDelay.
	DecorrelatedJitter
	// NoJitter waits exactly window(n). It exists for comparison: clients
	// that fail together retry together.
	NoJitter
)

// String returns the jitter's name, as used in the simulation table.
func (j Jitter) String() string {
	switch j {
	case FullJitter:
		return "full"
	case EqualJitter:
		return "equal"
	case DecorrelatedJitter:
		return "decorrelated"
	case NoJitter:
		return "none"
	}
	return "unknown"
}

// Policy is an exponential backoff policy. The zero value is ready to use: full
// jitter, Base 25ms, Cap 2s, 3 attempts, no elapsed-time bound, no retry
// budget, the real clock and math/rand/v2.
//
// A Policy is a plain value; copy it freely. It is safe for concurrent use as
// long as Rand, Now and Sleep are (the defaults are). Budget is shared by every
// copy.
type Policy struct {
	// Base is the first window. Optional. Default: DefaultBase (25ms).
	Base time.Duration
	// Cap bounds every wait. Optional. Default: DefaultCap (2s).
	Cap time.Duration
	// MaxAttempts bounds the number of attempts, the first one included:
	// 1 disables retries. Optional. Default: DefaultMaxAttempts (3).
	MaxAttempts int
	// MaxElapsed bounds the time from the first attempt to the start of the
	// last one: Retry and Transport do not begin a wait that would end after
	// it. Optional. Default: no bound beyond the context's deadline.
	// The AWS retryer ignores it (the SDK gives a retryer no start time); give
	// AWS calls a context deadline instead.
	MaxElapsed time.Duration
	// AttemptTimeout bounds one attempt. Retry gives fn a context with this
	// timeout; LoadAWSConfig uses it as the HTTP transport's
	// ResponseHeaderTimeout, so a slow first byte is retried but a streamed
	// body (S3 GetObject) is never cut. Optional. Default: none.
	AttemptTimeout time.Duration
	// Jitter selects the randomisation. Optional. Default: FullJitter.
	Jitter Jitter
	// Rand returns a number in [0, 1); values outside are clamped. Inject a
	// seeded source or a constant in tests. Optional. Default:
	// math/rand/v2.Float64, which is safe for concurrent use.
	Rand func() float64
	// Budget, if set, limits retries across every caller that shares it:
	// each retry withdraws tokens and each success refunds some, so a fleet
	// stops retrying when most calls fail. Optional. Default: none for Retry
	// and Transport; the AWS retryer makes one per client, as the SDK does.
	Budget *Budget
	// Now returns the current time. Optional. Default: time.Now.
	Now func() time.Time
	// Sleep waits for d or until ctx is done. Optional. Default: the package's
	// Sleep. Tests inject a fake that advances a fake clock.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (p Policy) base() time.Duration {
	if p.Base <= 0 {
		return DefaultBase
	}
	return p.Base
}

func (p Policy) capDelay() time.Duration {
	if p.Cap <= 0 {
		return DefaultCap
	}
	return p.Cap
}

func (p Policy) maxAttempts() int {
	if p.MaxAttempts <= 0 {
		return DefaultMaxAttempts
	}
	return p.MaxAttempts
}

func (p Policy) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p Policy) sleep(ctx context.Context, d time.Duration) error {
	if p.Sleep != nil {
		return p.Sleep(ctx, d)
	}
	return Sleep(ctx, d)
}

func (p Policy) rand() float64 {
	var r float64
	if p.Rand != nil {
		r = p.Rand()
	} else {
		r = rand.Float64()
	}
	switch {
	case r > 0 && r <= 1:
		return r
	case r > 1:
		return 1
	}
	return 0 // negative or NaN
}

// Window returns min(Cap, Base*2^n), the upper bound of the n-th wait before
// jitter. n counts retries from 0; a negative n counts as 0.
func (p Policy) Window(n int) time.Duration {
	base, c := p.base(), p.capDelay()
	if n < 0 {
		n = 0
	}
	if base >= c || n >= 62 || base > c>>uint(n) {
		return c
	}
	return base << uint(n)
}

// Delay returns the wait before retry n+1, n counting from 0: Delay(0) is the
// wait after the first failure. With FullJitter it is in [0, Window(n)].
//
// Delay is stateless, so DecorrelatedJitter, which depends on the previous
// wait, takes Window(n-1) as that previous wait; Retry and Transport use the
// real previous wait through NextDelay.
func (p Policy) Delay(n int) time.Duration {
	return p.NextDelay(n, 0)
}

// NextDelay is Delay for callers that keep the previous wait: prev is what the
// caller waited before the current attempt (0 before the first retry). Only
// DecorrelatedJitter uses prev; when prev is 0 it takes Window(n-1).
func (p Policy) NextDelay(n int, prev time.Duration) time.Duration {
	w := p.Window(n)
	switch p.Jitter {
	case NoJitter:
		return w
	case EqualJitter:
		half := w / 2
		return half + scale(w-half, p.rand())
	case DecorrelatedJitter:
		base, c := p.base(), p.capDelay()
		if prev <= 0 {
			prev = p.Window(n - 1)
		}
		if prev < base {
			prev = base
		}
		// min(cap, random_between(base, 3*prev)), computed in float64 so a
		// large prev cannot overflow.
		d := float64(base) + p.rand()*(3*float64(prev)-float64(base))
		if d >= float64(c) {
			return c
		}
		return time.Duration(d)
	default: // FullJitter
		return scale(w, p.rand())
	}
}

// scale returns r*d for r in [0, 1], never more than d. The product is
// compared with d as a float64: above 2^53 float64(d) may round up, and for d
// near math.MaxInt64 it is 2^63, which does not convert back to a Duration.
func scale(d time.Duration, r float64) time.Duration {
	f := math.Floor(r * float64(d))
	if f >= float64(d) {
		return d
	}
	return time.Duration(f)
}
