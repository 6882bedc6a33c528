package storekit_test

import (
	"math"
	"math/rand"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

var t0 = time.Unix(1_800_000_000, 0) // aligned to every window used below

type step struct {
	at        time.Duration // since t0
	cost      int64
	allowed   bool
	remaining int64
	retry     time.Duration
	reset     time.Duration
}

func runSteps(t *testing.T, p core.Policy, steps []step) {
	t.Helper()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	var st storekit.State
	for i, s := range steps {
		var d core.Decision
		st, d = storekit.Take(p, st, s.cost, t0.Add(s.at).UnixNano())
		if d.Allowed != s.allowed || d.Remaining != s.remaining || d.RetryAfter != s.retry || d.ResetAfter != s.reset {
			t.Fatalf("step %d (t0+%v cost %d): got allowed=%v remaining=%d retry=%v reset=%v; want allowed=%v remaining=%d retry=%v reset=%v",
				i, s.at, s.cost, d.Allowed, d.Remaining, d.RetryAfter, d.ResetAfter, s.allowed, s.remaining, s.retry, s.reset)
		}
	}
}

func TestFixedWindowSteps(t *testing.T) {
	s := time.Second
	runSteps(t, core.NewFixedWindow("fw", 3, 10*s), []step{
		{0, 1, true, 2, 0, 10 * s},
		{2 * s, 2, true, 0, 0, 8 * s},
		{3 * s, 1, false, 0, 7 * s, 7 * s},
		{9 * s, 0, true, 0, 0, 1 * s}, // a peek
		{10 * s, 3, true, 0, 0, 10 * s},
		{15 * s, 1, false, 0, 5 * s, 5 * s},
		{35 * s, 2, true, 1, 0, 5 * s}, // two windows later: fresh
	})
}

func TestSlidingWindowSteps(t *testing.T) {
	s := time.Second
	runSteps(t, core.NewSlidingWindow("sw", 10, 10*s), []step{
		{0, 10, true, 0, 0, 10 * s},
		{5 * s, 1, false, 0, 6 * s, 5 * s}, // the window is full: wait for the next, until floor(10×(10-e)/10)+1 <= 10 at e = 1 s
		// In the next window, 2.5 s in: weight = floor(10×7.5/10) = 7, so 3 more fit.
		{12500 * time.Millisecond, 3, true, 0, 0, 7500 * time.Millisecond},
		{13 * s, 1, false, 0, 1 * s, 7 * s}, // floor(10×0.7)=7 + 3 = 10: wait until weight 6 at e=4 s
		{14 * s, 1, true, 0, 0, 6 * s},
		{30 * s, 5, true, 5, 0, 10 * s}, // two windows on: no previous
	})
}

func TestTokenBucketSteps(t *testing.T) {
	s := time.Second
	// 2 per second (interval 500 ms), burst 4.
	runSteps(t, core.NewTokenBucket("tb", 2, s, 4), []step{
		{0, 4, true, 0, 0, 2 * s},
		{0, 1, false, 0, 500 * time.Millisecond, 2 * s},
		{500 * time.Millisecond, 1, true, 0, 0, 2 * s},
		{s, 2, false, 1, 500 * time.Millisecond, 1500 * time.Millisecond},
		{1500 * time.Millisecond, 2, true, 0, 0, 2 * s},
		{10 * s, 1, true, 3, 0, 500 * time.Millisecond}, // refilled completely
	})
}

// TestTokenBucketClockBehind: a TAT written by an instance whose clock is ahead, seen from
// one whose clock is behind by more than the bucket's capacity, leaves nothing remaining,
// never a negative count (it would become an invalid RateLimit header).
func TestTokenBucketClockBehind(t *testing.T) {
	p := core.NewTokenBucket("tb", 2, time.Second, 4) // tau 2 s
	st, _ := storekit.Take(p, storekit.State{}, 4, t0.Add(10*time.Second).UnixNano())
	_, d := storekit.Take(p, st, 1, t0.UnixNano())
	if d.Allowed || d.Remaining != 0 || d.RetryAfter != 10*time.Second+500*time.Millisecond {
		t.Fatalf("12 s behind the TAT: got allowed=%v remaining=%d retry=%v; want denied, remaining 0, retry 10.5s", d.Allowed, d.Remaining, d.RetryAfter)
	}
}

// TestRetryAfterIsExact checks, on random sequences, that a denied cost is allowed at exactly
// now+RetryAfter (if nothing else happens) and, for fixed windows and token buckets, still
// denied a nanosecond earlier.
func TestRetryAfterIsExact(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, p := range []core.Policy{
		core.NewFixedWindow("fw", 7, 3*time.Second),
		core.NewSlidingWindow("sw", 7, 3*time.Second),
		core.NewTokenBucket("tb", 3, time.Second, 5),
		core.NewTokenBucket("tb7", 7, time.Second, 2),
	} {
		var st storekit.State
		now := t0
		checked := 0
		for i := 0; i < 5000; i++ {
			now = now.Add(time.Duration(rng.Int63n(int64(400 * time.Millisecond))))
			cost := int64(1 + rng.Intn(int(p.Capacity())))
			next, d := storekit.Take(p, st, cost, now.UnixNano())
			if !d.Allowed {
				checked++
				if _, again := storekit.Take(p, st, cost, now.Add(d.RetryAfter).UnixNano()); !again.Allowed {
					t.Fatalf("%s: denied cost %d at %v with RetryAfter %v, but still denied then (%+v)", p.Name, cost, now, d.RetryAfter, again)
				}
				if p.Algorithm != core.SlidingWindow && d.RetryAfter > 1 {
					if _, early := storekit.Take(p, st, cost, now.Add(d.RetryAfter-1).UnixNano()); early.Allowed {
						t.Fatalf("%s: RetryAfter %v overstates: allowed 1 ns earlier", p.Name, d.RetryAfter)
					}
				}
			}
			st = next
		}
		if checked < 100 {
			t.Fatalf("%s: only %d denials exercised", p.Name, checked)
		}
	}
}

func TestMonthlyQuota(t *testing.T) {
	p := core.NewMonthlyQuota("month", 2)
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	jan31 := time.Date(2027, 1, 31, 23, 59, 0, 0, time.UTC)
	st, d := storekit.Take(p, storekit.State{}, 2, jan31.UnixNano())
	if !d.Allowed || d.ResetAfter != time.Minute {
		t.Fatalf("first take: %+v", d)
	}
	if _, d = storekit.Take(p, st, 1, jan31.Add(30*time.Second).UnixNano()); d.Allowed || d.RetryAfter != 30*time.Second {
		t.Fatalf("over quota in January: %+v", d)
	}
	if _, d = storekit.Take(p, st, 1, jan31.Add(time.Minute).UnixNano()); !d.Allowed || d.ResetAfter != 28*24*time.Hour {
		t.Fatalf("February 1st: %+v (want a fresh quota resetting in 28 days)", d)
	}
}

// TestWindowsNeverGoBack is the reliability issue's reproduction: two callers whose clocks
// straddle a boundary (one second before it, one second after) alternate on one key. Today's
// state must never be reset by a caller still in the older window.
func TestWindowsNeverGoBack(t *testing.T) {
	boundary := time.Unix(1_700_000_000, 0).Truncate(10 * time.Second)
	for _, p := range []core.Policy{
		core.NewFixedWindow("fw", 1, 10*time.Second),
		core.NewSlidingWindow("sw", 1, 10*time.Second),
	} {
		t.Run(p.Algorithm.String(), func(t *testing.T) {
			var st storekit.State
			allowed := 0
			for i := 0; i < 20; i++ {
				now := boundary.Add(-time.Second)
				if i%2 == 1 {
					now = boundary.Add(time.Second)
				}
				var d core.Decision
				st, d = storekit.Take(p, st, 1, now.UnixNano())
				if d.Allowed {
					allowed++
				} else if d.RetryAfter <= 0 {
					t.Fatalf("take %d: denied with RetryAfter %v", i, d.RetryAfter)
				}
			}
			if allowed > 2 {
				t.Fatalf("alternating clocks around a boundary: %d of 20 allowed, want at most 2 (one per window)", allowed)
			}
			// A lagging caller is told to wait until ITS clock reaches the newer window's
			// end, and is then allowed.
			lag := boundary.Add(-time.Second)
			_, d := storekit.Take(p, st, 1, lag.UnixNano())
			if d.Allowed {
				t.Fatalf("lagging caller allowed after the newer window is full")
			}
			if want := 11 * time.Second; p.Algorithm == core.FixedWindow && d.RetryAfter != want {
				t.Fatalf("lagging caller's RetryAfter = %v, want %v (to the newer window's end on its own clock)", d.RetryAfter, want)
			}
			if _, d2 := storekit.Take(p, st, 1, lag.Add(d.RetryAfter).UnixNano()); !d2.Allowed {
				t.Fatalf("retry after %v on the lagging clock denied: %+v", d.RetryAfter, d2)
			}
		})
	}
}

// TestAdjustNeverOverflows: a huge delta saturates instead of wrapping int64.
func TestAdjustNeverOverflows(t *testing.T) {
	for _, p := range []core.Policy{
		core.NewFixedWindow("fw", 10, time.Minute),
		core.NewSlidingWindow("sw", 10, time.Minute),
		core.NewTokenBucket("tb", 10, time.Minute, 10),
	} {
		st, d := storekit.Adjust(p, storekit.State{}, math.MaxInt64, t0.UnixNano())
		if d.Remaining != 0 || d.RetryAfter <= 0 {
			t.Errorf("%v: +MaxInt64 gives %+v, want deep debt", p.Algorithm, d)
		}
		st, d = storekit.Adjust(p, st, math.MinInt64+1, t0.UnixNano())
		if d.Remaining != p.Capacity() {
			t.Errorf("%v: -MaxInt64 after it gives %+v (state %+v), want a whole allowance", p.Algorithm, d, st)
		}
	}
}
