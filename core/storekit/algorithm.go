package storekit

import (
	"math"
	"time"

	"github.com/tollgate-go/tollgate/core"
)

// State is the per-(policy, key) state of the rate algorithms. Stores that apply the core
// math under their own atomic primitive (memory, S3 compare-and-swap) persist it as is; the
// zero State means "never seen".
type State struct {
	// Window is the start of the window Count belongs to, in Unix nanoseconds (fixed and
	// sliding window).
	Window int64 `json:"w,omitempty"`
	// Count is the cost spent in that window.
	Count int64 `json:"c,omitempty"`
	// Prev is the cost spent in the window before it (sliding window).
	Prev int64 `json:"p,omitempty"`
	// TAT is the GCRA theoretical arrival time in Unix nanoseconds (token bucket).
	TAT int64 `json:"t,omitempty"`
}

// Take spends cost under p at now (Unix nanoseconds), starting from st, and returns the new
// state and the decision. A denial leaves the state unchanged. Take is pure: same inputs, same
// outputs. A cost of 0 reports the current allowance without spending. Take does not validate
// p or cost; callers do (see [CheckTake]). Every store's decisions equal Take's for the same
// sequence of (now, cost); core/storetest checks this.
func Take(p core.Policy, st State, cost int64, now int64) (State, core.Decision) {
	// The algorithms write into Take's own results: a Decision carries its Policy, and
	// returning it through a second function's results was a fifth of Take's cost.
	var d core.Decision
	switch p.Algorithm {
	case core.FixedWindow:
		fixedWindow(&p, &st, cost, now, &d)
	case core.SlidingWindow:
		slidingWindow(&p, &st, cost, now, &d)
	case core.TokenBucket:
		gcra(&p, &st, cost, now, &d)
	default:
		d.Policy = p
	}
	return st, d
}

// Expiry returns the Unix nanosecond time after which st (of p) no longer affects any decision, so a
// store may forget it (and may set a TTL to it). It never depends on the caller's clock.
func Expiry(p core.Policy, st State) int64 {
	switch p.Algorithm {
	case core.FixedWindow:
		_, end := p.WindowBounds(st.Window)
		return end
	case core.SlidingWindow:
		// The count is still the "previous window" during the next window.
		return st.Window + 2*int64(p.Window)
	case core.TokenBucket:
		return st.TAT
	}
	return 0
}

// catchUp returns the time at which a fixed or sliding window decision is evaluated: now, or
// the start of st's window when st belongs to a window after now's. Shared state never goes
// back in time: a caller whose clock is behind the instance that wrote st (clock skew
// between instances) is counted against that newer window, as if its clock read the window's
// start, instead of resetting it to an older one. Without this, two instances whose clocks
// straddle a window boundary would wipe each other's count on every request.
//
// The bound this gives: each window admits at most Limit, whichever clocks spent in it, so
// over any span the cost admitted is at most Limit × the number of windows that any
// instance's clock entered; in real time a window's admissions fall between its start minus
// the largest skew and its end.
//
// The zero State is "never seen", not a window at the epoch: a clock before 1970 is not caught
// up to it (the stores that keep no state for a new key do the same).
func catchUp(st State, now int64) int64 {
	if st.Window > now && st != (State{}) {
		return st.Window
	}
	return now
}

func fixedWindow(p *core.Policy, st *State, cost, now int64, d *core.Decision) {
	at := catchUp(*st, now)
	start, end := p.WindowBounds(at)
	if st.Window != start {
		*st = State{Window: start}
	}
	// Durations are from the caller's clock (now), so that a lagging caller is told to wait
	// until its own clock reaches the newer window's end.
	*d = core.Decision{Limit: p.Limit, ResetAfter: time.Duration(end - now), Policy: *p}
	if st.Count+cost <= p.Limit {
		st.Count += cost
		d.Allowed = true
	} else {
		d.RetryAfter = time.Duration(end - now)
	}
	d.Remaining = p.Limit - st.Count
	if d.Remaining < 0 {
		d.Remaining = 0
	}
}

// SlidingWeight returns p's previous window's count weighted by the part of it that still
// overlaps the rolling window ending at now: floor(prev × (window − elapsed) / window),
// computed in float64 in that order so that stores computing it elsewhere (a Lua script, say)
// get the same value.
func SlidingWeight(p core.Policy, prev, now int64) int64 {
	if prev == 0 {
		return 0
	}
	start, _ := p.WindowBounds(now)
	w := float64(p.Window)
	return int64(math.Floor(float64(prev) * (w - float64(now-start)) / w))
}

