package core_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// denyAll spends the single unit of each key and then has each denied once, so that every
// key's denial is cached (as far as the cache holds it).
func denyAll(t *testing.T, l *core.Limiter, keys []string) {
	t.Helper()
	ctx := context.Background()
	for _, k := range keys {
		if res, err := l.AllowKeyAt(ctx, k, 1, t0); err != nil || !res.Allowed {
			t.Fatalf("first request of %s: %+v %v", k, res, err)
		}
		if res, err := l.AllowKeyAt(ctx, k, 1, t0); err != nil || res.Allowed {
			t.Fatalf("second request of %s: %+v %v", k, res, err)
		}
	}
}

// TestDenialCacheSize: the cache holds about DenialCacheSize denials (its shards share it),
// evicting the oldest; the newest denial is kept on its first denial when its shard has room
// and on its second otherwise (see TestDenyCacheAdmission); a negative size disables it.
func TestDenialCacheSize(t *testing.T) {
	keys := make([]string, 48)
	for i := range keys {
		keys[i] = fmt.Sprint("key-", i)
	}
	cases := []struct {
		size             int
		minCalls, maxAll int64 // bounds on store calls when every key asks again
	}{
		{16, int64(len(keys) - 16), int64(len(keys))},
		{32, int64(len(keys) - 32), int64(len(keys))},
		{-1, int64(len(keys)), int64(len(keys))},
		{0, 0, 0},   // the default (10,000) holds them all
		{160, 0, 0}, // 10 per shard: the keys spread over the shards
		{1000, 0, 0},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint("size=", c.size), func(t *testing.T) {
			s := &countingStore{inner: memstore.New()}
			l := newLimiter(t, core.Config{Store: s, DenialCacheSize: c.size,
				Rules: []core.Rule{{Policy: core.NewFixedWindow("p", 1, time.Minute)}}})
			denyAll(t, l, keys)
			ctx := context.Background()
			// The newest denial is in the cache, whatever its shard.
			before := s.calls.Load()
			res, err := l.AllowKeyAt(ctx, keys[len(keys)-1], 1, t0.Add(time.Second))
			if err != nil || res.Allowed || res.RetryAfter() != 59*time.Second {
				t.Fatalf("newest key: %+v %v", res, err)
			}
			newest := s.calls.Load() - before
			switch {
			case c.size < 0 && newest != 1:
				t.Fatalf("newest key without a cache: %d store calls, want 1", newest)
			case c.size >= 0 && newest > 1:
				t.Fatalf("newest key: %d store calls, want at most 1", newest)
			case c.size >= 0:
				// Cached on its first denial if its shard had room, else on this second one.
				before = s.calls.Load()
				if res, err := l.AllowKeyAt(ctx, keys[len(keys)-1], 1, t0.Add(time.Second)); err != nil || res.Allowed {
					t.Fatalf("newest key again: %+v %v", res, err)
				}
				if n := s.calls.Load() - before; n != 0 {
					t.Fatalf("newest key denied twice: %d store calls, want 0 (its denial is cached)", n)
				}
			}
			before = s.calls.Load()
			for _, k := range keys {
				if res, err := l.AllowKeyAt(ctx, k, 1, t0.Add(time.Second)); err != nil || res.Allowed {
					t.Fatalf("%s again: %+v %v", k, res, err)
				}
			}
			calls := s.calls.Load() - before
			if calls < c.minCalls || calls > c.maxAll {
				t.Fatalf("%d keys asking again made %d store calls, want %d to %d", len(keys), calls, c.minCalls, c.maxAll)
			}
		})
	}
}

