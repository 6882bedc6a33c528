package core

import (
	"context"
	"time"
)

// adjuster is implemented by stores that can adjust a spent cost (storekit.Adjuster).
type adjuster interface {
	Adjust(ctx context.Context, key string, p Policy, delta int64, now time.Time) (Decision, error)
}

// adjustChecker is implemented by stores that can adjust some policies but not others
// (storekit.AdjustChecker).
type adjustChecker interface {
	CheckAdjust(p Policy) error
}

// Adjust changes what st has spent by delta at now, without a limit check, and returns the
// new state and a decision describing it: Allowed is always true (the adjustment is applied),
// Remaining is what may still be spent, and RetryAfter, when nothing may be spent (the key is
// at or past its limit: in debt), is when one unit may be spent again.
//
//   - Fixed and sliding windows: delta is added to the count of the window now is in (as
//     Take, a caller behind the stored window is counted in the stored one), and a count
//     never goes below zero: a refund cannot create allowance the window never had.
//   - Token bucket: the TAT moves by delta emission intervals from max(TAT, now), and never
//     below now: a refund cannot make the bucket fuller than full.
//
// A refund of a cost spent in a window that has since ended is not the store's concern: the
// limiter skips it (the window's allowance is gone), so a refund never gives a later window
// allowance that belonged to an earlier one.
func (p Policy) Adjust(st State, delta int64, now time.Time) (State, Decision) {
	return p.AdjustNanos(st, delta, now.UnixNano())
}

// AdjustNanos is [Policy.Adjust] with now in Unix nanoseconds.
func (p Policy) AdjustNanos(st State, delta int64, now int64) (State, Decision) {
	switch p.Algorithm {
	case FixedWindow:
		at := catchUp(st, now)
		start, _ := p.WindowBounds(at)
		if st.Window != start {
			st = State{Window: start}
		}
		st.Count = addCount(st.Count, delta)
	case SlidingWindow:
		at := catchUp(st, now)
		start, _ := p.WindowBounds(at)
		curr, prev := p.slidingCounts(st, start)
		st = State{Window: start, Count: addCount(curr, delta), Prev: prev}
	case TokenBucket:
		t := p.interval()
		// delta × interval, saturated so that no delta overflows the TAT.
		var move int64
		switch {
		case delta > maxAdjust/t:
			move = maxAdjust
		case delta < -maxAdjust/t:
			move = -maxAdjust
		default:
			move = delta * t
		}
		tat := st.TAT
		if tat < now || st == (State{}) { // the zero State: never seen, a full bucket even before 1970
			tat = now
		}
		st.TAT = max(tat+move, now)
	default:
		return st, Decision{Policy: p}
	}
	// The state's decision: a peek (cost 0) never changes the state.
	_, d := p.TakeNanos(st, 0, now)
	d.Allowed = true
	if d.Remaining < 1 {
		if _, next := p.TakeNanos(st, 1, now); !next.Allowed {
			d.RetryAfter = next.RetryAfter
		}
	}
	return st, d
}

// maxAdjust bounds a count and a TAT move so that no delta overflows int64 arithmetic: 2^61,
// past any limit a store holds and past 70 years of nanoseconds.
const maxAdjust = int64(1) << 61

// addCount returns count + delta, never below zero and never above maxAdjust.
func addCount(count, delta int64) int64 {
	switch {
	case delta > maxAdjust-count:
		return maxAdjust
	case count+delta < 0:
		return 0
	}
	return count + delta
}
