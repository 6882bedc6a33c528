package storekit_test

import (
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// TestAdjustSteps: storekit.Adjust on each algorithm, including the saturation that keeps any
// delta from overflowing and the floors that keep a refund from creating allowance.
func TestAdjustSteps(t *testing.T) {
	const maxAdjust = int64(1) << 61
	now := t0.UnixNano()
	tb := core.NewTokenBucket("tb", 10, 10*time.Second, 0) // one token a second
	sec := int64(time.Second)
	fw := core.NewFixedWindow("fw", 10, time.Minute)
	sw := core.NewSlidingWindow("sw", 10, time.Minute)
	cases := []struct {
		name   string
		p      core.Policy
		st     storekit.State
		delta  int64
		want   storekit.State
		remain int64
		retry  time.Duration
	}{
		{"tb charge", tb, storekit.State{}, 3, storekit.State{TAT: now + 3*sec}, 7, 0},
		{"tb charge from a later TAT", tb, storekit.State{TAT: now + 2*sec}, 3, storekit.State{TAT: now + 5*sec}, 5, 0},
		{"tb into debt", tb, storekit.State{}, 12, storekit.State{TAT: now + 12*sec}, 0, 3 * time.Second},
		{"tb exactly full", tb, storekit.State{}, 10, storekit.State{TAT: now + 10*sec}, 0, time.Second},
		{"tb refund", tb, storekit.State{TAT: now + 5*sec}, -2, storekit.State{TAT: now + 3*sec}, 7, 0},
		{"tb refund past full", tb, storekit.State{TAT: now + 2*sec}, -5, storekit.State{TAT: now}, 10, 0},
		{"tb huge charge saturates", tb, storekit.State{}, 1 << 62, storekit.State{TAT: now + maxAdjust}, 0, time.Duration(maxAdjust - 9*sec)},
		{"tb charge at the saturation bound", tb, storekit.State{}, maxAdjust / sec, storekit.State{TAT: now + maxAdjust/sec*sec}, 0, time.Duration(maxAdjust/sec*sec - 9*sec)},
		{"tb huge refund saturates", tb, storekit.State{TAT: now + maxAdjust}, -(1 << 62), storekit.State{TAT: now}, 10, 0},
		{"tb refund at the saturation bound", tb, storekit.State{TAT: now + maxAdjust}, -(maxAdjust / sec), storekit.State{TAT: now + maxAdjust - maxAdjust/sec*sec}, 9, 0},
		{"fw charge", fw, storekit.State{Window: now, Count: 4}, 3, storekit.State{Window: now, Count: 7}, 3, 0},
		{"fw into debt", fw, storekit.State{Window: now, Count: 4}, 9, storekit.State{Window: now, Count: 13}, 0, time.Minute},
		{"fw refund floors at 0", fw, storekit.State{Window: now, Count: 2}, -5, storekit.State{Window: now}, 10, 0},
		{"fw refund", fw, storekit.State{Window: now, Count: 5}, -3, storekit.State{Window: now, Count: 2}, 8, 0},
		{"fw huge charge saturates", fw, storekit.State{Window: now, Count: 5}, 1 << 62, storekit.State{Window: now, Count: maxAdjust}, 0, time.Minute},
		{"fw saturates just past the bound", fw, storekit.State{Window: now, Count: 1 << 60}, 1<<60 + 1, storekit.State{Window: now, Count: maxAdjust}, 0, time.Minute},
		{"fw old window starts afresh", fw, storekit.State{Window: now - int64(time.Minute), Count: 9}, 2, storekit.State{Window: now, Count: 2}, 8, 0},
		{"sw charge keeps the previous", sw, storekit.State{Window: now - int64(time.Minute), Count: 4}, 1, storekit.State{Window: now, Count: 1, Prev: 4}, 5, 0},
	}
	for _, c := range cases {
		st, d := storekit.Adjust(c.p, c.st, c.delta, t0.UnixNano())
		if st != c.want {
			t.Errorf("%s: state %+v, want %+v", c.name, st, c.want)
		}
		if !d.Allowed || d.Remaining != c.remain || d.RetryAfter != c.retry || d.Policy != c.p {
			t.Errorf("%s: decision %+v, want allowed, remaining %d, retry %v", c.name, d, c.remain, c.retry)
		}
	}
	// Concurrency policies are not adjusted.
	cp := core.NewConcurrency("c", 1, time.Minute)
	if st, d := storekit.Adjust(cp, storekit.State{Count: 3}, 1, t0.UnixNano()); st != (storekit.State{Count: 3}) || d != (core.Decision{Policy: cp}) {
		t.Errorf("concurrency: %+v %+v", st, d)
	}
}
