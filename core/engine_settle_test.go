package core_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// TestSettleEstimateZero: a rule whose estimate is 0 (charge only what the handler reports)
// is charged its real cost when settled; a refund of a 0 estimate changes nothing.
func TestSettleEstimateZero(t *testing.T) {
	s := memstore.New()
	p := core.NewFixedWindow("tokens", 100, time.Minute)
	l := newLimiter(t, core.Config{Store: s, Now: func() time.Time { return t0 }, Key: core.KeyStatic("k"), Rules: []core.Rule{{
		Policy: p,
		Cost:   func(core.Request) int64 { return 0 },
		Settle: func(_ core.Request, out core.Outcome) int64 { return out.Reported },
	}}})
	ctx := context.Background()
	res, err := l.Allow(ctx, nil)
	if err != nil || !res.Allowed {
		t.Fatalf("Allow: %+v %v", res, err)
	}
	l.Settle(ctx, nil, &res, core.Outcome{Reported: 30, Reports: 1})
	l.Refund(ctx, &res)
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := peekRemaining(t, s, p, "k", t0); got != 70 {
		t.Fatalf("after settling 30 on an estimate of 0: remaining %d, want 70", got)
	}
}

// adjustLog is a memory store that records its Adjusts; remote makes it a network store
// (settled in the background); refuse answers Adjust with a caller error.
type adjustLog struct {
	*memstore.Store
	mu      sync.Mutex
	deltas  []int64
	remote  bool
	refuse  bool
	blocked chan struct{} // non-nil: Adjust waits for it to close
	timed   int           // Adjusts whose context had a deadline
}

func (s *adjustLog) InProcess() bool { return !s.remote }

func (s *adjustLog) Adjust(ctx context.Context, key string, p core.Policy, delta int64, now time.Time) (core.Decision, error) {
	s.mu.Lock()
	s.deltas = append(s.deltas, delta)
	if _, ok := ctx.Deadline(); ok {
		s.timed++
	}
	refuse, blocked := s.refuse, s.blocked
	s.mu.Unlock()
	if blocked != nil {
		<-blocked
	}
	if refuse {
		return core.Decision{}, fmt.Errorf("%w: no such key", core.ErrInvalidKey)
	}
	return s.Store.Adjust(ctx, key, p, delta, now)
}

func (s *adjustLog) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprint(s.deltas)
}

