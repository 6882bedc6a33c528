package core_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/core/reply"
)

// scriptedStore answers each Take from a script: a call whose gate is set blocks until the
// test opens the gate, then answers as scripted (success or failure), whatever its context
// says, as a slow store's late reply does.
type scriptedStore struct {
	inner core.Store
	calls atomic.Int64
	mu    sync.Mutex
	fail  bool
	gate  chan struct{} // non-nil: the next call blocks on it
	held  chan struct{} // closed when a call is blocked on the gate
}

func (s *scriptedStore) Take(ctx context.Context, key string, p core.Policy, cost int64, now time.Time) (core.Decision, error) {
	s.calls.Add(1)
	s.mu.Lock()
	gate, held, fail := s.gate, s.held, s.fail
	s.gate = nil
	s.mu.Unlock()
	if gate != nil {
		close(held)
		<-gate
		return s.inner.Take(context.Background(), key, p, cost, now) // a late success
	}
	if fail {
		return core.Decision{}, errors.New("store: connection reset")
	}
	return s.inner.Take(ctx, key, p, cost, now)
}

// TestBreakerIgnoresLateAnswers: a success that answers a call made before the breaker opened
// must not close it (only the probe after the cool-down can), and the breaker then stays open
// for its whole cool-down.
func TestBreakerIgnoresLateAnswers(t *testing.T) {
	s := &scriptedStore{inner: memstore.New()}
	rec := &recorder{}
	clk := &clock{t: t0}
	l := newLimiter(t, core.Config{
		Store: s, Now: clk.Now, Observer: rec, Timeout: -1,
		Failure: core.FailFallback, Fallback: memstore.New(),
		Breaker: core.BreakerConfig{Failures: 3, Cooldown: 10 * time.Second},
		Rules:   []core.Rule{{Policy: core.NewFixedWindow("api", 1000, time.Hour)}},
	})
	ctx := context.Background()
	// A slow call starts while the store is healthy...
	gate, held := make(chan struct{}), make(chan struct{})
	s.mu.Lock()
	s.gate, s.held = gate, held
	s.mu.Unlock()
	slow := make(chan core.Result)
	go func() {
		res, _ := l.AllowKey(ctx, "slow", 1)
		slow <- res
	}()
	<-held
	// ...then the store fails three times and the breaker opens.
	s.mu.Lock()
	s.fail = true
	s.mu.Unlock()
	for range 3 {
		_, _ = l.AllowKey(ctx, "k", 1)
	}
	if rec.count(core.EventBreakerOpen) != 1 {
		t.Fatalf("breaker-open events: %d, want 1", rec.count(core.EventBreakerOpen))
	}
	// The slow call now answers: a late success.
	s.mu.Lock()
	s.fail = false
	s.mu.Unlock()
	close(gate)
	<-slow
	if n := rec.count(core.EventBreakerClosed); n != 0 {
		t.Fatalf("a late success closed the breaker (%d breaker-closed events); only the probe after the cool-down may", n)
	}
	calls := s.calls.Load()
	clk.Add(5 * time.Second)
	for range 10 {
		res, err := l.AllowKey(ctx, "k", 1)
		if err != nil || res.Degraded != core.DegradedFallback {
			t.Fatalf("inside the cool-down: degraded %v err %v, want the fallback", res.Degraded, err)
		}
	}
	if got := s.calls.Load(); got != calls {
		t.Fatalf("the store was called %d times inside the cool-down, want 0", got-calls)
	}
	// After the cool-down the probe succeeds and closes it.
	clk.Add(6 * time.Second)
	res, err := l.AllowKey(ctx, "k", 1)
	if err != nil || res.Degraded != core.NotDegraded {
		t.Fatalf("probe after the cool-down: degraded %v err %v", res.Degraded, err)
	}
	if n := rec.count(core.EventBreakerClosed); n != 1 {
		t.Fatalf("breaker-closed events after the probe: %d, want 1", n)
	}
}

