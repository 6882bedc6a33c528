package core_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// takeLog is a memory store that records the cost of every Take and every Adjust's delta.
type takeLog struct {
	*memstore.Store
	mu      sync.Mutex
	ops     []string
	failAdj bool
}

func (s *takeLog) Take(ctx context.Context, key string, p core.Policy, cost int64, now time.Time) (core.Decision, error) {
	s.mu.Lock()
	s.ops = append(s.ops, fmt.Sprint("take ", cost))
	s.mu.Unlock()
	return s.Store.Take(ctx, key, p, cost, now)
}

func (s *takeLog) Adjust(ctx context.Context, key string, p core.Policy, delta int64, now time.Time) (core.Decision, error) {
	s.mu.Lock()
	s.ops = append(s.ops, fmt.Sprintf("adjust %s %s %d", key, p.Name, delta))
	fail := s.failAdj
	s.mu.Unlock()
	if fail {
		return core.Decision{}, errors.New("store: down")
	}
	return s.Store.Adjust(ctx, key, p, delta, now)
}

// drain returns the operations since the last call, joined by commas.
func (s *takeLog) drain() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := strings.Join(s.ops, ",")
	s.ops = nil
	return out
}

// reserveStep is one request: at t0+at with cost, the decision's Allowed, Remaining,
// RetryAfter, and the store operations it made ("" for a local answer).
type reserveStep struct {
	at        time.Duration
	cost      int64
	allowed   bool
	remaining int64
	retry     time.Duration
	ops       string
}

func runReserveSteps(t *testing.T, p core.Policy, rc core.Reservations, steps []reserveStep) (*core.Limiter, *takeLog) {
	t.Helper()
	s := &takeLog{Store: memstore.New()}
	l := newLimiter(t, core.Config{Store: s, Rules: []core.Rule{{Policy: p, Reserve: &rc}}})
	for i, st := range steps {
		res, err := l.AllowKeyAt(context.Background(), "k", st.cost, t0.Add(st.at))
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		d := res.Decisions()[0]
		ops := s.drain()
		if res.Allowed != st.allowed || d.Remaining != st.remaining || d.RetryAfter != st.retry || ops != st.ops {
			t.Fatalf("step %d (t0+%v cost %d): allowed %v remaining %d retry %v ops %q; want %v %d %v %q",
				i, st.at, st.cost, res.Allowed, d.Remaining, d.RetryAfter, ops, st.allowed, st.remaining, st.retry, st.ops)
		}
	}
	return l, s
}

const ms = time.Millisecond

// TestReserveFixedWindow: the batch follows the local rate × Interval, bounded by MaxBatch
// (default capacity/16) and by the store's remaining allowance / Shrink; near the end of the
// window what remains is taken, then exactly the cost, whose denial has the store's
// Retry-After; a new window voids the batch.
func TestReserveFixedWindow(t *testing.T) {
	p := core.NewFixedWindow("fw", 160, time.Minute) // MaxBatch default 10
	runReserveSteps(t, p, core.Reservations{}, []reserveStep{
		{0, 1, true, 159, 0, "take 2"},       // no rate yet: a batch of 1 beyond the cost
		{1 * ms, 1, true, 158, 0, ""},        // from the batch
		{2 * ms, 1, true, 157, 0, "take 11"}, // 2 arrivals in 2 ms: 100 per 100 ms; 158/8; MaxBatch 10
		{30 * ms, 5, true, 152, 0, ""},
		{40 * ms, 5, true, 147, 0, ""},
		{50 * ms, 1, true, 146, 0, "take 8"}, // 3 arrivals in 48 ms: 7 per 100 ms
	})
	// Bounded by the remaining allowance / Shrink; what is held counts toward the cost.
	p2 := core.NewFixedWindow("fw", 40, time.Minute)
	runReserveSteps(t, p2, core.Reservations{MaxBatch: 100, Shrink: 4}, []reserveStep{
		{0, 1, true, 39, 0, "take 2"},
		{ms, 1, true, 38, 0, ""},
		{2 * ms, 1, true, 37, 0, "take 10"}, // 200 per 100 ms wanted; 38 left / 4 = 9
		{2 * ms, 9, true, 28, 0, ""},
		{3 * ms, 10, true, 18, 0, "take 17"},        // 10 + 28 / 4
		{3 * ms, 18, true, 0, 0, "take 12,take 11"}, // 7 held, 11 more + 2; only 11 left
		{4 * ms, 1, false, 0, time.Minute - 4*ms, "take 2,take 1"},
	})
	// The local rate rounds up: 2 arrivals in exactly one Interval make a batch of 2.
	p3 := core.NewFixedWindow("fw", 1000, time.Minute)
	runReserveSteps(t, p3, core.Reservations{MaxBatch: 100, Shrink: 1}, []reserveStep{
		{0, 1, true, 999, 0, "take 2"},
		{50 * ms, 1, true, 998, 0, ""},
		{100 * ms, 1, true, 997, 0, "take 3"},
	})
}

