package redisstore

import (
	"fmt"
	"time"

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

// CheckPolicy implements [storekit.PolicyChecker]: it refuses a fixed or sliding window whose
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

// MaxWindowCount is the largest count a fixed or sliding window (or monthly quota) may hold,
// its Limit plus any debt that [Store.Adjust] charged past it, and the largest |delta| one
// Adjust of a window accepts: 2^52.
//
// Why: the adjust scripts add delta to the count in Lua doubles, exact while |count| and
// |delta| are at most 2^52 (their sum stays within 2^53). The take scripts stay exact too: a
// fixed window's count + cost is at most 2^52 + [MaxWindowLimit] < 2^53; a sliding window's
// weighted previous count + count + cost may round above 2^53, but only when its exact value
// is far above any Limit, and rounding is monotone, so the comparison with the Limit (at
// most 2^51, a double) is exact whichever way it rounds.
const MaxWindowCount = 1 << 52

// MaxTAT is the latest theoretical arrival time (TAT: when its debt is paid back and the
// bucket is full again), in Unix nanoseconds, to which [Store.Adjust] may move a token
// bucket: 2240-01-01T00:00:00Z. One Adjust may also move a TAT by at most MaxTAT's worth of
// nanoseconds (|delta| × emission interval ≤ MaxTAT).
//
// Why: core's arithmetic on a TAT adds up to two capacities of at most ten years each
// (core bounds burst × interval); from MaxTAT, that stays within int64 nanoseconds (which end
// in 2262). The script itself computes the TAT exactly, in (seconds, nanoseconds) pairs.
const MaxTAT = 8_520_336_000 * int64(time.Second)

// ErrAdjustOutOfRange is wrapped by the error [Store.Adjust] returns for an adjustment the
// store cannot hold exactly (see [MaxWindowCount] and [MaxTAT]); nothing is changed. It
// wraps [core.ErrCostExceedsCapacity], so a [core.Limiter] settling a cost treats it as the
// caller's error: reported to the observer, not retried.
var ErrAdjustOutOfRange error = rangeError("redisstore: adjustment out of range")

type rangeError string

func (e rangeError) Error() string { return string(e) }

func (e rangeError) Unwrap() error { return core.ErrCostExceedsCapacity }

// checkDelta refuses, before any I/O, a delta that one adjustment of p may not apply.
func checkDelta(p *core.Policy, delta int64) error {
	if p.Algorithm == core.TokenBucket {
		t := int64(p.EmissionInterval())
		if delta > MaxTAT/t || delta < -(MaxTAT/t) {
			return fmt.Errorf("%w: %s %q: delta %+d × emission interval %v moves the TAT by more than MaxTAT (%d ns)",
				ErrAdjustOutOfRange, p.Algorithm, p.Name, delta, p.EmissionInterval(), MaxTAT)
		}
		return nil
	}
	if delta > MaxWindowCount || delta < -MaxWindowCount {
		return fmt.Errorf("%w: %s %q: delta %+d is beyond ±MaxWindowCount (%d)", ErrAdjustOutOfRange, p.Algorithm, p.Name, delta, int64(MaxWindowCount))
	}
	return nil
}
