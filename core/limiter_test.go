package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/core/reply"
)

// countingStore counts Take calls and can be switched to fail or to block until ctx ends.
type countingStore struct {
	inner core.Store
	calls atomic.Int64
	fail  atomic.Bool
	block atomic.Bool
}

// t0 is aligned to every window the tests use.
var t0 = time.Unix(1_800_000_000, 0)

func (s *countingStore) Take(ctx context.Context, key string, p core.Policy, cost int64, now time.Time) (core.Decision, error) {
	s.calls.Add(1)
	if s.block.Load() {
		<-ctx.Done()
		return core.Decision{}, ctx.Err()
	}
	if s.fail.Load() {
		return core.Decision{}, errors.New("store: connection refused")
	}
	return s.inner.Take(ctx, key, p, cost, now)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type recorder struct {
	mu     sync.Mutex
	events []core.Event
}

func (r *recorder) Observe(_ context.Context, e core.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) count(k core.EventKind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Kind == k {
			n++
		}
	}
	return n
}

func newLimiter(t *testing.T, cfg core.Config) *core.Limiter {
	t.Helper()
	l, err := core.NewLimiter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestDenialCacheSpendsNoStoreCalls(t *testing.T) {
	s := &countingStore{inner: memstore.New()}
	clk := &clock{t: t0}
	l := newLimiter(t, core.Config{Store: s, Now: clk.Now, Rules: []core.Rule{{Policy: core.NewFixedWindow("p", 2, time.Minute)}}})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		_, _ = l.AllowKey(ctx, "k", 1)
	}
	before := s.calls.Load()
	for i := 0; i < 1000; i++ {
		res, err := l.AllowKey(ctx, "k", 1)
		if err != nil || res.Allowed {
			t.Fatalf("flood request %d: %+v %v", i, res, err)
		}
		if ra := res.RetryAfter(); ra != time.Minute {
			t.Fatalf("cached denial RetryAfter %v, want 1m", ra)
		}
	}
	if n := s.calls.Load() - before; n != 0 {
		t.Fatalf("1000 denied requests made %d store calls, want 0", n)
	}
	// At the end of the window the cache lets requests through to the store again.
	clk.Add(time.Minute)
	if res, _ := l.AllowKey(ctx, "k", 1); !res.Allowed {
		t.Fatalf("after the window: %+v", res)
	}
	if s.calls.Load() == before {
		t.Fatal("the request after the window did not reach the store")
	}
}

func TestSeveralLimitsAllMustPass(t *testing.T) {
	s := &countingStore{inner: memstore.New()}
	l := newLimiter(t, core.Config{Store: s, Now: func() time.Time { return t0 }, Rules: []core.Rule{
		{Policy: core.NewFixedWindow("burst", 2, time.Second)},
		{Policy: core.NewFixedWindow("daily", 3, 24*time.Hour)},
	}})
	ctx := context.Background()
	var got []bool
	at := t0
	for i := 0; i < 5; i++ {
		res, err := l.AllowKeyAt(ctx, "k", 1, at)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, res.Allowed)
		if !res.Allowed {
			d, _ := res.Denial()
			if i < 2 && d.Policy.Name != "burst" || i >= 3 && d.Policy.Name != "daily" {
				t.Fatalf("request %d denied by %q", i, d.Policy.Name)
			}
		}
		at = at.Add(600 * time.Millisecond)
	}
	// t=0 ok, 0.6 ok, 1.2 ok (new second; daily 3/3), 1.8 daily denies, 2.4 daily denies.
	if fmt.Sprint(got) != "[true true true false false]" {
		t.Fatalf("allowed sequence %v", got)
	}
}