// TestReserveNearTheEnd: with less than a batch left the instance takes what remains; with
// less than the cost left it asks for exactly the cost, and its denial is cached.
func TestReserveNearTheEnd(t *testing.T) {
	p := core.NewFixedWindow("fw", 12, time.Minute)
	runReserveSteps(t, p, core.Reservations{MaxBatch: 8, Shrink: 1}, []reserveStep{
		{0, 1, true, 11, 0, "take 2"},
		{ms, 1, true, 10, 0, ""},
		{2 * ms, 1, true, 9, 0, "take 9"}, // wants 1+100, 10 left, MaxBatch 8
		{3 * ms, 8, true, 1, 0, ""},
		{4 * ms, 2, false, 1, time.Minute - 4*ms, "take 3,take 2"}, // 1 left: not even the cost
		{5 * ms, 1, true, 0, 0, "take 1"},                          // a batch of 2 is denied by the cache; 1 remains
		{6 * ms, 1, false, 0, time.Minute - 6*ms, "take 1"},
		{7 * ms, 1, false, 0, time.Minute - 7*ms, ""}, // the cached denial
	})
}

// TestReserveTakesWhatRemains: a batch the store cannot give whole is cut to what remains, not
// to the request's cost.
func TestReserveTakesWhatRemains(t *testing.T) {
	p := core.NewFixedWindow("fw", 12, time.Minute)
	runReserveSteps(t, p, core.Reservations{MaxBatch: 100, Shrink: 1}, []reserveStep{
		{0, 1, true, 11, 0, "take 2"},
		{ms, 1, true, 10, 0, ""},
		{2 * ms, 1, true, 9, 0, "take 11,take 10"}, // wants 1+10, 10 remain
	})
}

// TestReserveCostZero: a cost-0 request on a key with no batch yet (first, or in a new window)
// reads the key's allowance from the store with a cost-0 take instead of answering 0
// remaining; once a batch or a reading is held it is answered locally.
func TestReserveCostZero(t *testing.T) {
	p := core.NewFixedWindow("fw", 160, time.Second)
	runReserveSteps(t, p, core.Reservations{}, []reserveStep{
		{0, 0, true, 160, 0, "take 0"},
		{ms, 0, true, 160, 0, ""},
		{2 * ms, 1, true, 159, 0, "take 2"},
		{3 * ms, 0, true, 159, 0, ""},
		{time.Second, 0, true, 160, 0, "take 0"}, // a new window: the held unit is void
	})
	tb := core.NewTokenBucket("tb", 10, time.Second, 0)
	runReserveSteps(t, tb, core.Reservations{}, []reserveStep{
		{0, 0, true, 10, 0, "take 0"},
		{ms, 1, true, 9, 0, "take 2"},
	})
}

// TestReserveNewWindow: a batch belongs to its window: the next window starts from the store.
func TestReserveNewWindow(t *testing.T) {
	p := core.NewFixedWindow("fw", 100, time.Second)
	runReserveSteps(t, p, core.Reservations{MaxBatch: 5}, []reserveStep{
		{0, 1, true, 99, 0, "take 2"},
		{999 * ms, 2, true, 97, 0, "take 2"},
		{time.Second, 1, true, 99, 0, "take 6"}, // the held unit is void; the rate (1 per ms) sets the batch, not the old window's remainder
		{time.Second + ms, 1, true, 98, 0, ""},
	})
}