// TestBreakerLateFailureAfterClose: a failure answering a call made before the breaker closed
// must not count against the recovered store.
func TestBreakerLateFailureAfterClose(t *testing.T) {
	clk := &clock{t: t0}
	var failing atomic.Bool
	var gateOnce sync.Once
	gate, held := make(chan struct{}), make(chan struct{})
	var slowCall atomic.Bool
	store := storeFunc(func(ctx context.Context, key string, p core.Policy, cost int64, now time.Time) (core.Decision, error) {
		if key == "slow" && slowCall.CompareAndSwap(false, true) {
			gateOnce.Do(func() { close(held) })
			<-gate
			return core.Decision{}, errors.New("store: late failure")
		}
		if failing.Load() {
			return core.Decision{}, errors.New("store: down")
		}
		return core.Decision{Allowed: true, Limit: p.Limit, Remaining: p.Limit - 1, Policy: p}, nil
	})
	rec := &recorder{}
	l := newLimiter(t, core.Config{
		Store: store, Now: clk.Now, Observer: rec, Timeout: -1,
		Breaker: core.BreakerConfig{Failures: 1, Cooldown: time.Second},
		Rules:   []core.Rule{{Policy: core.NewFixedWindow("api", 1000, time.Hour)}},
	})
	ctx := context.Background()
	done := make(chan struct{})
	go func() { _, _ = l.AllowKey(ctx, "slow", 1); close(done) }()
	<-held
	failing.Store(true)
	_, _ = l.AllowKey(ctx, "k", 1) // opens
	failing.Store(false)
	clk.Add(2 * time.Second)
	_, _ = l.AllowKey(ctx, "k", 1) // the probe closes it
	if rec.count(core.EventBreakerClosed) != 1 {
		t.Fatalf("breaker-closed events: %d, want 1", rec.count(core.EventBreakerClosed))
	}
	close(gate)
	<-done
	if n := rec.count(core.EventBreakerOpen); n != 1 {
		t.Fatalf("a late failure from before the close reopened the breaker (%d opens, want 1)", n)
	}
	res, err := l.AllowKey(ctx, "k", 1)
	if err != nil || res.Degraded != core.NotDegraded {
		t.Fatalf("after the late failure: degraded %v err %v, want the store", res.Degraded, err)
	}
}

type storeFunc func(ctx context.Context, key string, p core.Policy, cost int64, now time.Time) (core.Decision, error)

func (f storeFunc) Take(ctx context.Context, key string, p core.Policy, cost int64, now time.Time) (core.Decision, error) {
	return f(ctx, key, p, cost, now)
}

// lateLeases is a lease store that applies every Acquire but, while stalled, answers only
// after the caller's budget ran out (the orphan case), and fails Releases while down.
type lateLeases struct {
	inner    *memstore.Store
	stalled  atomic.Bool
	down     atomic.Bool
	released chan string
}

func (s *lateLeases) Acquire(ctx context.Context, key string, p core.Policy, id string, now time.Time) (core.Decision, error) {
	d, err := s.inner.Acquire(context.Background(), key, p, id, now)
	if s.stalled.Load() {
		<-ctx.Done()
		return core.Decision{}, ctx.Err()
	}
	return d, err
}

func (s *lateLeases) Release(ctx context.Context, key string, p core.Policy, id string, now time.Time) error {
	if s.down.Load() {
		return errors.New("store: down")
	}
	err := s.inner.Release(ctx, key, p, id, now)
	select {
	case s.released <- id:
	default:
	}
	return err
}

func (s *lateLeases) Extend(ctx context.Context, key string, p core.Policy, id string, now time.Time) (core.Decision, error) {
	return s.inner.Extend(ctx, key, p, id, now)
}