// TestSettleWhichDecisions: only the settling rules' decisions the store spent are settled,
// by real cost minus estimate, and nothing when they agree; a result of another limiter, a
// denial, a cached denial and a degraded decision are not settled.
func TestSettleWhichDecisions(t *testing.T) {
	s := &adjustLog{Store: memstore.New()}
	clk := &clock{t: t0}
	real := func(_ core.Request, out core.Outcome) int64 { return out.Reported }
	cfg := core.Config{Store: s, Now: clk.Now, Key: core.KeyStatic("k"), Rules: []core.Rule{
		{Policy: core.NewFixedWindow("plain", 100, time.Minute)},
		{Policy: core.NewFixedWindow("tokens", 10, time.Minute), Cost: func(core.Request) int64 { return 3 }, Settle: real},
	}}
	l := newLimiter(t, cfg)
	other := newLimiter(t, cfg)
	ctx := context.Background()
	settle := func(res core.Result, real int64) {
		t.Helper()
		l.Settle(ctx, nil, &res, core.Outcome{Reported: real, Reports: 1})
		if err := l.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	res, _ := l.Allow(ctx, nil)
	settle(res, 3) // the estimate was right
	if got := s.log(); got != "[]" {
		t.Fatalf("adjusts after an exact estimate: %s", got)
	}
	settle(res, 5)
	if got := s.log(); got != "[2]" {
		t.Fatalf("adjusts after a real cost of 5 on 3: %s, want [2]", got)
	}
	theirs, _ := other.Allow(ctx, nil)
	settle(theirs, 9)
	if got := s.log(); got != "[2]" {
		t.Fatalf("another limiter's result was settled: %s", got)
	}
	// 3 + 2 + 3 spent of 10: the next request is denied by the store, then by the cache.
	_, _ = l.Allow(ctx, nil)
	denied, _ := l.Allow(ctx, nil)
	cached, _ := l.Allow(ctx, nil)
	if denied.Allowed || cached.Allowed {
		t.Fatal("not denied")
	}
	settle(denied, 1)
	settle(cached, 1)
	if got := s.log(); got != "[2]" {
		t.Fatalf("denials were settled: %s", got)
	}
	// A refund gives back every decision the store spent.
	clk.Add(time.Minute)
	spent, _ := l.Allow(ctx, nil)
	l.Refund(ctx, &spent)
	theirs, _ = other.Allow(ctx, nil)
	l.Refund(ctx, &theirs)
	if got := s.log(); got != "[2 -1 -3]" {
		t.Fatalf("adjusts after a refund: %s, want [2 -1 -3]", got)
	}
}

// TestSettleDegradedNotSettled: a decision the failure policy made spent nothing in the store.
func TestSettleDegradedNotSettled(t *testing.T) {
	s := &adjustLog{Store: memstore.New()}
	fail := &failTake{adjustLog: s}
	l := newLimiter(t, core.Config{Store: fail, Key: core.KeyStatic("k"), Breaker: core.BreakerConfig{Failures: -1},
		Observer: core.ObserverFunc(func(context.Context, core.Event) {}),
		Rules:    []core.Rule{{Policy: core.NewFixedWindow("tokens", 10, time.Minute), Settle: func(core.Request, core.Outcome) int64 { return 5 }}}})
	ctx := context.Background()
	res, _ := l.Allow(ctx, nil)
	if res.Degraded != core.DegradedOpen {
		t.Fatalf("%+v", res)
	}
	l.Settle(ctx, nil, &res, core.Outcome{})
	l.Refund(ctx, &res)
	if got := s.log(); got != "[]" {
		t.Fatalf("a degraded decision was settled: %s", got)
	}
}

type failTake struct{ *adjustLog }

func (failTake) Take(context.Context, string, core.Policy, int64, time.Time) (core.Decision, error) {
	return core.Decision{}, errors.New("store: down")
}

// TestSettleInBackground: a network store is settled in the background, Flush waits for it
// (or for its context), the observer hears it, and a refund of a token bucket is never
// skipped (it has no window to end).
func TestSettleInBackground(t *testing.T) {
	s := &adjustLog{Store: memstore.New(), remote: true, blocked: make(chan struct{})}
	rec := &recorder{}
	clk := &clock{t: t0}
	p := core.NewTokenBucket("tb", 10, 10*time.Second, 0)
	l := newLimiter(t, core.Config{Store: s, Observer: rec, Now: clk.Now, Key: core.KeyStatic("k"), Rules: []core.Rule{{Policy: p}}})
	ctx := context.Background()
	res, _ := l.Allow(ctx, nil)
	clk.Add(time.Hour)
	l.Refund(ctx, &res)
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if err := l.Flush(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush with a settlement blocked: %v", err)
	}
	close(s.blocked)
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.log(); got != "[-1]" {
		t.Fatalf("adjusts %s, want [-1] (a token bucket refund an hour later)", got)
	}
	if s.timed != 1 {
		t.Fatal("a network store's settlement had no time budget")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	last := rec.events[len(rec.events)-1]
	if last.Kind != core.EventDecision || last.Op != core.OpAdjust || last.Delta != -1 || last.Key != "k" || last.Decision.Policy != p || last.Latency <= 0 {
		t.Fatalf("settlement event %+v", last)
	}
}

// TestSettleCallerError: an Adjust the store refuses as the caller's fault is not retried, is
// reported, and is not applied to the fallback store.
func TestSettleCallerError(t *testing.T) {
	s := &adjustLog{Store: memstore.New(), refuse: true}
	fb := memstore.New()
	rec := &recorder{}
	p := core.NewFixedWindow("tokens", 10, time.Minute)
	l := newLimiter(t, core.Config{Store: s, Observer: rec, Failure: core.FailFallback, Fallback: fb, Now: func() time.Time { return t0 },
		Key: core.KeyStatic("k"), Rules: []core.Rule{{Policy: p, Settle: func(core.Request, core.Outcome) int64 { return 4 }}}})
	ctx := context.Background()
	res, _ := l.Allow(ctx, nil)
	l.Settle(ctx, nil, &res, core.Outcome{})
	_ = l.Flush(ctx)
	if got := s.log(); got != "[3]" {
		t.Fatalf("adjusts %s, want one try of +3", got)
	}
	if s.timed != 0 {
		t.Fatal("an in-process store's settlement had a deadline")
	}
	if rec.count(core.EventStoreError) != 1 {
		t.Fatalf("store errors %d", rec.count(core.EventStoreError))
	}
	if got := peekRemaining(t, fb, p, "k", t0); got != 10 {
		t.Fatalf("the fallback store was adjusted: remaining %d", got)
	}
}
