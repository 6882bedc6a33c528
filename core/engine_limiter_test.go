package core_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/core/reply"
)

// deadlineStore records the deadline of each call's context (zero when none) and answers from
// a memory store; it does not say it is in-process, so the limiter treats it as remote.
type deadlineStore struct {
	inner     *memstore.Store
	deadlines []time.Duration
}

func (s *deadlineStore) Take(ctx context.Context, key string, p core.Policy, cost int64, now time.Time) (core.Decision, error) {
	var left time.Duration
	if dl, ok := ctx.Deadline(); ok {
		left = time.Until(dl)
	}
	s.deadlines = append(s.deadlines, left)
	return s.inner.Take(ctx, key, p, cost, now)
}

// TestTimeBudget: a remote store's call gets DefaultTimeout (100 ms) unless configured; a
// negative Timeout means no deadline.
func TestTimeBudget(t *testing.T) {
	cases := []struct {
		timeout  time.Duration
		min, max time.Duration // of the deadline left when the store is called; 0, 0: none
	}{
		{0, 1, core.DefaultTimeout}, // some of it may be spent by the time the store is called
		{5 * time.Second, core.DefaultTimeout + 1, 5 * time.Second},
		{-1, 0, 0},
	}
	for _, c := range cases {
		s := &deadlineStore{inner: memstore.New()}
		l := newLimiter(t, core.Config{Store: s, Timeout: c.timeout,
			Rules: []core.Rule{{Policy: core.NewFixedWindow("p", 10, time.Minute)}}})
		if _, err := l.AllowKeyAt(context.Background(), "k", 1, t0); err != nil {
			t.Fatal(err)
		}
		if got := s.deadlines[0]; got < c.min || got > c.max {
			t.Errorf("Timeout %v: the store's deadline was %v away, want %v to %v", c.timeout, got, c.min, c.max)
		}
	}
}

// inProcessDeadline is an in-process store that records whether its calls had a deadline.
type inProcessDeadline struct {
	*memstore.Store
	deadlines int
}

func (s *inProcessDeadline) Take(ctx context.Context, key string, p core.Policy, cost int64, now time.Time) (core.Decision, error) {
	if _, ok := ctx.Deadline(); ok {
		s.deadlines++
	}
	return s.Store.Take(ctx, key, p, cost, now)
}

// TestInProcessNoDeadline: a store that says it is in-process never gets a deadline, whatever
// the Timeout.
func TestInProcessNoDeadline(t *testing.T) {
	for _, timeout := range []time.Duration{0, time.Second} {
		s := &inProcessDeadline{Store: memstore.New()}
		l := newLimiter(t, core.Config{Store: s, Timeout: timeout,
			Rules: []core.Rule{{Policy: core.NewFixedWindow("p", 10, time.Minute)}}})
		if _, err := l.AllowKeyAt(context.Background(), "k", 1, t0); err != nil {
			t.Fatal(err)
		}
		if s.deadlines != 0 {
			t.Fatalf("Timeout %v: an in-process store got a deadline", timeout)
		}
	}
}

// TestEventLatency: decisions and store errors of a remote store carry the call's latency;
// those of an in-process store carry none.
func TestEventLatency(t *testing.T) {
	slow := storeFunc(func(ctx context.Context, key string, p core.Policy, cost int64, now time.Time) (core.Decision, error) {
		time.Sleep(time.Millisecond)
		if key == "bad" {
			return core.Decision{}, errors.New("store: timeout")
		}
		return core.Decision{Allowed: true, Limit: 10, Remaining: 9, Policy: p}, nil
	})
	for _, c := range []struct {
		name   string
		store  core.Store
		remote bool
	}{{"remote", slow, true}, {"in-process", memstore.New(), false}} {
		rec := &recorder{}
		l := newLimiter(t, core.Config{Store: c.store, Observer: rec,
			Rules: []core.Rule{{Policy: core.NewFixedWindow("p", 10, time.Minute)}}})
		_, _ = l.AllowKeyAt(context.Background(), "k", 1, t0)
		_, _ = l.AllowKeyAt(context.Background(), "bad", 1, t0)
		rec.mu.Lock()
		for _, e := range rec.events {
			// A degraded decision is not the store's: its latency is in the store-error event.
			if e.Kind != core.EventDecision && e.Kind != core.EventStoreError || e.Kind == core.EventDecision && e.Degraded != core.NotDegraded {
				continue
			}
			if c.remote && e.Latency < time.Millisecond || !c.remote && e.Latency != 0 {
				t.Errorf("%s: %v event of %q latency %v", c.name, e.Kind, e.Key, e.Latency)
			}
		}
		rec.mu.Unlock()
	}
}

// TestKeyBounds: keys of exactly MaxKeyLen (default DefaultMaxKeyLen) bytes are accepted,
// longer ones refused with ErrKeyTooLong; the empty key is missing.
func TestKeyBounds(t *testing.T) {
	ctx := context.Background()
	for _, max := range []int{0, 8} {
		l := newLimiter(t, core.Config{Store: memstore.New(), MaxKeyLen: max,
			Rules: []core.Rule{{Policy: core.NewFixedWindow("p", 10, time.Minute)}}})
		n := max
		if n == 0 {
			n = core.DefaultMaxKeyLen
		}
		if res, err := l.AllowKeyAt(ctx, strings.Repeat("k", n), 1, t0); err != nil || !res.Allowed {
			t.Errorf("MaxKeyLen %d: a key of %d bytes: %+v %v", max, n, res, err)
		}
		if _, err := l.AllowKeyAt(ctx, strings.Repeat("k", n+1), 1, t0); !errors.Is(err, core.ErrKeyTooLong) || !errors.Is(err, core.ErrInvalidKey) {
			t.Errorf("MaxKeyLen %d: a key of %d bytes: %v", max, n+1, err)
		}
		if _, err := l.AllowKeyAt(ctx, "", 1, t0); !errors.Is(err, core.ErrMissingKey) {
			t.Errorf("empty key: %v", err)
		}
	}
}

