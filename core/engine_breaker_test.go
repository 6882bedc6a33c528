package core_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// breakerStep is one request of a breaker scenario: at t0+at, with the store failing or not,
// the request reaches the store (or not) and is degraded (or not).
type breakerStep struct {
	at        time.Duration
	fail      bool
	wantStore bool
	wantDeg   core.Degradation
}

func runBreakerSteps(t *testing.T, bc core.BreakerConfig, steps []breakerStep) *recorder {
	t.Helper()
	s := &countingStore{inner: memstore.New()}
	rec := &recorder{}
	l := newLimiter(t, core.Config{Store: s, Observer: rec, Breaker: bc,
		Rules: []core.Rule{{Policy: core.NewFixedWindow("p", 1000, time.Hour)}}})
	for i, st := range steps {
		s.fail.Store(st.fail)
		before := s.calls.Load()
		res, err := l.AllowKeyAt(context.Background(), "k", 1, t0.Add(st.at))
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if called := s.calls.Load() != before; called != st.wantStore {
			t.Fatalf("step %d (t0+%v): store called %v, want %v", i, st.at, called, st.wantStore)
		}
		if res.Degraded != st.wantDeg {
			t.Fatalf("step %d (t0+%v): degraded %v, want %v", i, st.at, res.Degraded, st.wantDeg)
		}
	}
	return rec
}

// TestBreakerZeroConfig: a zero BreakerConfig opens after 5 consecutive failures (not 4, not
// 6), stays open for 5 s exactly, and a failed probe reopens it for another full 5 s from the
// probe; a successful probe closes it.
func TestBreakerZeroConfig(t *testing.T) {
	const o = core.DegradedOpen
	steps := []breakerStep{
		{0, true, true, o}, {0, true, true, o}, {0, true, true, o}, {0, true, true, o},
		{0, true, true, o}, // the 5th failure opens it
		{0, false, false, o},
		{5*time.Second - 1, false, false, o},
		{5 * time.Second, true, true, o}, // the probe fails: open until 10 s
		{5 * time.Second, false, false, o},
		{10*time.Second - 1, false, false, o},
		{10 * time.Second, false, true, core.NotDegraded}, // the probe succeeds: closed
		{10 * time.Second, false, true, core.NotDegraded},
	}
	rec := runBreakerSteps(t, core.BreakerConfig{}, steps)
	if n := rec.count(core.EventBreakerOpen); n != 1 {
		t.Fatalf("breaker-open events %d, want 1 (a failed probe does not reopen it again)", n)
	}
	if n := rec.count(core.EventBreakerClosed); n != 1 {
		t.Fatalf("breaker-closed events %d, want 1", n)
	}
}

// TestBreakerCountsConsecutiveFailures: a success in between starts the count again; a
// configured threshold and cool-down are used as given.
func TestBreakerCountsConsecutiveFailures(t *testing.T) {
	const o = core.DegradedOpen
	steps := []breakerStep{
		{0, true, true, o}, {0, true, true, o},
		{0, false, true, core.NotDegraded}, // resets the count
		{0, true, true, o}, {0, true, true, o},
		{0, true, true, o}, // 3rd consecutive failure: open
		{0, false, false, o},
		{2*time.Second - 1, false, false, o},
		{2 * time.Second, false, true, core.NotDegraded},
	}
	rec := runBreakerSteps(t, core.BreakerConfig{Failures: 3, Cooldown: 2 * time.Second}, steps)
	if n := rec.count(core.EventBreakerOpen); n != 1 {
		t.Fatalf("breaker-open events %d, want 1", n)
	}
}

// TestBreakerDisabled: Failures -1 turns the breaker off: every request asks the failing store.
func TestBreakerDisabled(t *testing.T) {
	var steps []breakerStep
	for i := 0; i < 12; i++ {
		steps = append(steps, breakerStep{0, true, true, core.DegradedOpen})
	}
	steps = append(steps, breakerStep{0, false, true, core.NotDegraded})
	rec := runBreakerSteps(t, core.BreakerConfig{Failures: -1}, steps)
	if n := rec.count(core.EventBreakerOpen) + rec.count(core.EventBreakerClosed); n != 0 {
		t.Fatalf("%d breaker events with the breaker disabled", n)
	}
	if n := rec.count(core.EventStoreError); n != 12 {
		t.Fatalf("store-error events %d, want 12", n)
	}
}

