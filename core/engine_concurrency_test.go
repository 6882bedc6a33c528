package core_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// leaseStore is a remote-looking lease store over a memory store whose operations can be made
// to fail (a backend failure) or to refuse (a caller error), and which counts them.
type leaseStore struct {
	inner                      *memstore.Store
	fail, refuse, failRelease  atomic.Bool
	acquires, releases, extend atomic.Int64
	delay                      time.Duration
}

func newLeaseStore() *leaseStore { return &leaseStore{inner: memstore.New()} }

func (s *leaseStore) err() error {
	if s.refuse.Load() {
		return fmt.Errorf("%w: store refuses it", core.ErrInvalidKey)
	}
	if s.fail.Load() {
		return errors.New("store: connection reset")
	}
	return nil
}

func (s *leaseStore) Acquire(ctx context.Context, key string, p core.Policy, id string, now time.Time) (core.Decision, error) {
	s.acquires.Add(1)
	time.Sleep(s.delay)
	if err := s.err(); err != nil {
		return core.Decision{}, err
	}
	return s.inner.Acquire(ctx, key, p, id, now)
}

func (s *leaseStore) Release(ctx context.Context, key string, p core.Policy, id string, now time.Time) error {
	s.releases.Add(1)
	time.Sleep(s.delay)
	if s.failRelease.Load() {
		return errors.New("store: connection reset")
	}
	if err := s.err(); err != nil {
		return err
	}
	return s.inner.Release(ctx, key, p, id, now)
}

func (s *leaseStore) Extend(ctx context.Context, key string, p core.Policy, id string, now time.Time) (core.Decision, error) {
	s.extend.Add(1)
	time.Sleep(s.delay)
	if err := s.err(); err != nil {
		return core.Decision{}, err
	}
	return s.inner.Extend(ctx, key, p, id, now)
}

