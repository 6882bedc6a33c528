package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// AdjustStore is a rate store that settles costs ([storekit.Adjuster]).
type AdjustStore interface {
	core.Store
	storekit.Adjuster
}

// RunAdjust checks a store's Adjust, the one store primitive behind settling costs after the
// response and refunds:
//
//   - scripted sequences of Take and Adjust (charges, refunds, debt past the limit) return
//     the same decisions as core's pure algorithms, for every rate policy;
//   - concurrent Takes and Adjusts on one key lose no update;
//   - a key in debt is denied until the algorithm pays the debt back, with the RetryAfter the
//     algorithm gives; a refund never creates allowance the key never had;
//   - a concurrency policy is refused with ErrInvalidPolicy and changes nothing.
func RunAdjust(t *testing.T, s AdjustStore, o Options) {
	o.defaults()
	t.Run("ScriptedWithTake", func(t *testing.T) { adjustScripted(t, s, o) })
	t.Run("NoLostUpdates", func(t *testing.T) { adjustConcurrent(t, s, o) })
	t.Run("DebtAndRefund", func(t *testing.T) { adjustDebt(t, s, o) })
	t.Run("BadInput", func(t *testing.T) { adjustBad(t, s, o) })
}

func adjustScripted(t *testing.T, s AdjustStore, o Options) {
	for _, p := range policies() {
		t.Run(p.Algorithm.String()+"/"+p.Name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(99))
			now := base()
			step := p.Window / 7
			if p.Calendar == core.Monthly {
				now = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).Add(-time.Duration(o.Steps/2) * 5 * time.Second)
				step = 10 * time.Second
			}
			var st storekit.State
			key := "adjust-key"
			adjusts := 0
			for i := 0; i < o.Steps; i++ {
				now = now.Add(time.Duration(rng.Int63n(int64(step))) + time.Millisecond*time.Duration(rng.Intn(3)))
				ctx, cancel := o.Context()
				if rng.Intn(2) == 0 {
					cost := rng.Int63n(min(p.Capacity(), 3) + 1)
					var want core.Decision
					st, want = storekit.Take(p, st, cost, now.UnixNano())
					got, err := s.Take(ctx, key, p, cost, now)
					cancel()
					if err != nil {
						t.Fatalf("step %d: Take: %v", i, err)
					}
					sameDecision(t, fmt.Sprintf("step %d take(%d)", i, cost), got, want)
					continue
				}
				delta := rng.Int63n(9) - 3 // -3..+5: refunds, and charges past the limit
				var want core.Decision
				st, want = storekit.Adjust(p, st, delta, now.UnixNano())
				got, err := s.Adjust(ctx, key, p, delta, now)
				cancel()
				if err != nil {
					t.Fatalf("step %d: Adjust(%d): %v", i, delta, err)
				}
				sameDecision(t, fmt.Sprintf("step %d adjust(%+d)", i, delta), got, want)
				adjusts++
			}
			if adjusts == 0 {
				t.Fatal("the script made no Adjust")
			}
		})
	}
}