// TestNoOrphanLeases: acquires applied by the store after the limiter gave up are released in
// the background once the store answers again, and so is a lease whose Release failed: all
// slots are free long before the lease time.
func TestNoOrphanLeases(t *testing.T) {
	s := &lateLeases{inner: memstore.New(), released: make(chan string, 64)}
	p := core.NewConcurrency("jobs", 3, time.Hour)
	c, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{
		Store: s, Policy: p,
		Config: core.Config{Timeout: 20 * time.Millisecond, Failure: core.FailClosed},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// One lease held normally, whose release will fail.
	held, res, err := c.AcquireKeyAt(ctx, "k", time.Now())
	if err != nil || held == nil || !res.Allowed {
		t.Fatalf("first acquire: %v %+v", err, res)
	}
	s.stalled.Store(true)
	s.down.Store(true)
	for range 2 {
		if l, _, err := c.AcquireKeyAt(ctx, "k", time.Now()); err == nil || l != nil {
			t.Fatalf("acquire on a stalled store: lease %v err %v, want a failure", l, err)
		}
	}
	if err := held.Release(ctx); err == nil {
		t.Fatal("Release on a down store: no error")
	}
	// Every slot is held in the store now (the two late acquires and the unreleased lease).
	d, _ := s.inner.Acquire(ctx, "k", p, "probe", time.Now())
	if d.Allowed {
		t.Fatal("the store did not apply the late acquires: the test proves nothing")
	}
	// The store recovers.
	s.stalled.Store(false)
	s.down.Store(false)
	// free probes the store for how many slots are free.
	free := func() int64 {
		d, _ := s.inner.Acquire(ctx, "k", p, "probe", time.Now())
		if !d.Allowed {
			return 0
		}
		_ = s.inner.Release(ctx, "k", p, "probe", time.Now())
		return d.Remaining + 1
	}
	deadline := time.After(10 * time.Second)
	for free() < 3 {
		select {
		case <-s.released:
		case <-deadline:
			t.Fatalf("%d of 3 slots free 10 s after the store recovered (lease time 1 h): orphans were not released", free())
		}
	}
	for range 3 {
		if l, res, err := c.AcquireKeyAt(ctx, "k", time.Now()); err != nil || !res.Allowed || l == nil {
			t.Fatalf("after recovery: %v %+v, want all 3 slots free", err, res)
		}
	}
}

// smallStore holds at most 10 of anything, as a store with a backend bound would.
type smallStore struct{ *memstore.Store }

func (smallStore) CheckPolicy(p core.Policy) error {
	if p.Limit > 10 {
		return fmt.Errorf("%w %q: Limit %d is more than this store holds (at most 10)", core.ErrInvalidPolicy, p.Name, p.Limit)
	}
	return nil
}

// TestStoreBoundsCheckedAtConstruction: a policy the store cannot hold is refused by the
// constructors, and by the limiter when a PolicyFunc answers with one — never a failure on
// every request after a constructor accepted it.
func TestStoreBoundsCheckedAtConstruction(t *testing.T) {
	s := smallStore{memstore.New()}
	_, err := core.NewLimiter(core.Config{Store: s, Rules: []core.Rule{{Policy: core.NewFixedWindow("big", 11, time.Minute)}}})
	if !errors.Is(err, core.ErrInvalidPolicy) || !strings.Contains(err.Error(), "at most 10") {
		t.Fatalf("NewLimiter with a policy the store cannot hold: %v", err)
	}
	_, err = core.NewConcurrencyLimiter(core.ConcurrencyConfig{Store: s, Policy: core.NewConcurrency("big", 11, time.Minute)})
	if !errors.Is(err, core.ErrInvalidPolicy) || !strings.Contains(err.Error(), "at most 10") {
		t.Fatalf("NewConcurrencyLimiter with a policy the store cannot hold: %v", err)
	}
	if _, err := core.NewLimiter(core.Config{Store: s, Rules: []core.Rule{{Policy: core.NewFixedWindow("ok", 10, time.Minute)}}}); err != nil {
		t.Fatalf("a policy the store holds was refused: %v", err)
	}
	l := newLimiter(t, core.Config{Store: s, Rules: []core.Rule{{
		PolicyFunc: func(context.Context, string) (core.Policy, error) {
			return core.NewFixedWindow("plan", 11, time.Minute), nil
		},
	}}})
	_, err = l.AllowKey(context.Background(), "k", 1)
	if !errors.Is(err, core.ErrStoreUnavailable) || !errors.Is(err, core.ErrInvalidPolicy) {
		t.Fatalf("a PolicyFunc answer the store cannot hold: %v, want a server-side error naming the bound", err)
	}
}

// TestHeadersAgree is the reliability issue's header case: a token bucket whose burst is above
// its rate must not show r > q, a denial's t must not promise a time later than Retry-After,
// the legacy fields say what the IETF ones say, and a denial by an early limit still lists
// every policy.
func TestHeadersAgree(t *testing.T) {
	clk := &clock{t: t0.Truncate(24 * time.Hour)} // the start of a UTC day
	l := newLimiter(t, core.Config{Store: memstore.New(), Now: clk.Now, Rules: []core.Rule{
		{Policy: core.NewTokenBucket("burst", 5, time.Second, 20)},
		{Policy: core.NewFixedWindow("day", 1000, 24*time.Hour)},
	}})
	headers := func() map[string]string {
		res, err := l.AllowKey(context.Background(), "k", 1)
		if err != nil {
			t.Fatal(err)
		}
		return fieldMap(&res, reply.HeaderOptions{Legacy: true})
	}
	h := headers()
	if want := `"burst";q=20;w=4, "day";q=1000;w=86400`; h["RateLimit-Policy"] != want {
		t.Errorf("RateLimit-Policy %q, want %q", h["RateLimit-Policy"], want)
	}
	if want := `"burst";r=19;t=1, "day";r=999;t=86400`; h["RateLimit"] != want {
		t.Errorf("RateLimit %q, want %q", h["RateLimit"], want)
	}
	if h["X-RateLimit-Limit"] != "20" || h["X-RateLimit-Remaining"] != "19" || h["X-RateLimit-Reset"] != "1" {
		t.Errorf("legacy fields %q/%q/%q disagree with the IETF ones (q=20, r=19, t=1)",
			h["X-RateLimit-Limit"], h["X-RateLimit-Remaining"], h["X-RateLimit-Reset"])
	}
	for range 19 {
		headers()
	}
	h = headers() // the 21st at the same instant: denied by "burst"
	if want := `"burst";q=20;w=4, "day";q=1000;w=86400`; h["RateLimit-Policy"] != want {
		t.Errorf("denied: RateLimit-Policy %q, want %q (the same policies in every response)", h["RateLimit-Policy"], want)
	}
	if want := `"burst";r=0;t=1`; h["RateLimit"] != want {
		t.Errorf("denied: RateLimit %q, want %q", h["RateLimit"], want)
	}
	if h["Retry-After"] != "1" || h["X-RateLimit-Reset"] != "1" {
		t.Errorf("denied: Retry-After %q, X-RateLimit-Reset %q; want both 1, as t", h["Retry-After"], h["X-RateLimit-Reset"])
	}
}

// TestBadCostIsAServerError: a Cost function answering a negative or oversized cost is the
// application's bug: 500 with an observer event, not a 400 blaming the client.
func TestBadCostIsAServerError(t *testing.T) {
	for _, cost := range []int64{-1, 11} {
		rec := &recorder{}
		l := newLimiter(t, core.Config{Store: memstore.New(), Observer: rec, Key: core.KeyStatic("k"), Rules: []core.Rule{{
			Policy: core.NewFixedWindow("p", 10, time.Minute),
			Cost:   func(core.Request) int64 { return cost },
		}}})
		_, err := l.Allow(context.Background(), nil)
		if got := reply.Status(err, 400); got != 500 {
			t.Errorf("cost %d: status %d (%v), want 500", cost, got, err)
		}
		if err == nil || !strings.Contains(err.Error(), "Rules[0].Cost") {
			t.Errorf("cost %d: error %v does not name Rules[0].Cost", cost, err)
		}
		if rec.count(core.EventError) != 1 {
			t.Errorf("cost %d: %d error events, want 1", cost, rec.count(core.EventError))
		}
	}
	// A caller's explicit cost through AllowKey stays the caller's error (400).
	l := newLimiter(t, core.Config{Store: memstore.New(), Rules: []core.Rule{{Policy: core.NewFixedWindow("p", 10, time.Minute)}}})
	if _, err := l.AllowKey(context.Background(), "k", -1); reply.Status(err, 400) != 400 {
		t.Errorf("AllowKey with cost -1: %v, want a 400 error", err)
	}
}

// TestErrorsReadAsEnglish: a bad policy's error says where it was given, which policy and
// what is wrong, once.
func TestErrorsReadAsEnglish(t *testing.T) {
	_, err := core.NewLimiter(core.Config{Store: memstore.New(), Rules: []core.Rule{{Policy: core.NewFixedWindow("z", -5, time.Minute)}}})
	if want := `core: Rules[0]: policy "z": limit -5 must be at least 1`; err == nil || err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
	if !errors.Is(err, core.ErrInvalidPolicy) {
		t.Fatal("the error does not wrap ErrInvalidPolicy")
	}
	if want := `core: policy "z": limit -5 must be at least 1`; core.NewFixedWindow("z", -5, time.Minute).Validate().Error() != want {
		t.Fatalf("Validate: %q, want %q", core.NewFixedWindow("z", -5, time.Minute).Validate(), want)
	}
}

// TestNoObserverStillLogsStoreErrors: a limiter built without an observer whose store fails
// (a missing table, a paused server) says so through slog.Default, at most once a second,
// instead of failing open or falling back in silence.
func TestNoObserverStillLogsStoreErrors(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	s := &countingStore{inner: memstore.New()}
	s.fail.Store(true)
	l := newLimiter(t, core.Config{Store: s, Breaker: core.BreakerConfig{Failures: -1},
		Rules: []core.Rule{{Policy: core.NewFixedWindow("quiet", 3, time.Minute)}}})
	for range 50 {
		_, _ = l.AllowKey(context.Background(), "k", 1)
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if n := strings.Count(out, "tollgate store error"); n != 1 {
		t.Fatalf("%d store-error lines for 50 failures within a second, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, "connection refused") || !strings.Contains(out, "policy=quiet") {
		t.Fatalf("the line does not say what failed:\n%s", out)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestLeaseReleasedEvent: the observer hears each lease given back, with how long it was held
// and the operation, so that metrics can count active leases and hold times.
func TestLeaseReleasedEvent(t *testing.T) {
	rec := &recorder{}
	clk := &clock{t: t0}
	c, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{Store: memstore.New(),
		Config: core.Config{Observer: rec, Now: clk.Now},
		Policy: core.NewConcurrency("jobs", 2, time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := c.AcquireKeyAt(context.Background(), "k", clk.Now())
	if err != nil || l == nil {
		t.Fatal(err)
	}
	clk.Add(3 * time.Second)
	if err := l.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = l.Release(context.Background()) // idempotent: no second event
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var got []core.Event
	for _, e := range rec.events {
		if e.Kind == core.EventLeaseReleased {
			got = append(got, e)
		}
	}
	if len(got) != 1 || got[0].Held != 3*time.Second || got[0].Op != core.OpRelease || got[0].Key != "k" || got[0].Decision.Policy.Name != "jobs" {
		t.Fatalf("lease-released events %+v, want one for k held 3s", got)
	}
	for _, e := range rec.events {
		if e.Kind == core.EventDecision && (e.Op != core.OpAcquire || e.Latency != 0) {
			t.Fatalf("decision event %+v: want Op acquire and no latency for an in-process store", e)
		}
	}
}

// TestTwoPolicyFuncLimits: a plan is often a rate and a quota, each from its own PolicyFunc;
// each limit must decide under its own answer (the cache was keyed by key alone, so both
// decided under the first one's).
func TestTwoPolicyFuncLimits(t *testing.T) {
	l := newLimiter(t, core.Config{Store: memstore.New(), Rules: []core.Rule{
		{PolicyFunc: func(context.Context, string) (core.Policy, error) {
			return core.NewTokenBucket("free-rate", 5, time.Second, 10), nil
		}},
		{PolicyFunc: func(context.Context, string) (core.Policy, error) {
			return core.NewFixedWindow("free-day", 25, 24*time.Hour), nil
		}},
	}})
	res, err := l.AllowKey(context.Background(), "k", 1)
	if err != nil {
		t.Fatal(err)
	}
	ds := res.Decisions()
	if len(ds) != 2 || ds[0].Policy.Name != "free-rate" || ds[1].Policy.Name != "free-day" {
		t.Fatalf("decisions under %q, %q; want free-rate then free-day", ds[0].Policy.Name, ds[len(ds)-1].Policy.Name)
	}
}