// TestReserveTokenBucketWaits: a token bucket's batch is a fraction of the capacity; when the
// store cannot give it yet, the instance denies locally until it can, with the store's
// Retry-After counted down and nothing remaining.
func TestReserveTokenBucketWaits(t *testing.T) {
	p := core.NewTokenBucket("tb", 10, time.Second, 0) // a token every 100 ms
	runReserveSteps(t, p, core.Reservations{Shrink: 2, MaxBatch: 4}, []reserveStep{
		{0, 1, true, 9, 0, "take 2"},
		{ms, 1, true, 8, 0, ""},
		{2 * ms, 1, true, 7, 0, "take 5"}, // wants 100; capacity / Shrink = 5, MaxBatch 4
		{3 * ms, 4, true, 3, 0, ""},
		{4 * ms, 4, false, 3, 496 * ms, "take 8"}, // the batch is not there yet
		{100 * ms, 1, false, 0, 400 * ms, ""},     // waiting for it, locally
		{500 * ms, 4, true, 4, 0, "take 5"},
	})
}

// TestReserveSlidingWindow: a sliding window's batch is bounded by capacity / Shrink.
func TestReserveSlidingWindow(t *testing.T) {
	p := core.NewSlidingWindow("sw", 16, time.Minute)
	runReserveSteps(t, p, core.Reservations{MaxBatch: 100}, []reserveStep{
		{0, 1, true, 15, 0, "take 2"},
		{ms, 1, true, 14, 0, ""},
		{2 * ms, 1, true, 13, 0, "take 3"}, // capacity 16 / Shrink 8 = 2 beyond the cost
	})
}

// TestReserveMaxKeys: past MaxKeys, a key's batch is dropped to make room: its next request
// asks the store.
func TestReserveMaxKeys(t *testing.T) {
	s := &takeLog{Store: memstore.New()}
	l := newLimiter(t, core.Config{Store: s, Rules: []core.Rule{{Policy: core.NewFixedWindow("fw", 100, time.Minute),
		Reserve: &core.Reservations{MaxKeys: 1}}}})
	ctx := context.Background()
	_, _ = l.AllowKeyAt(ctx, "a", 1, t0)
	_, _ = l.AllowKeyAt(ctx, "b", 1, t0)
	s.drain()
	if res, _ := l.AllowKeyAt(ctx, "a", 1, t0); !res.Allowed || s.drain() == "" {
		t.Fatal("a's batch survived b's with MaxKeys 1")
	}
	for _, max := range []int{2, 0} { // 0: the default, 10,000
		l2 := newLimiter(t, core.Config{Store: s, Rules: []core.Rule{{Policy: core.NewFixedWindow("fw2", 100, time.Minute),
			Reserve: &core.Reservations{MaxKeys: max}}}})
		_, _ = l2.AllowKeyAt(ctx, "a", 1, t0)
		_, _ = l2.AllowKeyAt(ctx, "b", 1, t0)
		s.drain()
		if res, _ := l2.AllowKeyAt(ctx, "a", 1, t0); !res.Allowed || s.drain() != "" {
			t.Fatalf("a's batch was dropped with MaxKeys %d", max)
		}
	}
}

// TestReserveEvents: a decision that reserved says how much; one from the batch says Local.
func TestReserveEvents(t *testing.T) {
	rec := &recorder{}
	l := newLimiter(t, core.Config{Store: memstore.New(), Observer: rec,
		Rules: []core.Rule{{Policy: core.NewFixedWindow("fw", 100, time.Minute), Reserve: &core.Reservations{}}}})
	ctx := context.Background()
	_, _ = l.AllowKeyAt(ctx, "k", 1, t0)
	_, _ = l.AllowKeyAt(ctx, "k", 1, t0)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if e := rec.events[0]; e.Reserved != 2 || e.Local {
		t.Fatalf("reserving decision %+v", e)
	}
	if e := rec.events[1]; e.Reserved != 0 || !e.Local || e.Decision.Remaining != 98 {
		t.Fatalf("local decision %+v", e)
	}
}

