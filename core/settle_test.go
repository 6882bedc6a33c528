package core_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// peekRemaining reads a key's remaining allowance without spending.
func peekRemaining(t *testing.T, s core.Store, p core.Policy, key string, now time.Time) int64 {
	t.Helper()
	d, err := s.Take(context.Background(), key, p, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	return d.Remaining
}

func TestSettleChargesTheRealCost(t *testing.T) {
	s := memstore.New()
	clk := &clock{t: t0}
	p := core.NewFixedWindow("tokens", 100, time.Minute)
	l := newLimiter(t, core.Config{Store: s, Now: clk.Now, Key: core.KeyStatic("k"), Rules: []core.Rule{{
		Policy: p,
		Cost:   func(core.Request) int64 { return 10 }, // the estimate
		Settle: func(_ core.Request, out core.Outcome) int64 { return out.Reported },
	}}})
	if !l.Settles() {
		t.Fatal("Settles() is false for a settling rule")
	}
	ctx := context.Background()
	settle := func(real int64) core.Result {
		t.Helper()
		res, err := l.Allow(ctx, nil)
		if err != nil || !res.Allowed {
			t.Fatalf("Allow: %+v %v", res, err)
		}
		l.Settle(ctx, nil, &res, core.Outcome{Reported: real, Reports: 1})
		if err := l.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		return res
	}
	settle(25) // estimated 10, really 25: +15
	if got := peekRemaining(t, s, p, "k", clk.Now()); got != 75 {
		t.Fatalf("after a settlement of 25 (estimate 10): remaining %d, want 75", got)
	}
	settle(4) // estimated 10, really 4: a refund of 6
	if got := peekRemaining(t, s, p, "k", clk.Now()); got != 71 {
		t.Fatalf("after a settlement of 4 (estimate 10): remaining %d, want 71", got)
	}
	settle(200) // past the limit: debt
	res, err := l.Allow(ctx, nil)
	if err != nil || res.Allowed {
		t.Fatalf("a request after a settlement into debt: %+v %v, want denied", res, err)
	}
	if ra := res.RetryAfter(); ra != 60*time.Second-t0.Sub(t0.Truncate(time.Minute)) {
		t.Fatalf("Retry-After in debt %v, want the window's end", ra)
	}
	clk.Add(time.Minute) // the next window pays the debt back
	if res, _ := l.Allow(ctx, nil); !res.Allowed {
		t.Fatal("the next window is still denied")
	}
}

func TestRefundGivesBackAndSkipsEndedWindows(t *testing.T) {
	s := memstore.New()
	clk := &clock{t: t0.Truncate(time.Minute)}
	p := core.NewFixedWindow("req", 3, time.Minute)
	l := newLimiter(t, core.Config{Store: s, Now: clk.Now, Key: core.KeyStatic("k"), Rules: []core.Rule{{Policy: p}}})
	ctx := context.Background()
	for range 3 {
		res, _ := l.Allow(ctx, nil)
		l.Refund(ctx, &res) // e.g. a failed request under "count only successful"
	}
	_ = l.Flush(ctx)
	if got := peekRemaining(t, s, p, "k", clk.Now()); got != 3 {
		t.Fatalf("three refunded requests: remaining %d, want 3", got)
	}
	// A denial cached before a refund must not outlive it.
	var kept core.Result
	for i := range 4 {
		res, _ := l.Allow(ctx, nil)
		if i == 0 {
			kept = res
		}
		if i == 3 && res.Allowed {
			t.Fatal("the 4th request of 3 was allowed")
		}
	}
	l.Refund(ctx, &kept)
	_ = l.Flush(ctx)
	if res, _ := l.Allow(ctx, nil); !res.Allowed {
		t.Fatal("after a refund the next request was denied: a cached denial outlived the refund")
	}
	// A refund of a window that has ended is skipped: it would give the new window
	// allowance that belonged to the old one.
	clk.Add(time.Minute) // the next window
	spent, _ := l.Allow(ctx, nil)
	if !spent.Allowed {
		t.Fatal("the next window's first request was denied")
	}
	l.Refund(ctx, &kept) // kept was spent in the previous window
	_ = l.Flush(ctx)
	if got := peekRemaining(t, s, p, "k", clk.Now()); got != 2 {
		t.Fatalf("a refund of an ended window changed the new one: remaining %d, want 2", got)
	}
}

type noAdjust struct{ core.Store }

func TestSettleNeedsAnAdjuster(t *testing.T) {
	_, err := core.NewLimiter(core.Config{Store: noAdjust{memstore.New()}, Rules: []core.Rule{{
		Policy: core.NewFixedWindow("p", 1, time.Minute),
		Settle: func(core.Request, core.Outcome) int64 { return 1 },
	}}})
	if err == nil || !strings.Contains(err.Error(), "Rules[0].Settle") {
		t.Fatalf("a settling rule on a store without Adjust: %v, want an error naming Rules[0].Settle", err)
	}
}

// failingAdjust fails every Adjust.
type failingAdjust struct {
	*memstore.Store
	calls atomic.Int64
}

func (f *failingAdjust) Adjust(context.Context, string, core.Policy, int64, time.Time) (core.Decision, error) {
	f.calls.Add(1)
	return core.Decision{}, errors.New("store: down")
}

// TestSettleFailureIsReportedAndFallsBack: a settlement the store keeps refusing is retried
// within its budget, then reported, and under FailFallback applied to the fallback store.
func TestSettleFailureIsReportedAndFallsBack(t *testing.T) {
	s := &failingAdjust{Store: memstore.New()}
	fb := memstore.New()
	rec := &recorder{}
	p := core.NewFixedWindow("tokens", 100, time.Minute)
	l := newLimiter(t, core.Config{Store: s, Observer: rec, Failure: core.FailFallback, Fallback: fb, Timeout: 50 * time.Millisecond,
		Key: core.KeyStatic("k"), Rules: []core.Rule{{Policy: p, Settle: func(core.Request, core.Outcome) int64 { return 30 }}}})
	ctx := context.Background()
	res, _ := l.Allow(ctx, nil)
	l.Settle(ctx, nil, &res, core.Outcome{})
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Backoff from 10 ms doubling to 1 s within the 3 s budget: about 9 tries, not a busy loop.
	if n := s.calls.Load(); n < 2 || n > 15 {
		t.Fatalf("the settlement was tried %d times, want retries with backoff", n)
	}
	found := false
	for _, e := range rec.events {
		if e.Kind == core.EventStoreError && e.Op == core.OpAdjust && e.Degraded == core.DegradedFallback {
			found = true
		}
	}
	if !found {
		t.Fatal("no store-error event with Op adjust for the failed settlement")
	}
	if got := peekRemaining(t, fb, p, "k", time.Now()); got != 71 {
		t.Fatalf("fallback store after the failed settlement of +29: remaining %d, want 71", got)
	}
}

type noSettleStore struct{ *memstore.Store }

func (noSettleStore) CheckAdjust(p core.Policy) error {
	return errors.New("store: this mode cannot adjust")
}

func TestSettleRefusedByAdjustChecker(t *testing.T) {
	_, err := core.NewLimiter(core.Config{Store: noSettleStore{memstore.New()}, Rules: []core.Rule{{
		Policy: core.NewFixedWindow("p", 10, time.Minute),
		Settle: func(core.Request, core.Outcome) int64 { return 1 },
	}}})
	if err == nil || !strings.Contains(err.Error(), "Rules[0].Settle") || !strings.Contains(err.Error(), "cannot adjust") {
		t.Fatalf("a settling limit on a store that refuses it: %v", err)
	}
}

// blockingAdjust holds every Adjust until released, as a stalled store does.
type blockingAdjust struct {
	*memstore.Store
	release chan struct{}
}

// InProcess reports false: this store stands for a network one, settled in the background.
func (b *blockingAdjust) InProcess() bool { return false }

func (b *blockingAdjust) Adjust(ctx context.Context, key string, p core.Policy, delta int64, now time.Time) (core.Decision, error) {
	<-b.release
	return b.Store.Adjust(ctx, key, p, delta, now)
}

// TestSettleBacklogBounded: with the store stalled, settlements do not pile up without bound:
// past 4,096 in flight, a settlement is reported at once (ErrSettleBacklog) and decided by
// the failure policy.
func TestSettleBacklogBounded(t *testing.T) {
	s := &blockingAdjust{Store: memstore.New(), release: make(chan struct{})}
	rec := &recorder{}
	// A failing fallback: each backlogged settlement goes to it, and its error is reported too.
	fb := &failingAdjust{Store: memstore.New()}
	l := newLimiter(t, core.Config{Store: s, Observer: rec, Timeout: -1, Key: core.KeyStatic("k"),
		Failure: core.FailFallback, Fallback: fb, Rules: []core.Rule{{
			Policy: core.NewFixedWindow("p", 1<<40, time.Hour),
			Settle: func(core.Request, core.Outcome) int64 { return 2 },
		}}})
	ctx := context.Background()
	// 2,048 past the bound: enough that a backlogged settlement which failed to give its
	// slot back would leave the limiter backlogged for good.
	for range 4096 + 2048 {
		res, err := l.Allow(ctx, nil)
		if err != nil || !res.Allowed {
			t.Fatal(err)
		}
		l.Settle(ctx, nil, &res, core.Outcome{})
	}
	backlog := 0
	rec.mu.Lock()
	for _, e := range rec.events {
		if e.Kind == core.EventStoreError && e.Op == core.OpAdjust && errors.Is(e.Err, core.ErrSettleBacklog) {
			backlog++
			if e.Degraded != core.DegradedFallback || !strings.Contains(e.Err.Error(), "store: down") {
				t.Fatalf("backlogged settlement event %+v: want the fallback's failure in it", e)
			}
		}
	}
	rec.mu.Unlock()
	if backlog != 2048 {
		t.Fatalf("%d settlements reported as backlog, want the 2,048 past 4,096", backlog)
	}
	close(s.release)
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Once the backlog has drained, settlements run again.
	res, _ := l.Allow(ctx, nil)
	l.Settle(ctx, nil, &res, core.Outcome{})
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := rec.count(core.EventStoreError); n != backlog {
		t.Fatalf("%d store errors after the backlog drained, want still %d", n, backlog)
	}
}
