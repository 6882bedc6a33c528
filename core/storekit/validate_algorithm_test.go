package storekit_test

import (
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// TestSlidingWindowLaggingRetry: a caller whose clock is behind the state's window is told to
// wait the lag too, so that its retry lands when the state's window allows it.
func TestSlidingWindowLaggingRetry(t *testing.T) {
	s := time.Second
	p := core.NewSlidingWindow("sw", 2, 10*s)
	b := t0 // a window boundary
	st, _ := storekit.Take(p, storekit.State{}, 2, b.Add(s).UnixNano())
	// Evaluated at b (the state's window start): the current count 2 must decay to 1, which
	// takes half of the next window: 10 s + 5 s from b, 16 s on the lagging clock.
	lag := b.Add(-s)
	_, d := storekit.Take(p, st, 1, lag.UnixNano())
	if d.Allowed || d.RetryAfter != 16*s || d.ResetAfter != 11*s {
		t.Fatalf("lagging by 1 s: %+v, want denied, retry 16s, reset 11s", d)
	}
	if _, d := storekit.Take(p, st, 1, lag.Add(16*s).UnixNano()); !d.Allowed {
		t.Fatalf("retry on the lagging clock: %+v", d)
	}
}

// TestOverdrawnState: state spent beyond a policy's limit (the limit lowered under the same
// name, or an Adjust) leaves nothing remaining, never a negative count.
func TestOverdrawnState(t *testing.T) {
	s := time.Second
	fw := core.NewFixedWindow("p", 3, 10*s)
	_, d := storekit.Take(fw, storekit.State{Window: t0.UnixNano(), Count: 5}, 1, t0.Add(s).UnixNano())
	if d.Allowed || d.Remaining != 0 || d.RetryAfter != 9*s {
		t.Errorf("fixed window at 5 of 3: %+v", d)
	}
	sw := core.NewSlidingWindow("p", 3, 10*s)
	_, d = storekit.Take(sw, storekit.State{Window: t0.UnixNano(), Count: 5}, 1, t0.Add(s).UnixNano())
	if d.Allowed || d.Remaining != 0 {
		t.Errorf("sliding window at 5 of 3: %+v", d)
	}
	// The previous window's weighted count alone is over the limit: even a peek is denied.
	_, d = storekit.Take(sw, storekit.State{Window: t0.UnixNano(), Count: 9}, 0, t0.Add(10*s+s).UnixNano())
	if d.Allowed || d.Remaining != 0 {
		t.Errorf("sliding window peek with a weighted 8 of 3: %+v", d)
	}
}

// TestTakeUnknownAlgorithm: a policy that is not a rate policy decides nothing and keeps the
// state (callers validate; this is the documented fallback).
func TestTakeUnknownAlgorithm(t *testing.T) {
	st := storekit.State{Window: 1, Count: 2, Prev: 3, TAT: 4}
	for _, p := range []core.Policy{
		core.NewConcurrency("c", 1, time.Second),
		{Name: "x", Algorithm: 0, Limit: 1, Window: time.Second},
	} {
		got, d := storekit.Take(p, st, 1, t0.UnixNano())
		if got != st || d != (core.Decision{Policy: p}) {
			t.Errorf("%v: Take gave %+v, %+v", p.Algorithm, got, d)
		}
		if e := storekit.Expiry(p, st); e != 0 {
			t.Errorf("%v: Expiry %d, want 0", p.Algorithm, e)
		}
	}
}

// TestExpiry pins when each algorithm's state stops mattering.
func TestExpiry(t *testing.T) {
	s := int64(time.Second)
	w := t0.UnixNano()
	cases := []struct {
		p    core.Policy
		st   storekit.State
		want int64
	}{
		{core.NewFixedWindow("fw", 1, 10*time.Second), storekit.State{Window: w, Count: 1}, w + 10*s},
		{core.NewFixedWindow("fw", 1, 10*time.Second), storekit.State{Window: w + 3*s, Count: 1}, w + 10*s},
		{core.NewSlidingWindow("sw", 1, 10*time.Second), storekit.State{Window: w, Count: 1}, w + 20*s},
		{core.NewTokenBucket("tb", 1, 10*time.Second, 0), storekit.State{TAT: w + 7}, w + 7},
		{core.NewMonthlyQuota("m", 1), storekit.State{Window: time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC).UnixNano(), Count: 1}, time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()},
	}
	for _, c := range cases {
		if got := storekit.Expiry(c.p, c.st); got != c.want {
			t.Errorf("%s %+v: Expiry %d, want %d", c.p.Name, c.st, got, c.want)
		}
	}
}

// TestSlidingWindowHugeWindow: a window longer than float64 holds exactly (2^53 + 1 ns, about
// 104 days) still gives a retry time at which the previous window's weight, computed in
// float64, lets the cost through: when only that weight is in the way, the retry is where the
// weight reaches the room left, on the float64 window (2^53 ns), not the end of the window.
func TestSlidingWindowHugeWindow(t *testing.T) {
	w := time.Duration(1<<53 + 1)
	p := core.NewSlidingWindow("sw", 1, w)
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	start := 3 * int64(w)
	st := storekit.State{Window: start - int64(w), Count: 1}
	_, d := storekit.Take(p, st, 1, start)
	if d.Allowed || d.RetryAfter != 1<<53 || d.ResetAfter != w {
		t.Fatalf("denied at the window's start: %+v, want retry 2^53 ns, reset 2^53+1 ns", d)
	}
	if _, d := storekit.Take(p, st, 1, start+int64(d.RetryAfter)); !d.Allowed {
		t.Fatalf("at the retry time: %+v", d)
	}
}