// TestDenialCacheCosts: a cached denial for cost c answers any cost >= c; a smaller cost asks
// the store, and its denial then replaces the entry (it covers more costs).
func TestDenialCacheCosts(t *testing.T) {
	s := &countingStore{inner: memstore.New()}
	l := newLimiter(t, core.Config{Store: s, Rules: []core.Rule{{Policy: core.NewFixedWindow("p", 10, time.Minute)}}})
	ctx := context.Background()
	steps := []struct {
		cost      int64
		wantStore bool
	}{
		{6, true},  // allowed: 4 left
		{5, true},  // denied, cached for costs >= 5
		{5, false}, // cached
		{9, false}, // cached
		{4, true},  // allowed: 0 left
		{3, true},  // denied: the cached entry covers only >= 5; now cached for >= 3
		{3, false},
		{4, false},
		{1, true}, // denied, cached for >= 1
		{1, false},
		{2, false},
	}
	for i, st := range steps {
		before := s.calls.Load()
		res, err := l.AllowKeyAt(ctx, "k", st.cost, t0)
		if err != nil {
			t.Fatal(err)
		}
		if called := s.calls.Load() != before; called != st.wantStore {
			t.Fatalf("step %d (cost %d): store called %v, want %v (%+v)", i, st.cost, called, st.wantStore, res)
		}
	}
}

// TestDenialCacheAnswer: a cached denial says what the store would: the limit, and Retry-After
// and the reset counted from the request's time; at its Retry-After the store is asked again.
func TestDenialCacheAnswer(t *testing.T) {
	s := &countingStore{inner: memstore.New()}
	rec := &recorder{}
	p := core.NewTokenBucket("tb", 10, 10*time.Second, 0) // one token a second
	l := newLimiter(t, core.Config{Store: s, Observer: rec, Rules: []core.Rule{{Policy: p}}})
	ctx := context.Background()
	if res, _ := l.AllowKeyAt(ctx, "k", 10, t0); !res.Allowed {
		t.Fatalf("full bucket: %+v", res)
	}
	first, _ := l.AllowKeyAt(ctx, "k", 2, t0)
	if d := first.Decisions()[0]; d.Allowed || d.RetryAfter != 2*time.Second || d.ResetAfter != 10*time.Second {
		t.Fatalf("store denial %+v", d)
	}
	calls := s.calls.Load()
	res, _ := l.AllowKeyAt(ctx, "k", 2, t0.Add(500*time.Millisecond))
	want := core.Decision{Limit: 10, RetryAfter: 1500 * time.Millisecond, ResetAfter: 9500 * time.Millisecond, Policy: p}
	if d := res.Decisions()[0]; d != want || res.Allowed {
		t.Fatalf("cached denial %+v, want %+v", d, want)
	}
	if s.calls.Load() != calls {
		t.Fatal("the cached denial asked the store")
	}
	rec.mu.Lock()
	last := rec.events[len(rec.events)-1]
	rec.mu.Unlock()
	if !last.Cached || last.Decision != want || last.Key != "k" || last.Op != core.OpTake {
		t.Fatalf("cached denial event %+v", last)
	}
	// 1 ns before Retry-After: still cached; at it: the store, which allows.
	res, _ = l.AllowKeyAt(ctx, "k", 2, t0.Add(2*time.Second-1))
	if res.Allowed || s.calls.Load() != calls {
		t.Fatalf("1ns before Retry-After: %+v, store calls %d", res, s.calls.Load()-calls)
	}
	res, _ = l.AllowKeyAt(ctx, "k", 2, t0.Add(2*time.Second))
	if !res.Allowed || s.calls.Load() != calls+1 {
		t.Fatalf("at Retry-After: %+v, store calls %d", res, s.calls.Load()-calls)
	}
}

// TestForgetDenial: ForgetDenial drops the cached denial of exactly (policy, key).
func TestForgetDenial(t *testing.T) {
	s := &countingStore{inner: memstore.New()}
	l := newLimiter(t, core.Config{Store: s, Rules: []core.Rule{{Policy: core.NewFixedWindow("p", 1, time.Minute)}}})
	denyAll(t, l, []string{"a", "b"})
	ctx := context.Background()
	for _, f := range [][2]string{{"p", "x"}, {"q", "a"}, {"p", "a"}} {
		l.ForgetDenial(f[0], f[1])
	}
	asks := func(key string) bool {
		before := s.calls.Load()
		_, _ = l.AllowKeyAt(ctx, key, 1, t0)
		return s.calls.Load() != before
	}
	if !asks("a") {
		t.Fatal("a forgotten denial was still answered from the cache")
	}
	if asks("b") {
		t.Fatal("ForgetDenial of another key dropped b's denial")
	}
	if asks("a") {
		t.Fatal("a's new denial was not cached")
	}
}