// slidingCounts returns the current and previous counts as seen from now's window.
func slidingCounts(p *core.Policy, st State, start int64) (curr, prev int64) {
	switch st.Window {
	case start:
		return st.Count, st.Prev
	case start - int64(p.Window):
		return 0, st.Count
	}
	return 0, 0
}

func slidingWindow(p *core.Policy, st *State, cost, now int64, d *core.Decision) {
	// A caller behind the state's window is evaluated at that window's start (see catchUp),
	// where the previous window still weighs in full: the most conservative reading.
	at := catchUp(*st, now)
	lag := at - now
	start, end := p.WindowBounds(at)
	curr, prev := slidingCounts(p, *st, start)
	weighted := SlidingWeight(*p, prev, at)
	*d = core.Decision{Limit: p.Limit, ResetAfter: time.Duration(end - now), Policy: *p}
	if weighted+curr+cost <= p.Limit {
		curr += cost
		d.Allowed = true
		*st = State{Window: start, Count: curr, Prev: prev}
	} else {
		d.RetryAfter = slidingRetry(p, curr, prev, cost, at, start, end) + time.Duration(lag)
	}
	d.Remaining = p.Limit - weighted - curr
	if d.Remaining < 0 {
		d.Remaining = 0
	}
}

// slidingRetry returns when a cost denied at now could be allowed, assuming no other spending:
// later in this window if the previous window's weight alone is in the way, otherwise in the
// next window once the current count has decayed enough.
func slidingRetry(p *core.Policy, curr, prev, cost, now, start, end int64) time.Duration {
	w := float64(p.Window)
	// wait returns the elapsed time into a window at which floor(count × (w − e) / w) ≤ room.
	wait := func(count, room int64) int64 {
		if count <= room {
			return 0
		}
		return int64(math.Ceil(w - float64(room)*w/float64(count)))
	}
	if curr+cost <= p.Limit {
		if e := wait(prev, p.Limit-curr-cost); e > now-start {
			return time.Duration(e - (now - start))
		}
		return 1 // rounding: the next nanosecond
	}
	return time.Duration(end - now + wait(curr, p.Limit-cost))
}

// gcra is the token bucket. Its state, the theoretical arrival time, only moves forward:
// an allowed cost sets it to max(TAT, now) + cost × interval. So a caller whose clock is
// behind sees a fuller bucket than there is and is stricter, never looser; a caller whose
// clock is S ahead can spend at most S / interval more than the rate allows, once over the
// life of the key, not once per period: admitted ≤ Burst + (latest − earliest clock reading)
// / interval (core/storetest's RunSkew checks this bound on every store).
func gcra(p *core.Policy, st *State, cost, now int64, d *core.Decision) {
	t := int64(p.EmissionInterval())
	tau := p.Capacity() * t // the bucket's capacity, in time
	tat := st.TAT
	if tat < now || st.TAT == 0 { // zero: never seen, a full bucket even before 1970
		tat = now
	}
	newTAT := tat + cost*t
	*d = core.Decision{Limit: p.Capacity(), Policy: *p}
	if newTAT-now <= tau {
		st.TAT = newTAT
		d.Allowed = true
		d.Remaining = (now + tau - newTAT) / t
		d.ResetAfter = time.Duration(newTAT - now)
	} else {
		d.RetryAfter = time.Duration(newTAT - now - tau)
		// Clamped: a TAT more than tau ahead (written by an instance whose clock is ahead of
		// this one) would make it negative.
		d.Remaining = max((now+tau-tat)/t, 0)
		d.ResetAfter = time.Duration(tat - now)
	}
}

// Adjust changes what st (of p) has spent by delta at now (Unix nanoseconds), without a limit check, and returns the
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
func Adjust(p core.Policy, st State, delta int64, now int64) (State, core.Decision) {
	switch p.Algorithm {
	case core.FixedWindow:
		at := catchUp(st, now)
		start, _ := p.WindowBounds(at)
		if st.Window != start {
			st = State{Window: start}
		}
		st.Count = addCount(st.Count, delta)
	case core.SlidingWindow:
		at := catchUp(st, now)
		start, _ := p.WindowBounds(at)
		curr, prev := slidingCounts(&p, st, start)
		st = State{Window: start, Count: addCount(curr, delta), Prev: prev}
	case core.TokenBucket:
		t := int64(p.EmissionInterval())
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
		return st, core.Decision{Policy: p}
	}
	// The state's decision: a peek (cost 0) never changes the state.
	_, d := Take(p, st, 0, now)
	d.Allowed = true
	if d.Remaining < 1 {
		if _, next := Take(p, st, 1, now); !next.Allowed {
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