func TestShadowNeverBlocks(t *testing.T) {
	rec := &recorder{}
	l := newLimiter(t, core.Config{Store: memstore.New(), Observer: rec, Now: func() time.Time { return t0 },
		Rules: []core.Rule{{Policy: core.NewFixedWindow("new-limit", 1, time.Minute), Shadow: true}}})
	for i := 0; i < 3; i++ {
		res, err := l.AllowKey(context.Background(), "k", 1)
		if err != nil || !res.Allowed {
			t.Fatalf("shadow limit blocked request %d: %+v %v", i, res, err)
		}
		if i > 0 && !res.Decisions()[0].Shadow {
			t.Fatalf("request %d: the shadow denial is not marked", i)
		}
	}
	var shadowDenials int
	for _, e := range rec.events {
		if e.Kind == core.EventDecision && !e.Decision.Allowed && e.Decision.Shadow {
			shadowDenials++
		}
	}
	if shadowDenials != 2 {
		t.Fatalf("observer saw %d shadow denials, want 2", shadowDenials)
	}
}

func TestBreakerAndFallback(t *testing.T) {
	s := &countingStore{inner: memstore.New()}
	rec := &recorder{}
	clk := &clock{t: t0}
	l := newLimiter(t, core.Config{
		Store: s, Now: clk.Now, Observer: rec,
		Failure: core.FailFallback, Fallback: memstore.New(), FallbackInstances: 4,
		Breaker: core.BreakerConfig{Failures: 3, Cooldown: 10 * time.Second},
		Rules:   []core.Rule{{Policy: core.NewFixedWindow("api", 8, time.Hour)}},
	})
	ctx := context.Background()
	s.fail.Store(true)
	allowed := 0
	for i := 0; i < 10; i++ {
		res, err := l.AllowKey(ctx, "k", 1)
		if err != nil {
			t.Fatal(err)
		}
		if res.Degraded != core.DegradedFallback {
			t.Fatalf("request %d: degraded %v, want fallback", i, res.Degraded)
		}
		if res.Allowed {
			allowed++
		}
	}
	// The fallback enforces ceil(8/4) = 2 locally.
	if allowed != 2 {
		t.Fatalf("fallback allowed %d, want 2 (8 divided by 4 instances)", allowed)
	}
	if c := s.calls.Load(); c != 3 {
		t.Fatalf("store called %d times, want 3: the breaker opens after 3 failures", c)
	}
	if rec.count(core.EventBreakerOpen) != 1 {
		t.Fatalf("breaker-open events: %d", rec.count(core.EventBreakerOpen))
	}
	// After the cool-down, one probe; the store is back, so the breaker closes.
	s.fail.Store(false)
	clk.Add(11 * time.Second)
	res, err := l.AllowKey(ctx, "k", 1)
	if err != nil || !res.Allowed || res.Degraded != core.NotDegraded {
		t.Fatalf("after recovery: %+v %v", res, err)
	}
	if rec.count(core.EventBreakerClosed) != 1 {
		t.Fatalf("breaker-closed events: %d", rec.count(core.EventBreakerClosed))
	}
}

// A probe that ends with the client's request canceled must not leave the breaker stuck open.
func TestBreakerProbeCanceled(t *testing.T) {
	s := &countingStore{inner: memstore.New()}
	clk := &clock{t: t0}
	l := newLimiter(t, core.Config{Store: s, Now: clk.Now, Failure: core.FailOpen,
		Breaker: core.BreakerConfig{Failures: 1, Cooldown: time.Second},
		Rules:   []core.Rule{{Policy: core.NewFixedWindow("p", 100, time.Hour)}}})
	s.fail.Store(true)
	_, _ = l.AllowKey(context.Background(), "k", 1) // opens the breaker
	s.fail.Store(false)
	clk.Add(2 * time.Second)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	s.block.Store(true)
	_, _ = l.AllowKey(canceled, "k", 1) // the probe; its request is gone
	s.block.Store(false)
	calls := s.calls.Load()
	if res, err := l.AllowKey(context.Background(), "k", 1); err != nil || res.Degraded != core.NotDegraded {
		t.Fatalf("after an abandoned probe: %+v %v; want the store asked again", res, err)
	}
	if s.calls.Load() != calls+1 {
		t.Fatal("the store was not called: the breaker is stuck open")
	}
}

