package core

import "time"

// MaxRules is the most limits one [Limiter] holds: enough for a burst limit, a sustained
// rate, a daily and a monthly quota. Results hold their decisions inline, so this bound keeps
// them on the stack.
const MaxRules = 4

// Result is the outcome of one request against all of a limiter's limits. It holds the
// decisions inline (no allocation); read them with [Result.Decisions].
type Result struct {
	// Allowed is false when an enforced limit denied the request (shadow denials do not
	// count) or, under FailClosed, when the store failed.
	Allowed bool
	// Degraded is the failure policy's doing, if any decision was not made by the store.
	Degraded Degradation
	n        int
	d        [MaxRules]Decision
	pending  []Policy // static policies of limits not evaluated (shared, read-only)
	// What settling needs of each decision: its key and cost, whether the shared store
	// spent it (not the denial cache, not a failure policy), and when it was decided.
	keys    [MaxRules]string
	costs   [MaxRules]int64
	spent   uint8 // bit i: decision i was allowed by the store and spent costs[i] (maybe 0)
	at      int64 // Unix ns of the decision
	limiter *Limiter
}

// Pending returns the policies of the limits that were not evaluated because an earlier
// limit denied the request (static policies only: a PolicyFunc's answer is not known without
// calling it). Header rendering lists them in RateLimit-Policy, which
// draft-ietf-httpapi-ratelimit-headers expects to be the same in every response of a
// resource, without a RateLimit item (their remaining quota is not known). The slice is
// shared: do not modify it.
func (r *Result) Pending() []Policy { return r.pending }

// Decisions returns the decisions made, in the limiter's order. Limits after an enforced
// denial are not evaluated, so the slice may be shorter than the limiter's list.
func (r *Result) Decisions() []Decision { return r.d[:r.n] }

// Denial returns the decision that denied the request, if one did.
func (r *Result) Denial() (Decision, bool) {
	for i := 0; i < r.n; i++ {
		if !r.d[i].Allowed && !r.d[i].Shadow {
			return r.d[i], true
		}
	}
	return Decision{}, false
}

// RetryAfter returns the longest RetryAfter among enforced denials (zero when allowed).
func (r *Result) RetryAfter() time.Duration {
	var ra time.Duration
	for i := 0; i < r.n; i++ {
		if !r.d[i].Allowed && !r.d[i].Shadow {
			ra = max(ra, r.d[i].RetryAfter)
		}
	}
	return ra
}

func (r *Result) add(d Decision, deg Degradation) {
	if r.n < MaxRules {
		r.d[r.n] = d
		r.n++
	}
	if deg > r.Degraded {
		r.Degraded = deg
	}
}

func durNs(ns int64) time.Duration {
	if ns < 0 {
		return 0
	}
	return time.Duration(ns)
}