// TestReserveClose: Close gives back each unspent batch of the current window (under the
// key's plan for a PolicyFunc), skips ended windows, reports failures, and waits for pending
// settlements.
func TestReserveClose(t *testing.T) {
	s := &takeLog{Store: memstore.New()}
	rec := &recorder{}
	clk := &clock{t: t0}
	plan := core.NewFixedWindow("plan", 100, time.Minute)
	l := newLimiter(t, core.Config{Store: s, Observer: rec, Now: clk.Now, Rules: []core.Rule{
		{Policy: core.NewFixedWindow("fw", 160, time.Minute), Reserve: &core.Reservations{}},
		{PolicyFunc: func(context.Context, string) (core.Policy, error) { return plan, nil }, Reserve: &core.Reservations{}},
		{Policy: core.NewFixedWindow("short", 100, time.Second), Reserve: &core.Reservations{}},
	}})
	ctx := context.Background()
	_, _ = l.AllowKeyAt(ctx, "k", 1, t0)
	_, _ = l.AllowKeyAt(ctx, "z", 1, t0)
	_, _ = l.AllowKeyAt(ctx, "z", 1, t0) // z's batches are spent: nothing to give back
	clk.Add(time.Second)                 // "short"'s window has ended
	s.drain()
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	ops := strings.Split(s.drain(), ",")
	if got := fmt.Sprint(len(ops), ops); !strings.Contains(got, "adjust k fw -1") || !strings.Contains(got, "adjust k plan -1") || len(ops) != 2 {
		t.Fatalf("Close gave back %v, want fw's and plan's held unit", ops)
	}
	if err := l.Close(ctx); err != nil || s.drain() != "" {
		t.Fatal("a second Close gave back again")
	}
	// A failing store is reported.
	_, _ = l.AllowKeyAt(ctx, "k2", 1, clk.Now())
	s.failAdj = true
	_ = l.Close(ctx)
	rec.mu.Lock()
	n := 0
	for _, e := range rec.events {
		if e.Kind == core.EventStoreError && e.Op == core.OpAdjust && e.Delta == -1 && e.Key == "k2" {
			n++
		}
	}
	rec.mu.Unlock()
	if n != 3 {
		t.Fatalf("%d store errors for 3 failed give-backs", n)
	}
}

// TestReserveResetAfter: local answers count the store's reset down from the reservation.
func TestReserveResetAfter(t *testing.T) {
	ctx := context.Background()
	fw := newLimiter(t, core.Config{Store: memstore.New(), Rules: []core.Rule{{Policy: core.NewFixedWindow("fw", 100, time.Minute), Reserve: &core.Reservations{}}}})
	_, _ = fw.AllowKeyAt(ctx, "k", 1, t0)
	res, _ := fw.AllowKeyAt(ctx, "k", 1, t0.Add(10*time.Second)) // from the batch
	if d := res.Decisions()[0]; d.ResetAfter != 50*time.Second {
		t.Fatalf("local decision %+v, want ResetAfter 50s", d)
	}
	tb := newLimiter(t, core.Config{Store: memstore.New(), Rules: []core.Rule{{Policy: core.NewTokenBucket("tb", 10, time.Second, 0),
		Reserve: &core.Reservations{Shrink: 2, MaxBatch: 4}}}})
	for _, st := range []struct { // as in TestReserveTokenBucketWaits
		at   time.Duration
		cost int64
	}{{0, 1}, {ms, 1}, {2 * ms, 1}, {3 * ms, 4}} {
		_, _ = tb.AllowKeyAt(ctx, "k", st.cost, t0.Add(st.at))
	}
	res, _ = tb.AllowKeyAt(ctx, "k", 4, t0.Add(4*ms)) // the store: not yet; the bucket is full at 700 ms
	if d := res.Decisions()[0]; d.Allowed || d.ResetAfter != 696*ms {
		t.Fatalf("store denial %+v", d)
	}
	res, _ = tb.AllowKeyAt(ctx, "k", 1, t0.Add(100*ms)) // waiting, locally
	if d := res.Decisions()[0]; d.Allowed || d.ResetAfter != 600*ms || d.RetryAfter != 400*ms {
		t.Fatalf("local wait %+v", d)
	}
}

// TestReserveDenialWithoutRetryAfter: a store that denies a batch without saying when it is
// available is asked for just the cost, not waited for.
func TestReserveDenialWithoutRetryAfter(t *testing.T) {
	var costs []int64
	st := storeFunc(func(ctx context.Context, key string, p core.Policy, cost int64, now time.Time) (core.Decision, error) {
		costs = append(costs, cost)
		return core.Decision{Allowed: cost == 1, Limit: 10, Policy: p}, nil
	})
	l := newLimiter(t, core.Config{Store: st, Rules: []core.Rule{{Policy: core.NewTokenBucket("tb", 10, time.Second, 0), Reserve: &core.Reservations{}}}})
	res, err := l.AllowKeyAt(context.Background(), "k", 1, t0)
	if err != nil || !res.Allowed || fmt.Sprint(costs) != "[2 1]" {
		t.Fatalf("%+v %v, store costs %v", res, err, costs)
	}
}
