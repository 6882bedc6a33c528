package core_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// countStore counts the requests a store receives (Take and Adjust).
type countStore struct {
	*memstore.Store
	takes, adjusts atomic.Int64
	fail           atomic.Bool
}

func (s *countStore) Take(ctx context.Context, key string, p core.Policy, cost int64, now time.Time) (core.Decision, error) {
	s.takes.Add(1)
	if s.fail.Load() {
		return core.Decision{}, errors.New("store: down")
	}
	return s.Store.Take(ctx, key, p, cost, now)
}

func (s *countStore) Adjust(ctx context.Context, key string, p core.Policy, delta int64, now time.Time) (core.Decision, error) {
	s.adjusts.Add(1)
	return s.Store.Adjust(ctx, key, p, delta, now)
}

// TestReservationsNeverOverAdmit: two instances with reservations on one store, a steady load
// on one hot key over three windows: every window admits at most the limit, at least the limit
// minus the documented under-admission bound, with far fewer store requests than admissions.
func TestReservationsNeverOverAdmit(t *testing.T) {
	for _, p := range []core.Policy{
		core.NewFixedWindow("fw", 2000, time.Second),
		core.NewSlidingWindow("sw", 2000, time.Second),
		core.NewTokenBucket("tb", 2000, time.Second, 2000),
	} {
		t.Run(p.Algorithm.String(), func(t *testing.T) {
			store := &countStore{Store: memstore.New()}
			start := t0.Truncate(time.Second)
			var tick atomic.Int64 // 20 µs per request: 50,000 requests/s offered, 25× the limit
			clk := func() time.Time { return start.Add(time.Duration(tick.Load()) * 20 * time.Microsecond) }
			rc := &core.Reservations{MaxBatch: 100}
			var ls [2]*core.Limiter
			for i := range ls {
				ls[i] = newLimiter(t, core.Config{Store: store, Now: clk, Key: core.KeyStatic("hot"),
					Rules: []core.Rule{{Policy: p, Reserve: rc}}})
			}
			admitted := map[int64]int64{} // window of the request's clock → admitted
			var mu sync.Mutex
			var wg sync.WaitGroup
			const perG = 9000
			for g := 0; g < 8; g++ {
				wg.Add(1)
				go func(l *core.Limiter) {
					defer wg.Done()
					for range perG {
						now := start.Add(time.Duration(tick.Add(1)) * 20 * time.Microsecond)
						res, err := l.AllowKeyAt(context.Background(), "hot", 1, now)
						if err != nil {
							t.Error(err)
							return
						}
						if res.Allowed {
							mu.Lock()
							admitted[now.Truncate(time.Second).UnixNano()]++
							mu.Unlock()
						}
					}
				}(ls[g%2])
			}
			wg.Wait()
			// Goroutines read the shared clock before they queue for a key's batch, so a
			// request's clock may trail the window the store counts it in (as with skew
			// between instances): the bound is per window the clocks entered, in total.
			var total int64
			for _, a := range admitted {
				total += a
			}
			span := time.Duration(tick.Load()) * 20 * time.Microsecond
			windows := int64(len(admitted))
			requests := store.takes.Load() + store.adjusts.Load()
			t.Logf("reservations: store=memstore algorithm=%s instances=2 windows=%d limit=%d admitted=%d store_requests=%d per_admitted=%.3f",
				p.Algorithm, windows, p.Limit, total, requests, float64(requests)/float64(total))
			var most int64
			if p.Algorithm == core.TokenBucket {
				most = p.Capacity() + int64(span)/int64(p.EmissionInterval()) + 1
			} else {
				most = p.Limit * windows
			}
			if total > most {
				t.Fatalf("admitted %d > %d", total, most)
			}
			// Under-admission: at most one batch (≤ MaxBatch) per instance per window stranded.
			if least := most - windows*2*rc.MaxBatch - p.Limit; p.Algorithm != core.SlidingWindow && total < least {
				t.Fatalf("admitted %d < %d: more was stranded than the bound allows", total, least)
			}
			if float64(requests) > 0.1*float64(total) {
				t.Fatalf("%d store requests for %d admissions: reservations did not batch", requests, total)
			}
		})
	}
}

// TestReservationsGiveBackOnClose: a token bucket's unspent batch returns to the store on Close.
func TestReservationsGiveBackOnClose(t *testing.T) {
	store := &countStore{Store: memstore.New()}
	clk := &clock{t: t0}
	p := core.NewTokenBucket("tb", 100, time.Second, 100)
	l := newLimiter(t, core.Config{Store: store, Now: clk.Now, Key: core.KeyStatic("k"),
		Rules: []core.Rule{{Policy: p, Reserve: &core.Reservations{MaxBatch: 50}}}})
	ctx := context.Background()
	for range 20 { // a steady rate grows the batch
		clk.Add(time.Millisecond)
		if res, _ := l.AllowKey(ctx, "k", 1); !res.Allowed {
			t.Fatal("denied")
		}
	}
	before := peekRemaining(t, store, p, "k", clk.Now())
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	after := peekRemaining(t, store, p, "k", clk.Now())
	if after <= before {
		t.Fatalf("remaining %d before Close, %d after: the unspent batch was not given back", before, after)
	}
	// The same 20 requests in exact mode leave the store where Close left it.
	ref := memstore.New()
	rclk := &clock{t: t0}
	exact := newLimiter(t, core.Config{Store: ref, Now: rclk.Now, Key: core.KeyStatic("k"), Rules: []core.Rule{{Policy: p}}})
	for range 20 {
		rclk.Add(time.Millisecond)
		_, _ = exact.AllowKey(ctx, "k", 1)
	}
	if want := peekRemaining(t, ref, p, "k", clk.Now()); after != want {
		t.Fatalf("after Close the store shows %d remaining, want %d (as if only the 20 admitted had been taken)", after, want)
	}
}

// TestReservationsStoreFailure: a failing store decides by the failure policy, request by
// request; it never turns into allowance.
func TestReservationsStoreFailure(t *testing.T) {
	store := &countStore{Store: memstore.New()}
	store.fail.Store(true)
	l := newLimiter(t, core.Config{Store: store, Failure: core.FailClosed, Key: core.KeyStatic("k"),
		Breaker: core.BreakerConfig{Failures: -1},
		Rules:   []core.Rule{{Policy: core.NewFixedWindow("fw", 100, time.Minute), Reserve: &core.Reservations{}}}})
	for range 3 {
		if _, err := l.AllowKey(context.Background(), "k", 1); !errors.Is(err, core.ErrStoreUnavailable) {
			t.Fatalf("a failing store under FailClosed: %v, want ErrStoreUnavailable", err)
		}
	}
	if store.takes.Load() != 3 {
		t.Fatalf("%d store calls for 3 requests: a failure must not be served from a batch", store.takes.Load())
	}
}