func adjustConcurrent(t *testing.T, s AdjustStore, o Options) {
	for _, p := range []core.Policy{
		core.NewFixedWindow(uniq("adj-fw"), 10000, time.Hour),
		core.NewSlidingWindow(uniq("adj-sw"), 10000, time.Hour),
		core.NewTokenBucket(uniq("adj-tb"), 1, time.Hour, 10000),
	} {
		t.Run(p.Algorithm.String(), func(t *testing.T) {
			now := base().Add(time.Minute) // one instant: no refill, no window change
			const rounds = 3
			var wg sync.WaitGroup
			errs := make(chan error, o.Goroutines)
			for g := 0; g < o.Goroutines; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range rounds {
						for _, op := range []func() error{
							func() error {
								_, err := call(o, func(c ctxT) (core.Decision, error) { return s.Take(c, "hot", p, 1, now) })
								return err
							},
							func() error {
								_, err := call(o, func(c ctxT) (core.Decision, error) { return s.Adjust(c, "hot", p, 3, now) })
								return err
							},
							func() error {
								_, err := call(o, func(c ctxT) (core.Decision, error) { return s.Adjust(c, "hot", p, -1, now) })
								return err
							},
						} {
							if err := op(); err != nil {
								errs <- err
								return
							}
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("under concurrency: %v", err)
			}
			spent := int64(o.Goroutines * rounds * 3) // 1 + 3 - 1 each round
			d, err := call(o, func(c ctxT) (core.Decision, error) { return s.Take(c, "hot", p, 0, now) })
			if err != nil {
				t.Fatal(err)
			}
			if want := p.Capacity() - spent; d.Remaining != want {
				t.Fatalf("%d goroutines × %d rounds of take 1, adjust +3, adjust -1: remaining %d, want %d (an update was lost)",
					o.Goroutines, rounds, d.Remaining, want)
			}
			t.Logf("%d goroutines × %d rounds: spent %d, remaining %d (capacity %d)", o.Goroutines, rounds, spent, d.Remaining, p.Capacity())
		})
	}
}

func adjustDebt(t *testing.T, s AdjustStore, o Options) {
	for _, p := range []core.Policy{
		core.NewFixedWindow(uniq("debt-fw"), 10, time.Minute),
		core.NewSlidingWindow(uniq("debt-sw"), 10, time.Minute),
		core.NewTokenBucket(uniq("debt-tb"), 10, time.Minute, 10),
	} {
		t.Run(p.Algorithm.String(), func(t *testing.T) {
			now := base()
			if _, err := call(o, func(c ctxT) (core.Decision, error) { return s.Take(c, "k", p, 5, now) }); err != nil {
				t.Fatal(err)
			}
			d, err := call(o, func(c ctxT) (core.Decision, error) { return s.Adjust(c, "k", p, 20, now) }) // 25 spent of 10
			if err != nil {
				t.Fatal(err)
			}
			if !d.Allowed || d.Remaining != 0 || d.RetryAfter <= 0 {
				t.Fatalf("after a charge past the limit: %+v, want applied, remaining 0, a RetryAfter", d)
			}
			// A take in debt, at the same instant, decides as the pure algorithm does
			// (its RetryAfter included: a store that assumed the count sits at the limit
			// would answer too early).
			var st storekit.State
			st, _ = storekit.Take(p, st, 5, now.UnixNano())
			st, _ = storekit.Adjust(p, st, 20, now.UnixNano())
			_, want := storekit.Take(p, st, 1, now.UnixNano())
			got, err := call(o, func(c ctxT) (core.Decision, error) { return s.Take(c, "k", p, 1, now) })
			if err != nil {
				t.Fatal(err)
			}
			sameDecision(t, "a take in debt", got, want)
			// The sliding window's RetryAfter is conservative (its weighted count is
			// floored), so only the exact algorithms must still deny just before it.
			if p.Algorithm != core.SlidingWindow {
				denied, err := call(o, func(c ctxT) (core.Decision, error) {
					return s.Take(c, "k", p, 1, now.Add(d.RetryAfter-time.Millisecond))
				})
				if err != nil {
					t.Fatal(err)
				}
				if denied.Allowed {
					t.Fatalf("a take before the debt's RetryAfter (%v) was allowed", d.RetryAfter)
				}
			}
			ok, err := call(o, func(c ctxT) (core.Decision, error) { return s.Take(c, "k", p, 1, now.Add(d.RetryAfter)) })
			if err != nil {
				t.Fatal(err)
			}
			if !ok.Allowed {
				t.Fatalf("a take at the debt's RetryAfter (%v) was denied: %+v", d.RetryAfter, ok)
			}
			// A refund larger than what was spent leaves a full allowance, never more.
			fresh := "refund-" + p.Name
			r, err := call(o, func(c ctxT) (core.Decision, error) { return s.Adjust(c, fresh, p, -100, now) })
			if err != nil {
				t.Fatal(err)
			}
			if r.Remaining != p.Capacity() {
				t.Fatalf("a refund on an unspent key: remaining %d, want the capacity %d", r.Remaining, p.Capacity())
			}
		})
	}
}

func adjustBad(t *testing.T, s AdjustStore, o Options) {
	ctx, cancel := o.Context()
	defer cancel()
	if _, err := s.Adjust(ctx, "k", core.NewConcurrency(uniq("c"), 1, time.Minute), 1, base()); !errors.Is(err, core.ErrInvalidPolicy) {
		t.Errorf("Adjust with a concurrency policy: %v, want ErrInvalidPolicy", err)
	}
	if _, err := s.Adjust(ctx, "k", core.Policy{Name: "bad", Algorithm: core.FixedWindow}, 1, base()); !errors.Is(err, core.ErrInvalidPolicy) {
		t.Errorf("Adjust with an invalid policy: %v, want ErrInvalidPolicy", err)
	}
}

type ctxT = context.Context

// call runs one store call with the suite's context.
func call(o Options, f func(ctxT) (core.Decision, error)) (core.Decision, error) {
	ctx, cancel := o.Context()
	defer cancel()
	return f(ctx)
}
