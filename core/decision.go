package core

import "time"

// Decision is the answer to one Take, Acquire or Extend. Every store returns the same
// Decision for the same sequence of calls.
type Decision struct {
	// Allowed reports whether the cost was spent (or the lease granted).
	Allowed bool
	// Shadow reports that the decision came from a limit in shadow mode: a denial was
	// evaluated and reported but not enforced.
	Shadow bool
	// Limit is the most cost one decision can be allowed: the policy's Limit, or Burst for
	// token buckets.
	Limit int64
	// Remaining is the cost that could still be spent now, after this decision (never
	// negative).
	Remaining int64
	// ResetAfter is the time until the allowance is fully restored: the end of the window,
	// or the time the token bucket refills completely. Zero for concurrency decisions.
	ResetAfter time.Duration
	// RetryAfter is, on a denial, the time after which the same cost may be allowed; zero
	// when allowed. For concurrency it is a hint: a holder may release sooner.
	RetryAfter time.Duration
	// Policy is the policy the decision was made under.
	Policy Policy
}