// newConcurrency builds a limiter; unless cfg has a clock, it runs on one at t0 that moves past
// every lease when the test ends, so that the background release of the leases whose acquire
// failed (the orphans) stops.
func newConcurrency(t *testing.T, cfg core.ConcurrencyConfig) *core.ConcurrencyLimiter {
	t.Helper()
	if cfg.Now == nil {
		clk := &clock{t: t0}
		cfg.Now = clk.Now
		t.Cleanup(func() { clk.Add(24 * time.Hour) })
	}
	c, err := core.NewConcurrencyLimiter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestConcurrencyFailOpen: a failing store lets the request run without a lease, with the
// policy's limit less one remaining, reported as a store error and a degraded decision.
func TestConcurrencyFailOpen(t *testing.T) {
	s := newLeaseStore()
	s.fail.Store(true)
	rec := &recorder{}
	p := core.NewConcurrency("jobs", 4, time.Minute)
	c := newConcurrency(t, core.ConcurrencyConfig{Store: s, Policy: p, Config: core.Config{Observer: rec, Breaker: core.BreakerConfig{Failures: -1}}})
	lease, res, err := c.AcquireKeyAt(context.Background(), "k", t0)
	if err != nil || lease != nil || !res.Allowed || res.Degraded != core.DegradedOpen {
		t.Fatalf("lease %v res %+v err %v", lease, res, err)
	}
	want := core.Decision{Allowed: true, Limit: 4, Remaining: 3, Policy: p}
	if d := res.Decisions(); len(d) != 1 || d[0] != want {
		t.Fatalf("decisions %+v, want %+v", d, want)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.events) != 2 {
		t.Fatalf("events %+v", rec.events)
	}
	if e := rec.events[0]; e.Kind != core.EventStoreError || e.Op != core.OpAcquire || e.Degraded != core.DegradedOpen || e.Key != "k" || e.Err == nil || e.Decision.Policy != p {
		t.Fatalf("store-error event %+v", e)
	}
	if e := rec.events[1]; e.Kind != core.EventDecision || e.Op != core.OpAcquire || e.Degraded != core.DegradedOpen || e.Decision != want {
		t.Fatalf("decision event %+v", e)
	}
}

// TestConcurrencyFailClosed: a failing store refuses the request with ErrStoreUnavailable.
func TestConcurrencyFailClosed(t *testing.T) {
	s := newLeaseStore()
	s.fail.Store(true)
	c := newConcurrency(t, core.ConcurrencyConfig{Store: s, Policy: core.NewConcurrency("jobs", 4, time.Minute),
		Config: core.Config{Failure: core.FailClosed, Observer: core.ObserverFunc(func(context.Context, core.Event) {})},
	})
	lease, res, err := c.AcquireKeyAt(context.Background(), "k", t0)
	if !errors.Is(err, core.ErrStoreUnavailable) || lease != nil || res.Allowed || res.Degraded != core.DegradedClosed {
		t.Fatalf("lease %v res %+v err %v", lease, res, err)
	}
}

// TestConcurrencyFallback: a failing store hands the decision to the fallback store with the
// limit divided by the instances; its leases are released there. A failing fallback is 503.
func TestConcurrencyFallback(t *testing.T) {
	s := newLeaseStore()
	s.fail.Store(true)
	fb := newLeaseStore()
	c := newConcurrency(t, core.ConcurrencyConfig{Store: s, Policy: core.NewConcurrency("jobs", 4, time.Minute),
		Fallback: fb,
		Config:   core.Config{Failure: core.FailFallback, FallbackInstances: 2, Breaker: core.BreakerConfig{Failures: -1}, Observer: core.ObserverFunc(func(context.Context, core.Event) {})},
	})
	ctx := context.Background()
	var leases []*core.Lease
	for i := 0; i < 3; i++ {
		lease, res, err := c.AcquireKeyAt(ctx, "k", t0)
		if err != nil || res.Degraded != core.DegradedFallback {
			t.Fatalf("acquire %d: %+v %v", i, res, err)
		}
		if allowed := i < 2; res.Allowed != allowed || (lease != nil) != allowed {
			t.Fatalf("acquire %d: allowed %v lease %v, want %v (4 over 2 instances)", i, res.Allowed, lease, allowed)
		}
		if lease != nil {
			if lease.Policy().Limit != 2 {
				t.Fatalf("fallback lease policy %+v", lease.Policy())
			}
			leases = append(leases, lease)
		}
	}
	if err := leases[0].Release(ctx); err != nil {
		t.Fatal(err)
	}
	if fb.releases.Load() != 1 {
		t.Fatalf("releases in the fallback store: %d, want 1", fb.releases.Load())
	}
	if _, res, _ := c.AcquireKeyAt(ctx, "k", t0); !res.Allowed {
		t.Fatal("the released fallback slot was not free again")
	}
	fb.fail.Store(true)
	lease, res, err := c.AcquireKeyAt(ctx, "k2", t0)
	if !errors.Is(err, core.ErrStoreUnavailable) || lease != nil || res.Allowed || res.Degraded != core.DegradedFallback {
		t.Fatalf("failing fallback: lease %v res %+v err %v", lease, res, err)
	}
}

// TestConcurrencyShadow: a shadow limiter reports a denial and lets the request run, without
// a lease.
func TestConcurrencyShadow(t *testing.T) {
	c := newConcurrency(t, core.ConcurrencyConfig{Store: memstore.New(), Policy: core.NewConcurrency("jobs", 1, time.Minute), Config: core.Config{Shadow: true}})
	ctx := context.Background()
	first, res, err := c.AcquireKeyAt(ctx, "k", t0)
	if err != nil || first == nil || !res.Allowed || res.Decisions()[0].Shadow {
		t.Fatalf("first: %v %+v %v", first, res, err)
	}
	lease, res, err := c.AcquireKeyAt(ctx, "k", t0)
	if err != nil || lease != nil || !res.Allowed {
		t.Fatalf("second: %v %+v %v", lease, res, err)
	}
	if d := res.Decisions()[0]; d.Allowed || !d.Shadow {
		t.Fatalf("second decision %+v, want a shadow denial", d)
	}
	if _, ok := res.Denial(); ok {
		t.Fatal("a shadow denial is reported as the denial")
	}
}

// TestConcurrencyKeys: keys of exactly MaxKeyLen bytes are accepted, longer ones refused; an
// empty key is missing; a key function's error is a missing key.
func TestConcurrencyKeys(t *testing.T) {
	ctx := context.Background()
	c := newConcurrency(t, core.ConcurrencyConfig{Store: memstore.New(), Policy: core.NewConcurrency("jobs", 5, time.Minute), Config: core.Config{MaxKeyLen: 8}})
	if _, res, err := c.AcquireKeyAt(ctx, strings.Repeat("k", 8), t0); err != nil || !res.Allowed {
		t.Fatalf("8-byte key: %+v %v", res, err)
	}
	if _, _, err := c.AcquireKeyAt(ctx, strings.Repeat("k", 9), t0); !errors.Is(err, core.ErrKeyTooLong) {
		t.Fatalf("9-byte key: %v", err)
	}
	if _, _, err := c.AcquireKeyAt(ctx, "", t0); !errors.Is(err, core.ErrMissingKey) {
		t.Fatalf("empty key: %v", err)
	}
	boom := errors.New("no tenant")
	for _, c2 := range []struct {
		err         error
		wantMissing bool
	}{{boom, true}, {core.ErrInvalidKey, false}} {
		cl := newConcurrency(t, core.ConcurrencyConfig{Store: memstore.New(), Policy: core.NewConcurrency("jobs", 5, time.Minute),
			Config: core.Config{Key: func(core.Request) (string, error) { return "", c2.err }},
		})
		lease, res, err := cl.Acquire(ctx, nil)
		if lease != nil || res.Allowed || !errors.Is(err, c2.err) || errors.Is(err, core.ErrMissingKey) != c2.wantMissing {
			t.Fatalf("key error %v: %v %+v %v", c2.err, lease, res, err)
		}
	}
	// The default key is the client address.
	cl := newConcurrency(t, core.ConcurrencyConfig{Store: memstore.New(), Policy: core.NewConcurrency("jobs", 1, time.Minute)})
	if _, res, _ := cl.Acquire(ctx, req("192.0.2.1:1")); !res.Allowed {
		t.Fatal("first client denied")
	}
	if _, res, _ := cl.Acquire(ctx, req("192.0.2.2:1")); !res.Allowed {
		t.Fatal("another client shares the first one's slot")
	}
}

// TestConcurrencyBreaker: the breaker stops calling a failing lease store and lets one probe
// through after the cool-down; a probe answered with a caller error closes it, with its event.
func TestConcurrencyBreaker(t *testing.T) {
	s := newLeaseStore()
	rec := &recorder{}
	c := newConcurrency(t, core.ConcurrencyConfig{Store: s, Policy: core.NewConcurrency("jobs", 5, time.Minute),
		Config: core.Config{Observer: rec, Breaker: core.BreakerConfig{Failures: 2, Cooldown: time.Second}},
	})
	ctx := context.Background()
	s.fail.Store(true)
	for i := 0; i < 4; i++ {
		_, _, _ = c.AcquireKeyAt(ctx, "k", t0)
	}
	if n := s.acquires.Load(); n != 2 {
		t.Fatalf("%d acquires reached a failing store, want 2 (the breaker opens)", n)
	}
	if rec.count(core.EventBreakerOpen) != 1 {
		t.Fatalf("breaker-open events %d", rec.count(core.EventBreakerOpen))
	}
	s.fail.Store(false)
	s.refuse.Store(true)
	if _, _, err := c.AcquireKeyAt(ctx, "k", t0.Add(time.Second)); !errors.Is(err, core.ErrInvalidKey) {
		t.Fatalf("probe with a caller error: %v", err)
	}
	if rec.count(core.EventBreakerClosed) != 1 {
		t.Fatalf("breaker-closed events %d, want 1", rec.count(core.EventBreakerClosed))
	}
	s.refuse.Store(false)
	lease, res, err := c.AcquireKeyAt(ctx, "k", t0.Add(time.Second))
	if err != nil || lease == nil || !res.Allowed || res.Degraded != core.NotDegraded {
		t.Fatalf("after the probe: %v %+v %v", lease, res, err)
	}
	// A successful probe closes it too.
	s.fail.Store(true)
	_, _, _ = c.AcquireKeyAt(ctx, "k", t0.Add(time.Second))
	_, _, _ = c.AcquireKeyAt(ctx, "k", t0.Add(time.Second))
	s.fail.Store(false)
	if _, res, _ := c.AcquireKeyAt(ctx, "k", t0.Add(2*time.Second)); res.Degraded != core.NotDegraded {
		t.Fatalf("probe: %+v", res)
	}
	if rec.count(core.EventBreakerClosed) != 2 || rec.count(core.EventBreakerOpen) != 2 {
		t.Fatalf("breaker events: open %d closed %d, want 2 and 2", rec.count(core.EventBreakerOpen), rec.count(core.EventBreakerClosed))
	}
}

// TestConcurrencyCanceled: a request canceled while acquiring fails with ErrStoreUnavailable
// and does not count against the store.
func TestConcurrencyCanceled(t *testing.T) {
	s := newLeaseStore()
	s.fail.Store(true)
	rec := &recorder{}
	c := newConcurrency(t, core.ConcurrencyConfig{Store: s, Policy: core.NewConcurrency("jobs", 5, time.Minute),
		Config: core.Config{Observer: rec, Breaker: core.BreakerConfig{Failures: 1}},
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	lease, res, err := c.AcquireKeyAt(ctx, "k", t0)
	if !errors.Is(err, core.ErrStoreUnavailable) || !errors.Is(err, context.Canceled) || lease != nil || res.Allowed {
		t.Fatalf("canceled: %v %+v %v", lease, res, err)
	}
	if rec.count(core.EventBreakerOpen) != 0 || rec.count(core.EventStoreError) != 0 {
		t.Fatal("a canceled request counted against the store")
	}
}

// TestLeaseStoreErrors: a failed Release is returned and reported (store error, then the
// lease-released event with the error); a failed Extend is reported, a lost lease is not; a
// released lease cannot be extended; a caller error is not a store error.
func TestLeaseStoreErrors(t *testing.T) {
	s := newLeaseStore()
	rec := &recorder{}
	p := core.NewConcurrency("jobs", 5, time.Minute)
	clk := &clock{t: t0}
	c := newConcurrency(t, core.ConcurrencyConfig{Store: s, Policy: p, Config: core.Config{Observer: rec, Now: clk.Now}})
	t.Cleanup(func() { clk.Add(24 * time.Hour) })
	ctx := context.Background()
	lease, _, err := c.AcquireKeyAt(ctx, "k", t0)
	if err != nil || lease == nil {
		t.Fatal(err)
	}
	if lease.Policy() != p {
		t.Fatalf("lease policy %+v", lease.Policy())
	}
	s.fail.Store(true)
	if err := lease.Extend(ctx); err == nil {
		t.Fatal("Extend on a failing store: no error")
	}
	if rec.count(core.EventStoreError) != 1 {
		t.Fatalf("store errors after a failed Extend: %d", rec.count(core.EventStoreError))
	}
	s.fail.Store(false)
	s.refuse.Store(true)
	if err := lease.Extend(ctx); !errors.Is(err, core.ErrInvalidKey) {
		t.Fatalf("Extend refused: %v", err)
	}
	s.refuse.Store(false)
	lost, _, _ := c.AcquireKeyAt(ctx, "lost", t0)
	clk.Add(time.Minute) // both leases expire
	if err := lost.Extend(ctx); !errors.Is(err, core.ErrLeaseNotFound) {
		t.Fatalf("Extend of a lost lease: %v", err)
	}
	if rec.count(core.EventStoreError) != 1 {
		t.Fatalf("store errors after a refused Extend and a lost lease: %d, want still 1", rec.count(core.EventStoreError))
	}
	s.failRelease.Store(true)
	if err := lease.Release(ctx); err == nil {
		t.Fatal("Release on a failing store: no error")
	}
	if err := lease.Extend(ctx); !errors.Is(err, core.ErrLeaseNotFound) {
		t.Fatalf("Extend after Release: %v", err)
	}
	rec.mu.Lock()
	var kinds []string
	for _, e := range rec.events {
		if e.Op == core.OpRelease {
			kinds = append(kinds, e.Kind.String())
			if e.Err == nil || e.Key != "k" || e.Decision.Policy != p {
				t.Errorf("release event %+v", e)
			}
		}
	}
	rec.mu.Unlock()
	if got := strings.Join(kinds, ","); got != "store-error,lease-released" {
		t.Fatalf("release events %s", got)
	}
	s.failRelease.Store(false)
}

// TestHoldTinyLease: Hold with every 0 extends every half lease; a lease of 1 ns has no half,
// so nothing is scheduled (and nothing panics); done releases the lease.
func TestHoldTinyLease(t *testing.T) {
	s := newLeaseStore()
	c := newConcurrency(t, core.ConcurrencyConfig{Store: s, Policy: core.NewConcurrency("jobs", 1, 1)})
	lease, _, err := c.AcquireKeyAt(context.Background(), "k", t0)
	if err != nil || lease == nil {
		t.Fatal(err)
	}
	done := lease.Hold(context.Background(), 0)
	done()
	if s.releases.Load() != 1 || s.extend.Load() != 0 {
		t.Fatalf("releases %d extends %d", s.releases.Load(), s.extend.Load())
	}
	var none *core.Lease
	none.Hold(context.Background(), 0)()
	if none.Policy() != (core.Policy{}) {
		t.Fatal("nil lease policy")
	}
}

// TestConcurrencyLatency: a remote lease store's calls are timed in the events.
func TestConcurrencyLatency(t *testing.T) {
	s := newLeaseStore()
	s.delay = time.Millisecond
	rec := &recorder{}
	c := newConcurrency(t, core.ConcurrencyConfig{Store: s, Policy: core.NewConcurrency("jobs", 5, time.Minute), Config: core.Config{Observer: rec}})
	ctx := context.Background()
	lease, _, _ := c.AcquireKeyAt(ctx, "k", t0)
	s.fail.Store(true)
	_ = lease.Extend(ctx)
	_, _, _ = c.AcquireKeyAt(ctx, "k", t0)
	s.fail.Store(false)
	_ = lease.Release(ctx)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, e := range rec.events {
		if e.Kind == core.EventBreakerOpen || e.Kind == core.EventBreakerClosed {
			continue
		}
		if e.Latency < time.Millisecond {
			t.Errorf("%v event (op %v) latency %v, want the call's", e.Kind, e.Op, e.Latency)
		}
	}
}

// TestNewConcurrencyLimiterRejects: a missing store, a rate policy, a bad policy.
func TestNewConcurrencyLimiterRejects(t *testing.T) {
	for name, cfg := range map[string]core.ConcurrencyConfig{
		"no store":    {Policy: core.NewConcurrency("jobs", 1, time.Minute)},
		"rate policy": {Store: memstore.New(), Policy: core.NewFixedWindow("p", 1, time.Minute)},
		"no lease":    {Store: memstore.New(), Policy: core.NewConcurrency("jobs", 1, 0)},
		"no fallback": {Store: memstore.New(), Policy: core.NewConcurrency("jobs", 1, time.Minute), Config: core.Config{Failure: core.FailFallback}},
		"key and proxies": {Store: memstore.New(), Policy: core.NewConcurrency("jobs", 1, time.Minute),
			Config: core.Config{Key: core.KeyStatic("k"), Proxies: core.ProxyConfig{Trusted: []string{"10.0.0.0/8"}}}},
		// The embedded Config's rate-limiter fields have no meaning here: refused, not ignored.
		"Config.Store": {Store: memstore.New(), Policy: core.NewConcurrency("jobs", 1, time.Minute),
			Config: core.Config{Store: memstore.New()}},
		"Config.Fallback": {Store: memstore.New(), Policy: core.NewConcurrency("jobs", 1, time.Minute),
			Config: core.Config{Failure: core.FailFallback, Fallback: memstore.New()}},
		"Config.Rules": {Store: memstore.New(), Policy: core.NewConcurrency("jobs", 1, time.Minute),
			Config: core.Config{Rules: []core.Rule{}}},
		"Config.DenialCacheSize": {Store: memstore.New(), Policy: core.NewConcurrency("jobs", 1, time.Minute),
			Config: core.Config{DenialCacheSize: -1}},
		"unknown failure": {Store: memstore.New(), Policy: core.NewConcurrency("jobs", 1, time.Minute),
			Config: core.Config{Failure: core.FailurePolicy(9)}},
	} {
		_, err := core.NewConcurrencyLimiter(cfg)
		switch {
		case err == nil:
			t.Errorf("%s: accepted", name)
		case strings.HasPrefix(name, "Config.") && !strings.Contains(err.Error(), "ConcurrencyConfig."+name+" is set"):
			t.Errorf("%s: error %q does not name the field", name, err)
		case name == "no fallback" && !strings.Contains(err.Error(), "ConcurrencyConfig.Fallback"):
			t.Errorf("%s: error %q does not name ConcurrencyConfig.Fallback", name, err)
		}
	}
}

// TestAcquireVerbGrid: Acquire, AcquireAt, AcquireKey and AcquireKeyAt decide the same way;
// the -At forms use the time they are given (a lease taken at t0 has expired at t0 + its
// lease for AcquireAt, though not yet on the limiter's clock), and the -Key forms count under
// the key they are given, not the request's.
func TestAcquireVerbGrid(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: t0}
	c, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{
		Store: memstore.New(), Policy: core.NewConcurrency("one", 1, time.Second),
		Config: core.Config{Now: clk.Now},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := req("203.0.113.7:1")
	if l, res, err := c.Acquire(ctx, r); err != nil || !res.Allowed || l == nil {
		t.Fatalf("Acquire: %v %+v", err, res)
	}
	if _, res, err := c.AcquireKey(ctx, "203.0.113.7"); err != nil || res.Allowed {
		t.Fatalf("AcquireKey of the request's key while it holds the slot: %v %+v, want denied", err, res)
	}
	if _, res, err := c.AcquireKey(ctx, "job-queue"); err != nil || !res.Allowed {
		t.Fatalf("AcquireKey of another key: %v %+v, want allowed", err, res)
	}
	if _, res, err := c.AcquireAt(ctx, r, t0.Add(500*time.Millisecond)); err != nil || res.Allowed {
		t.Fatalf("AcquireAt t0+500ms: %v %+v, want denied (the lease lives 1 s)", err, res)
	}
	if l, res, err := c.AcquireAt(ctx, r, t0.Add(time.Second)); err != nil || !res.Allowed || l == nil {
		t.Fatalf("AcquireAt t0+1s: %v %+v, want allowed (the first lease expired at that time)", err, res)
	}
	if _, _, err := c.AcquireAt(ctx, req(""), t0); !errors.Is(err, core.ErrMissingKey) {
		t.Fatalf("AcquireAt without a client address: %v, want ErrMissingKey", err)
	}
}
