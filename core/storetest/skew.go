package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
)

// SkewOptions configures [RunSkew].
type SkewOptions struct {
	// Store names the store in the log line. Required.
	Store string
	// Skews are the clock differences between the two instances. Optional.
	// Default: 2s and 50ms, the cases the reliability issue names.
	Skews []time.Duration
	// Windows is how many windows the test spans. Optional. Default: 3.
	Windows int
	// Algorithms restricts the algorithms run (a store that implements only some, such as
	// s3store's marker mode). Optional. Default: fixed window, sliding window, token bucket.
	Algorithms []core.Algorithm
	// Options supplies the per-call context. Optional.
	Options Options
}

// RunSkew checks that a store's shared state never goes back in time when two instances'
// clocks disagree. a and b are two instances of the store sharing one backend (two clients,
// two caches); b's clock runs skew ahead of a's. Both hammer one key across several window
// boundaries, each step straddling a boundary when a is just before it and b just after, and
// the test checks the admitted total against the bound the algorithm documents:
//
//   - fixed and sliding window: each window admits at most Limit whichever clocks spent in it
//     (see core's catchUp), so admitted ≤ Limit × the windows any clock entered;
//   - token bucket (GCRA): the TAT only moves forward, so admitted ≤ Burst + the span between
//     the earliest and the latest clock reading divided by the emission interval — a skew S
//     adds at most S / interval over the whole run, once.
//
// It logs one line per store, algorithm and skew:
//
//	skew: store=<name> algorithm=<fixed|sliding|token> skew=<dur> windows=<n> limit=<L> admitted=<A> bound=<B>
func RunSkew(t *testing.T, a, b core.Store, o SkewOptions) {
	o.Options.defaults()
	if len(o.Skews) == 0 {
		o.Skews = []time.Duration{2 * time.Second, 50 * time.Millisecond}
	}
	if o.Windows == 0 {
		o.Windows = 3
	}
	if len(o.Algorithms) == 0 {
		o.Algorithms = []core.Algorithm{core.FixedWindow, core.SlidingWindow, core.TokenBucket}
	}
	for _, alg := range o.Algorithms {
		for _, skew := range o.Skews {
			t.Run(fmt.Sprintf("%s/%v", skewName(alg), skew), func(t *testing.T) {
				skewCase(t, a, b, alg, skew, o)
			})
		}
	}
}

func skewName(a core.Algorithm) string {
	switch a {
	case core.FixedWindow:
		return "fixed"
	case core.SlidingWindow:
		return "sliding"
	case core.TokenBucket:
		return "token"
	}
	return a.String()
}

func skewCase(t *testing.T, a, b core.Store, alg core.Algorithm, skew time.Duration, o SkewOptions) {
	const (
		limit    = 20
		window   = 10 * time.Second
		perStep  = 20 // steps per window
		attempts = 2  // takes per instance per step
	)
	var p core.Policy
	switch alg {
	case core.FixedWindow:
		p = core.NewFixedWindow(uniq("skew-fw"), limit, window)
	case core.SlidingWindow:
		p = core.NewSlidingWindow(uniq("skew-sw"), limit, window)
	case core.TokenBucket:
		p = core.NewTokenBucket(uniq("skew-tb"), limit, window, limit)
	default:
		t.Fatalf("RunSkew: algorithm %v has no skew case", alg)
	}
	t0 := base()
	step := window / perStep
	// a's clock sits half the skew before each step point and b's half after, so every
	// window boundary is straddled: a in the old window, b in the new one.
	var (
		admitted   int
		windows    = map[int64]bool{}
		minR, maxR time.Time
		mu         sync.Mutex
	)
	note := func(now time.Time) {
		if minR.IsZero() || now.Before(minR) {
			minR = now
		}
		if now.After(maxR) {
			maxR = now
		}
		start, _ := p.WindowBounds(now.UnixNano())
		windows[start] = true
	}
	end := t0.Add(time.Duration(o.Windows) * window)
	for j := 0; j <= o.Windows*perStep; j++ {
		at := t0.Add(time.Duration(j)*step - skew/2)
		clocks := [2]time.Time{at, at.Add(skew)}
		if clocks[0].Before(t0) || !clocks[1].Before(end) {
			continue // both clocks stay inside the test's windows
		}
		stores := [2]core.Store{a, b}
		note(clocks[0])
		note(clocks[1])
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for i := range stores {
			wg.Add(1)
			go func(s core.Store, now time.Time) {
				defer wg.Done()
				for range attempts {
					ctx, cancel := o.Options.Context()
					d, err := s.Take(ctx, "skewed", p, 1, now)
					cancel()
					if err != nil {
						errs <- err
						return
					}
					if d.Allowed {
						mu.Lock()
						admitted++
						mu.Unlock()
					}
				}
			}(stores[i], clocks[i])
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("Take at step %d: %v", j, err)
		}
	}
	var bound int64
	switch alg {
	case core.TokenBucket:
		bound = p.Capacity() + int64(maxR.Sub(minR))/int64(p.EmissionInterval())
	default:
		bound = limit * int64(len(windows))
	}
	t.Logf("skew: store=%s algorithm=%s skew=%v windows=%d limit=%d admitted=%d bound=%d",
		o.Store, skewName(alg), skew, len(windows), limit, admitted, bound)
	if int64(admitted) > bound {
		t.Fatalf("admitted %d > bound %d: shared state went back in time under a %v skew", admitted, bound, skew)
	}
	// The test must be able to fail the other way too: a store that denied everything
	// would pass the bound. Every case offers far more attempts than the bound.
	if min := bound * 3 / 4; int64(admitted) < min {
		t.Fatalf("admitted %d < %d: the store denied allowance it had", admitted, min)
	}
}