// TestDenialWithoutRetryAfterNotCached: a denial without a Retry-After (a store that does not
// say) is not cached: every request asks the store, even one whose clock is behind.
func TestDenialWithoutRetryAfterNotCached(t *testing.T) {
	var calls int
	p := core.NewFixedWindow("p", 1, time.Minute)
	st := storeFunc(func(ctx context.Context, key string, p core.Policy, cost int64, now time.Time) (core.Decision, error) {
		calls++
		return core.Decision{Limit: 1, Policy: p}, nil
	})
	l := newLimiter(t, core.Config{Store: st, Rules: []core.Rule{{Policy: p}}})
	for _, at := range []time.Duration{0, -time.Second, 0} {
		if res, err := l.AllowKeyAt(context.Background(), "k", 1, t0.Add(at)); err != nil || res.Allowed {
			t.Fatalf("%+v %v", res, err)
		}
	}
	if calls != 3 {
		t.Fatalf("%d store calls, want 3", calls)
	}
}

// gatedDenials answers every Take with a denial whose Retry-After the caller chose (by cost:
// retry[cost]); a call whose cost is in hold blocks until the test closes its gate, so that
// two denials reach the cache in a chosen order.
type gatedDenials struct {
	mu    sync.Mutex
	calls int
	retry map[int64]time.Duration
	hold  map[int64]chan struct{}
	held  chan int64
}

func (s *gatedDenials) Take(ctx context.Context, key string, p core.Policy, cost int64, now time.Time) (core.Decision, error) {
	s.mu.Lock()
	s.calls++
	gate := s.hold[cost]
	delete(s.hold, cost)
	s.mu.Unlock()
	if gate != nil {
		s.held <- cost
		<-gate
	}
	s.mu.Lock()
	ra := s.retry[cost]
	s.mu.Unlock()
	return core.Decision{Limit: 10, RetryAfter: ra, ResetAfter: ra, Policy: p}, nil
}

func (s *gatedDenials) count() int { s.mu.Lock(); defer s.mu.Unlock(); return s.calls }

// TestDenialCacheKeepsTheWiderDenial: when two denials of one key race to the cache, the one
// that covers more (lower cost, longer Retry-After) is kept whichever arrives last.
func TestDenialCacheKeepsTheWiderDenial(t *testing.T) {
	cases := []struct {
		name          string
		first, second int64 // costs; second is decided first, its answer cached last
		retry         map[int64]time.Duration
		askCost       int64
		askAt         time.Duration
	}{
		// Same Retry-After: the lower cost (first, cached first) is kept.
		{"lower cost kept", 1, 2, map[int64]time.Duration{1: 10 * time.Second, 2: 10 * time.Second}, 1, 0},
		// Same cost class, the later end (first, cached first) is kept.
		{"later end kept", 1, 1, map[int64]time.Duration{1: 10 * time.Second}, 1, 7 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &gatedDenials{retry: c.retry, hold: map[int64]chan struct{}{}, held: make(chan int64, 1)}
			l := newLimiter(t, core.Config{Store: s, Rules: []core.Rule{{Policy: core.NewFixedWindow("p", 10, time.Minute)}}})
			ctx := context.Background()
			gate := make(chan struct{})
			s.hold[c.second] = gate
			done := make(chan struct{})
			go func() {
				defer close(done)
				_, _ = l.AllowKeyAt(ctx, "k", c.second, t0)
			}()
			<-s.held
			// The first request is decided and cached while the second is in the store.
			if c.first == c.second {
				s.mu.Lock()
				s.retry[c.first] = 10 * time.Second
				s.mu.Unlock()
			}
			if res, _ := l.AllowKeyAt(ctx, "k", c.first, t0); res.Allowed {
				t.Fatal("allowed")
			}
			if c.first == c.second {
				s.mu.Lock()
				s.retry[c.second] = 5 * time.Second // the late answer ends sooner
				s.mu.Unlock()
			}
			close(gate)
			<-done
			calls := s.count()
			if res, _ := l.AllowKeyAt(ctx, "k", c.askCost, t0.Add(c.askAt)); res.Allowed {
				t.Fatal("allowed")
			}
			if s.count() != calls {
				t.Fatalf("cost %d at +%v asked the store: the narrower denial replaced the wider one", c.askCost, c.askAt)
			}
		})
	}
}