func TestFailClosedAndTimeout(t *testing.T) {
	s := &countingStore{inner: memstore.New()}
	s.block.Store(true)
	l := newLimiter(t, core.Config{Store: s, Failure: core.FailClosed, Timeout: 20 * time.Millisecond,
		Rules: []core.Rule{{Policy: core.NewFixedWindow("p", 1, time.Minute)}}})
	before := runtime.NumGoroutine()
	start := time.Now()
	res, err := l.AllowKey(context.Background(), "k", 1)
	if !errors.Is(err, core.ErrStoreUnavailable) || res.Allowed {
		t.Fatalf("blocked store under FailClosed: %+v %v", res, err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("decision took %v; the 20ms budget was not applied", el)
	}
	if reply.Status(err, 0) != 503 {
		t.Fatalf("status %d", reply.Status(err, 0))
	}
	if runtime.NumGoroutine() > before+1 {
		t.Fatalf("goroutines %d -> %d", before, runtime.NumGoroutine())
	}
	// FailOpen allows and marks.
	lo := newLimiter(t, core.Config{Store: s, Timeout: 5 * time.Millisecond, Rules: []core.Rule{{Policy: core.NewFixedWindow("p", 1, time.Minute)}}})
	if res, err := lo.AllowKey(context.Background(), "k", 1); err != nil || !res.Allowed || res.Degraded != core.DegradedOpen {
		t.Fatalf("FailOpen: %+v %v", res, err)
	}
}

func TestRequestErrors(t *testing.T) {
	l := newLimiter(t, core.Config{Store: memstore.New(), MaxKeyLen: 16, Key: core.KeyByHeader("X-API-Key"),
		Rules: []core.Rule{{Policy: core.NewFixedWindow("p", 5, time.Minute), Cost: func(r core.Request) int64 {
			var n int64
			fmt.Sscan(r.Header("X-Cost"), &n)
			return n
		}}}})
	ctx := context.Background()
	cases := []struct {
		name   string
		r      *fakeRequest
		status int
	}{
		{"no key", req("192.0.2.1:1"), 400},
		{"key too long", req("192.0.2.1:1", "X-API-Key", strings.Repeat("x", 17)), 400},
		// A Cost function's answer is the application's: one no policy can take is a
		// server-side bug (500), whatever input it was computed from. A Cost function that
		// reads client input validates it itself.
		{"cost over capacity", req("192.0.2.1:1", "X-API-Key", "k", "X-Cost", "6"), 500},
		{"negative cost", req("192.0.2.1:1", "X-API-Key", "k", "X-Cost", "-1"), 500},
	}
	for _, c := range cases {
		res, err := l.Allow(ctx, c.r)
		if err == nil || res.Allowed || reply.Status(err, 0) != c.status {
			t.Errorf("%s: %+v %v (status %d), want status %d", c.name, res, err, reply.Status(err, 0), c.status)
		}
	}
	if res, err := l.Allow(ctx, req("192.0.2.1:1", "X-API-Key", "k", "X-Cost", "5")); err != nil || !res.Allowed {
		t.Fatalf("cost 5 after refused requests: %+v %v (bad input must spend nothing)", res, err)
	}
}

func TestPolicyFuncPlans(t *testing.T) {
	var lookups atomic.Int64
	l := newLimiter(t, core.Config{Store: memstore.New(), Key: core.KeyByHeader("X-API-Key"), Now: func() time.Time { return t0 },
		Rules: []core.Rule{{PolicyFunc: func(_ context.Context, key string) (core.Policy, error) {
			lookups.Add(1)
			switch {
			case strings.HasPrefix(key, "pro-"):
				return core.NewFixedWindow("pro", 5, time.Minute), nil
			case strings.HasPrefix(key, "free-"):
				return core.NewFixedWindow("free", 1, time.Minute), nil
			}
			return core.Policy{}, fmt.Errorf("unknown API key: %w", core.ErrMissingKey)
		}}}})
	ctx := context.Background()
	allowed := func(key string, n int) int {
		a := 0
		for i := 0; i < n; i++ {
			if res, err := l.Allow(ctx, req("192.0.2.1:1", "X-API-Key", key)); err == nil && res.Allowed {
				a++
			}
		}
		return a
	}
	if a := allowed("pro-1", 10); a != 5 {
		t.Fatalf("pro plan allowed %d, want 5", a)
	}
	if a := allowed("free-1", 10); a != 1 {
		t.Fatalf("free plan allowed %d, want 1", a)
	}
	if lookups.Load() != 2 {
		t.Fatalf("PolicyFunc called %d times for 2 keys, want 2 (cached)", lookups.Load())
	}
	_, err := l.Allow(ctx, req("192.0.2.1:1", "X-API-Key", "stolen"))
	if reply.Status(err, 401) != 401 {
		t.Fatalf("unknown key: %v", err)
	}
}

func TestNewLimiterRejectsBadConfig(t *testing.T) {
	p := core.NewFixedWindow("p", 1, time.Second)
	for name, cfg := range map[string]core.Config{
		"no store":          {Rules: []core.Rule{{Policy: p}}},
		"no limits":         {Store: memstore.New()},
		"five limits":       {Store: memstore.New(), Rules: make([]core.Rule, 5)},
		"invalid policy":    {Store: memstore.New(), Rules: []core.Rule{{Policy: core.NewFixedWindow("p", 0, time.Second)}}},
		"duplicate names":   {Store: memstore.New(), Rules: []core.Rule{{Policy: p}, {Policy: p}}},
		"fallback missing":  {Store: memstore.New(), Failure: core.FailFallback, Rules: []core.Rule{{Policy: p}}},
		"concurrency limit": {Store: memstore.New(), Rules: []core.Rule{{Policy: core.NewConcurrency("c", 1, time.Second)}}},
	} {
		if _, err := core.NewLimiter(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestConcurrencyLimiter(t *testing.T) {
	clk := &clock{t: t0}
	c, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{Store: memstore.New(),
		Config: core.Config{Now: clk.Now, Key: core.KeyStatic("all")},
		Policy: core.NewConcurrency("jobs", 2, 10*time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := req("192.0.2.1:1")
	l1, res, err := c.Acquire(ctx, r)
	if err != nil || !res.Allowed || l1 == nil {
		t.Fatalf("first: %v %+v %v", l1, res, err)
	}
	l2, _, _ := c.Acquire(ctx, r)
	if l3, res, _ := c.Acquire(ctx, r); l3 != nil || res.Allowed {
		t.Fatalf("third while two held: %+v", res)
	}
	if err := l1.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l1.Release(ctx); err != nil {
		t.Fatalf("second release: %v", err)
	}
	l4, res, _ := c.Acquire(ctx, r)
	if !res.Allowed {
		t.Fatal("after a release, acquire denied")
	}
	// l2 is extended; l4 is not. At +15 s only l2 still holds.
	clk.Add(8 * time.Second)
	if err := l2.Extend(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Add(7 * time.Second)
	if err := l4.Extend(ctx); !errors.Is(err, core.ErrLeaseNotFound) {
		t.Fatalf("extend of an expired lease: %v", err)
	}
	if _, res, _ := c.Acquire(ctx, r); !res.Allowed {
		t.Fatal("the expired lease's slot was not reclaimed")
	}
	var nilLease *core.Lease
	if nilLease.Release(ctx) != nil || nilLease.Extend(ctx) != nil {
		t.Fatal("nil lease methods must be no-ops")
	}
}

// fieldMap renders the rate-limit fields of res as reply.Fields does, one value per name.
func fieldMap(res *core.Result, o reply.HeaderOptions) map[string]string {
	var f reply.Fields
	f.Render(res, o, nil)
	h := map[string]string{}
	for i := range f.Len() {
		name, value, _ := f.Field(i)
		h[name] = string(value)
	}
	return h
}

func TestHeadersAndProblem(t *testing.T) {
	l := newLimiter(t, core.Config{Store: memstore.New(), Now: func() time.Time { return t0.Add(1500 * time.Millisecond) }, Rules: []core.Rule{
		{Policy: core.NewFixedWindow("burst", 1, 10*time.Second)},
		{Policy: core.NewTokenBucket("sustained", 100, time.Hour, 10)},
	}})
	res, _ := l.AllowKey(context.Background(), "k", 1)
	h := fieldMap(&res, reply.HeaderOptions{Legacy: true})
	want := map[string]string{
		// A token bucket is its capacity: 10 per the 360 s an empty bucket takes to
		// refill (the same 100 per hour), so that r (9) is never above q.
		"RateLimit-Policy":      `"burst";q=1;w=10, "sustained";q=10;w=360`,
		"RateLimit":             `"burst";r=0;t=9, "sustained";r=9;t=36`,
		"X-RateLimit-Limit":     "1",
		"X-RateLimit-Remaining": "0",
		"X-RateLimit-Reset":     "9",
	}
	for k, v := range want {
		if h[k] != v {
			t.Errorf("%s = %q, want %q", k, h[k], v)
		}
	}
	if _, ok := h["Retry-After"]; ok {
		t.Error("Retry-After on an allowed result")
	}
	res, _ = l.AllowKey(context.Background(), "k", 1)
	h = fieldMap(&res, reply.HeaderOptions{})
	if h["Retry-After"] != "9" {
		t.Errorf("Retry-After %q, want 9 (8.5 s rounded up)", h["Retry-After"])
	}
	var prob struct {
		Type     string   `json:"type"`
		Status   int      `json:"status"`
		Violated []string `json:"violated-policies"`
	}
	if err := json.Unmarshal(reply.ProblemJSON(&res), &prob); err != nil {
		t.Fatal(err)
	}
	if prob.Type != reply.ProblemTypeQuotaExceeded || prob.Status != 429 || len(prob.Violated) != 1 || prob.Violated[0] != "burst" {
		t.Fatalf("problem %+v", prob)
	}
	if string(reply.ErrorProblemJSON(503)) != `{"type":"about:blank","title":"Service Unavailable","status":503}`+"\n" {
		t.Fatalf("error problem %s", reply.ErrorProblemJSON(503))
	}
}

func BenchmarkLimiter(b *testing.B) {
	for _, p := range []core.Policy{
		core.NewFixedWindow("fw", 1<<50, time.Hour),
		core.NewSlidingWindow("sw", 1<<50, time.Hour),
		core.NewTokenBucket("tb", 1<<29, time.Second, 1<<29),
	} {
		l, _ := core.NewLimiter(core.Config{Store: memstore.New(), Rules: []core.Rule{{Policy: p}}})
		r := req("192.0.2.1:1234")
		b.Run(p.Algorithm.String(), func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			for i := 0; i < b.N; i++ {
				if res, err := l.Allow(ctx, r); err != nil || !res.Allowed {
					b.Fatal(res, err)
				}
			}
		})
	}
	b.Run("denied-cached", func(b *testing.B) {
		l, _ := core.NewLimiter(core.Config{Store: memstore.New(), Rules: []core.Rule{{Policy: core.NewFixedWindow("d", 1, time.Hour)}}})
		r := req("192.0.2.1:1234")
		ctx := context.Background()
		_, _ = l.Allow(ctx, r)
		_, _ = l.Allow(ctx, r)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if res, _ := l.Allow(ctx, r); res.Allowed {
				b.Fatal("allowed")
			}
		}
	})
}