// TestBreakerOpenEvents: while open, each decision reports ErrBreakerOpen as its store error,
// with the failure policy's degradation; the opening event carries the store's error.
func TestBreakerOpenEvents(t *testing.T) {
	s := &countingStore{inner: memstore.New()}
	rec := &recorder{}
	l := newLimiter(t, core.Config{Store: s, Observer: rec, Failure: core.FailClosed,
		Breaker: core.BreakerConfig{Failures: 1, Cooldown: time.Minute},
		Rules:   []core.Rule{{Policy: core.NewFixedWindow("p", 10, time.Hour)}}})
	s.fail.Store(true)
	ctx := context.Background()
	if _, err := l.AllowKeyAt(ctx, "k", 1, t0); !errors.Is(err, core.ErrStoreUnavailable) || errors.Is(err, core.ErrBreakerOpen) {
		t.Fatalf("first failure: %v, want the store's error", err)
	}
	_, err := l.AllowKeyAt(ctx, "k", 1, t0)
	if !errors.Is(err, core.ErrStoreUnavailable) || !errors.Is(err, core.ErrBreakerOpen) {
		t.Fatalf("open breaker under FailClosed: %v", err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var kinds []string
	for _, e := range rec.events {
		kinds = append(kinds, e.Kind.String())
		switch e.Kind {
		case core.EventBreakerOpen:
			if e.Err == nil || errors.Is(e.Err, core.ErrBreakerOpen) {
				t.Errorf("breaker-open event error %v, want the store's", e.Err)
			}
		case core.EventStoreError:
			if e.Degraded != core.DegradedClosed || e.Op != core.OpTake || e.Key != "k" || e.Decision.Policy.Name != "p" {
				t.Errorf("store-error event %+v", e)
			}
		}
	}
	if got := fmt.Sprint(kinds); got != "[breaker-open store-error store-error]" {
		t.Fatalf("events %s", got)
	}
}

// callerErrStore answers every Take with a caller error while bad is set, else fails while
// fail is set, else asks inner.
type callerErrStore struct {
	countingStore
	bad bool
}

func (s *callerErrStore) Take(ctx context.Context, key string, p core.Policy, cost int64, now time.Time) (core.Decision, error) {
	if s.bad {
		s.calls.Add(1)
		return core.Decision{}, fmt.Errorf("%w: store refuses it", core.ErrInvalidKey)
	}
	return s.countingStore.Take(ctx, key, p, cost, now)
}

// TestBreakerProbeCallerError: a probe answered with a caller error shows the store is alive:
// the breaker closes (with its event) and the error reaches the caller, not the failure policy.
func TestBreakerProbeCallerError(t *testing.T) {
	s := &callerErrStore{countingStore: countingStore{inner: memstore.New()}}
	rec := &recorder{}
	l := newLimiter(t, core.Config{Store: s, Observer: rec,
		Breaker: core.BreakerConfig{Failures: 1, Cooldown: time.Second},
		Rules:   []core.Rule{{Policy: core.NewFixedWindow("p", 10, time.Hour)}}})
	ctx := context.Background()
	s.fail.Store(true)
	_, _ = l.AllowKeyAt(ctx, "k", 1, t0)
	s.fail.Store(false)
	s.bad = true
	res, err := l.AllowKeyAt(ctx, "k", 1, t0.Add(time.Second))
	if !errors.Is(err, core.ErrInvalidKey) || res.Allowed || res.Degraded != core.NotDegraded {
		t.Fatalf("probe with a caller error: %+v %v", res, err)
	}
	if rec.count(core.EventBreakerClosed) != 1 {
		t.Fatalf("breaker-closed events %d, want 1", rec.count(core.EventBreakerClosed))
	}
	s.bad = false
	calls := s.calls.Load()
	if res, err := l.AllowKeyAt(ctx, "k", 1, t0.Add(time.Second)); err != nil || !res.Allowed || res.Degraded != core.NotDegraded {
		t.Fatalf("after the probe: %+v %v", res, err)
	}
	if s.calls.Load() != calls+1 {
		t.Fatal("the store was not asked: the breaker stayed open")
	}
	// A caller error while closed changes nothing either.
	s.bad = true
	_, _ = l.AllowKeyAt(ctx, "k", 1, t0.Add(time.Second))
	if rec.count(core.EventBreakerClosed) != 1 || rec.count(core.EventBreakerOpen) != 1 {
		t.Fatalf("breaker events after a caller error while closed: open %d closed %d",
			rec.count(core.EventBreakerOpen), rec.count(core.EventBreakerClosed))
	}
}
