package redisstore

import (
	"fmt"

	"github.com/tollgate-go/tollgate/core"
)

// MaxWindowLimit is the largest Limit the store accepts for fixed and sliding windows (and
// monthly quotas): 2^51.
//
// Why: Lua numbers are IEEE doubles, whose integers are exact up to 2^53. The scripts add
// counts: a fixed window tests count + cost ≤ Limit, where both terms are at most Limit, so it
// needs 2 × Limit ≤ 2^53; a sliding window tests weighted previous count + count + cost ≤
// Limit, three terms of at most Limit each, so it needs 3 × Limit ≤ 2^53, that is Limit ≤
// 3,002,399,751,580,330. One bound serves both: 2^51, the largest power of two below it.
// Costs need no bound of their own: core refuses a cost above the policy's capacity.
//
// Token buckets and concurrency policies have no such bound. The token bucket script handles
// only times and durations (cost × interval, burst × interval), which it splits into whole
// seconds and nanoseconds, each exact; core bounds burst × interval at ten years, so any burst
// and cost core accepts is computed exactly, even past 2^53. The lease script compares the
// number of leases held, which memory keeps far below 2^53, with the limit.
const MaxWindowLimit = 1 << 51

// CheckPolicy implements [core.PolicyChecker]: it refuses a fixed or sliding window whose
// Limit is above [MaxWindowLimit], with an error wrapping [core.ErrInvalidPolicy] that names
// the field and the bound. [core.NewLimiter] and [core.NewConcurrencyLimiter] call it when
// they are built (and on every PolicyFunc answer), so such a policy is refused up front
// instead of failing every request; Take refuses it too.
func (s *Store) CheckPolicy(p core.Policy) error {
	switch p.Algorithm {
	case core.FixedWindow, core.SlidingWindow:
		if p.Limit > MaxWindowLimit {
			return policyError(fmt.Sprintf("redisstore: policy %q: Limit %d is above MaxWindowLimit %d (2^51): the scripts add %s counts as Lua doubles, exact only to 2^53",
				p.Name, p.Limit, int64(MaxWindowLimit), p.Algorithm))
		}
	}
	return nil
}

// policyError is a policy the store refuses. It wraps [core.ErrInvalidPolicy] without
// repeating its text, so the message reads as one sentence.
type policyError string

func (e policyError) Error() string { return string(e) }

func (e policyError) Unwrap() error { return core.ErrInvalidPolicy }