// TestCostBounds: cost 0 (a peek) and a cost equal to the capacity are allowed; below 0 and
// above the capacity are refused with their errors, spending nothing.
func TestCostBounds(t *testing.T) {
	l := newLimiter(t, core.Config{Store: memstore.New(),
		Rules: []core.Rule{{Policy: core.NewTokenBucket("tb", 10, time.Minute, 4)}}})
	ctx := context.Background()
	if _, err := l.AllowKeyAt(ctx, "k", -1, t0); !errors.Is(err, core.ErrNegativeCost) {
		t.Fatalf("cost -1: %v", err)
	}
	if _, err := l.AllowKeyAt(ctx, "k", 5, t0); !errors.Is(err, core.ErrCostExceedsCapacity) {
		t.Fatalf("cost 5 > burst 4: %v", err)
	}
	res, err := l.AllowKeyAt(ctx, "k", 0, t0)
	if err != nil || !res.Allowed || res.Decisions()[0].Remaining != 4 {
		t.Fatalf("cost 0: %+v %v", res, err)
	}
	res, err = l.AllowKeyAt(ctx, "k", 4, t0)
	if err != nil || !res.Allowed || res.Decisions()[0].Remaining != 0 {
		t.Fatalf("cost 4 = burst: %+v %v", res, err)
	}
}

// TestKeyFuncErrors: a key function's own error is a missing key (400) that still says what
// went wrong; an invalid key stays an invalid key.
func TestKeyFuncErrors(t *testing.T) {
	boom := errors.New("no tenant header")
	ctx := context.Background()
	for _, c := range []struct {
		err         error
		wantMissing bool
	}{{boom, true}, {core.ErrInvalidKey, false}, {core.ErrMissingKey, true}} {
		l := newLimiter(t, core.Config{Store: memstore.New(),
			Key:   func(core.Request) (string, error) { return "", c.err },
			Rules: []core.Rule{{Policy: core.NewFixedWindow("p", 10, time.Minute)}}})
		res, err := l.Allow(ctx, nil)
		if res.Allowed || !errors.Is(err, c.err) || errors.Is(err, core.ErrMissingKey) != c.wantMissing {
			t.Errorf("key error %v: %+v %v", c.err, res, err)
		}
		if reply.Status(err, 401) == 500 {
			t.Errorf("key error %v: status 500", c.err)
		}
	}
}

// TestLimitCountBounds: 1 to MaxRules limits.
func TestLimitCountBounds(t *testing.T) {
	for n := 0; n <= core.MaxRules+1; n++ {
		var limits []core.Rule
		for i := 0; i < n; i++ {
			limits = append(limits, core.Rule{Policy: core.NewFixedWindow(string(rune('a'+i)), 10, time.Minute)})
		}
		_, err := core.NewLimiter(core.Config{Store: memstore.New(), Rules: limits})
		if ok := n >= 1 && n <= core.MaxRules; ok != (err == nil) {
			t.Errorf("%d limits: %v", n, err)
		}
	}
}

// TestReserveConfigBounds: zero Reservations fields take defaults; negative ones are refused.
func TestReserveConfigBounds(t *testing.T) {
	p := core.NewFixedWindow("p", 10, time.Minute)
	for _, c := range []struct {
		r  core.Reservations
		ok bool
	}{
		{core.Reservations{}, true},
		{core.Reservations{Interval: -1}, false},
		{core.Reservations{MaxBatch: -1}, false},
		{core.Reservations{Shrink: -1}, false},
		{core.Reservations{MaxKeys: -1}, false},
	} {
		r := c.r
		_, err := core.NewLimiter(core.Config{Store: memstore.New(), Rules: []core.Rule{{Policy: p, Reserve: &r}}})
		if (err == nil) != c.ok {
			t.Errorf("%+v: %v", c.r, err)
		}
	}
}

// TestPendingSkipsPolicyFuncs: after a denial, Pending lists the static policies of the limits
// not evaluated, in order, without the PolicyFunc ones (their policy is not known).
func TestPendingSkipsPolicyFuncs(t *testing.T) {
	first := core.NewFixedWindow("first", 1, time.Minute)
	b := core.NewFixedWindow("b", 10, time.Minute)
	d := core.NewFixedWindow("d", 10, time.Minute)
	plan := func(context.Context, string) (core.Policy, error) {
		return core.NewFixedWindow("plan", 10, time.Minute), nil
	}
	l := newLimiter(t, core.Config{Store: memstore.New(), Rules: []core.Rule{
		{Policy: first}, {Policy: b}, {PolicyFunc: plan}, {Policy: d},
	}})
	ctx := context.Background()
	res, _ := l.AllowKeyAt(ctx, "k", 1, t0)
	if !res.Allowed || len(res.Pending()) != 0 || len(res.Decisions()) != 4 {
		t.Fatalf("allowed: %+v pending %v", res, res.Pending())
	}
	res, _ = l.AllowKeyAt(ctx, "k", 1, t0)
	if res.Allowed || len(res.Decisions()) != 1 {
		t.Fatalf("denied by the first: %+v", res)
	}
	var names []string
	for _, p := range res.Pending() {
		names = append(names, p.Name)
	}
	if got := strings.Join(names, ","); got != "b,d" {
		t.Fatalf("pending %q, want b,d", got)
	}
}
