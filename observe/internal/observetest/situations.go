package observetest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// The situations below drive a real core.Limiter (or core.ConcurrencyLimiter) so that the
// telemetry tests observe the events the core really emits. Each names what it produces.

// PolicyAPI is the policy of the rate-limit situations: 2 per minute.
var PolicyAPI = core.NewFixedWindow("api", 2, time.Minute)

// PolicySlots is the policy of the concurrency situations: 1 lease at once.
var PolicySlots = core.NewConcurrency("slots", 1, time.Minute)

// NewLimiter builds a limiter or fails the test.
func NewLimiter(t testing.TB, cfg core.Config) *core.Limiter {
	t.Helper()
	if cfg.Store == nil {
		cfg.Store = memstore.New()
	}
	if cfg.Rules == nil {
		cfg.Rules = []core.Rule{{Policy: PolicyAPI}}
	}
	l, err := core.NewLimiter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Take calls l.AllowKeyAt and fails the test on an error.
func Take(t testing.TB, l *core.Limiter, key string, now time.Time) core.Result {
	t.Helper()
	res, err := l.AllowKeyAt(context.Background(), key, 1, now)
	if err != nil {
		t.Fatalf("AllowKeyAt(%q): %v", key, err)
	}
	return res
}

// Denials takes 4 times for key under PolicyAPI on store: 2 allowed (the second one at the
// limit: near-limit), 1 denied by the store, 1 denied by the denial cache.
func Denials(t testing.TB, store core.Store, obs core.Observer, key string) {
	t.Helper()
	c := NewClock()
	l := NewLimiter(t, core.Config{Store: store, Observer: obs, Now: c.Now})
	for i, want := range []bool{true, true, false, false} {
		if got := Take(t, l, key, c.Now()).Allowed; got != want {
			t.Fatalf("take %d: allowed = %v, want %v", i+1, got, want)
		}
	}
}

// Shadow takes 3 times for key under PolicyAPI in shadow mode: 2 allowed, 1 shadow-denied
// (the request is allowed).
func Shadow(t testing.TB, obs core.Observer, key string) {
	t.Helper()
	c := NewClock()
	l := NewLimiter(t, core.Config{Rules: []core.Rule{{Policy: PolicyAPI, Shadow: true}}, Observer: obs, Now: c.Now})
	for i := 0; i < 3; i++ {
		if !Take(t, l, key, c.Now()).Allowed {
			t.Fatalf("take %d denied in shadow mode", i+1)
		}
	}
}

// Outage makes 3 decisions for key with a failing store under failure policy f: with the
// breaker opening after 2 failures, the first two are store errors (the breaker opens on the
// second), the third is refused by the open breaker without a store call. Under FailFallback
// the fallback (a memstore) allows 2 and denies the third. After that the store recovers, the
// clock passes the cool-down and one more decision closes the breaker.
func Outage(t testing.TB, f core.FailurePolicy, obs core.Observer, key string) {
	t.Helper()
	c := NewClock()
	s := NewStore()
	s.SetDown(true)
	cfg := core.Config{
		Store: s, Failure: f, Observer: obs, Now: c.Now,
		Breaker: core.BreakerConfig{Failures: 2, Cooldown: time.Second},
	}
	if f == core.FailFallback {
		cfg.Fallback = memstore.New()
	}
	l := NewLimiter(t, cfg)
	for i := 0; i < 3; i++ {
		res, err := l.AllowKeyAt(context.Background(), key, 1, c.Now())
		switch f {
		case core.FailClosed:
			if err == nil {
				t.Fatalf("decision %d under FailClosed: no error", i+1)
			}
		case core.FailOpen:
			if err != nil || !res.Allowed {
				t.Fatalf("decision %d under FailOpen: allowed %v, err %v", i+1, res.Allowed, err)
			}
		case core.FailFallback:
			if err != nil || res.Allowed != (i < 2) {
				t.Fatalf("decision %d under FailFallback: allowed %v, err %v", i+1, res.Allowed, err)
			}
		}
	}
	s.SetDown(false)
	c.Advance(2 * time.Second)
	if _, err := l.AllowKeyAt(context.Background(), key+"-after", 1, c.Now()); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

// Leases acquires 2 leases for key under PolicySlots (limit 1) on store: the first is
// granted, the second denied; then the first is released.
func Leases(t testing.TB, store core.ConcurrencyStore, obs core.Observer, key string) {
	t.Helper()
	c := NewClock()
	cl, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{Store: store, Policy: PolicySlots, Config: core.Config{Observer: obs, Now: c.Now}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lease, res, err := cl.AcquireKeyAt(ctx, key, c.Now())
	if err != nil || !res.Allowed || lease == nil {
		t.Fatalf("first acquire: lease %v, allowed %v, err %v", lease, res.Allowed, err)
	}
	if _, res, err := cl.AcquireKeyAt(ctx, key, c.Now()); err != nil || res.Allowed {
		t.Fatalf("second acquire: allowed %v, err %v; want a denial", res.Allowed, err)
	}
	c.Advance(1500 * time.Millisecond)
	if err := lease.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// LeaseOutage makes 3 acquires for key under PolicySlots with a failing store under failure
// policy f, as [Outage] does for takes: two store errors (the breaker opens on the second),
// then one refused by the open breaker without a store call. FailOpen grants no lease;
// FailClosed refuses; FailFallback's local store (a memstore) grants the first lease and
// denies the other two, and that lease is released after 2 s. After that the store recovers,
// the clock passes the cool-down, and a lease for key+"-after" is acquired (closing the
// breaker) and released at once.
func LeaseOutage(t testing.TB, f core.FailurePolicy, obs core.Observer, key string) {
	t.Helper()
	c := NewClock()
	s := NewStore()
	s.SetDown(true)
	cfg := core.ConcurrencyConfig{
		Store: s, Policy: PolicySlots,
		Config: core.Config{Failure: f, Observer: obs, Now: c.Now, Breaker: core.BreakerConfig{Failures: 2, Cooldown: time.Second}},
	}
	if f == core.FailFallback {
		cfg.Fallback = memstore.New()
	}
	cl, err := core.NewConcurrencyLimiter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var held *core.Lease
	for i := 0; i < 3; i++ {
		lease, res, err := cl.AcquireKeyAt(ctx, key, c.Now())
		switch f {
		case core.FailClosed:
			if err == nil || lease != nil {
				t.Fatalf("acquire %d under FailClosed: lease %v, err %v; want an error", i+1, lease, err)
			}
		case core.FailOpen:
			if err != nil || !res.Allowed || lease != nil {
				t.Fatalf("acquire %d under FailOpen: lease %v, allowed %v, err %v; want allowed without a lease", i+1, lease, res.Allowed, err)
			}
		case core.FailFallback:
			if err != nil || res.Allowed != (i == 0) || (lease != nil) != (i == 0) {
				t.Fatalf("acquire %d under FailFallback: lease %v, allowed %v, err %v", i+1, lease, res.Allowed, err)
			}
			if lease != nil {
				held = lease
			}
		}
	}
	if held != nil {
		c.Advance(2 * time.Second)
		if err := held.Release(ctx); err != nil {
			t.Fatalf("releasing the fallback's lease: %v", err)
		}
	}
	s.SetDown(false)
	c.Advance(2 * time.Second)
	lease, res, err := cl.AcquireKeyAt(ctx, key+"-after", c.Now())
	if err != nil || !res.Allowed || lease == nil {
		t.Fatalf("after recovery: lease %v, allowed %v, err %v", lease, res.Allowed, err)
	}
	if err := lease.Release(ctx); err != nil {
		t.Fatalf("after recovery, release: %v", err)
	}
}

// Settlement takes once for key under PolicyAPI (2 per minute) with an estimated cost of 1
// and settles a real cost of 2 (one adjust of +1, waited for with Flush), so that the second
// take is denied: one allowed decision, one settlement, one denial.
func Settlement(t testing.TB, store core.Store, obs core.Observer, key string) {
	t.Helper()
	c := NewClock()
	l := NewLimiter(t, core.Config{Store: store, Observer: obs, Now: c.Now, Rules: []core.Rule{{
		Policy: PolicyAPI,
		Settle: func(core.Request, core.Outcome) int64 { return 2 },
	}}})
	ctx := context.Background()
	res := Take(t, l, key, c.Now())
	if !res.Allowed {
		t.Fatal("first take denied")
	}
	l.Settle(ctx, nil, &res, core.Outcome{Status: 200})
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if Take(t, l, key, c.Now()).Allowed {
		t.Fatal("second take allowed after settling a cost of 2 against a limit of 2")
	}
}

// PolicyBatch is the policy of the reservation situation: 20 per minute.
var PolicyBatch = core.NewFixedWindow("batch", 20, time.Minute)

// What [Reservations] produces: ReservedBatches batches of ReservedUnits units in all (2, 5,
// 5, 5, 2 and 1) reserved from the store, from which ReservedLocal decisions are answered
// locally; ReservedLocal + ReservedBatches decisions allowed in all, then one denied by the
// store and one by the denial cache.
const (
	ReservedBatches = 6
	ReservedUnits   = 20
	ReservedLocal   = 14
)

// Reservations takes 22 times for key under PolicyBatch with batched reservations
// (core.Reservations{MaxBatch: 4, Shrink: 2}), a request every 10 ms on a fake clock, on
// store: 20 allowed, then one denied by the store and one by the denial cache. It checks,
// at the store, that ReservedBatches takes of ReservedUnits units in all were allowed there
// (the batches), and fails the test naming what changed otherwise.
func Reservations(t testing.TB, store core.Store, obs core.Observer, key string) {
	t.Helper()
	c := NewClock()
	cs := &countingStore{Store: store}
	l := NewLimiter(t, core.Config{Store: cs, Observer: obs, Now: c.Now, Rules: []core.Rule{{
		Policy:  PolicyBatch,
		Reserve: &core.Reservations{MaxBatch: 4, Shrink: 2},
	}}})
	for i := range 22 {
		if got, want := Take(t, l, key, c.Now()).Allowed, i < 20; got != want {
			t.Fatalf("take %d: allowed = %v, want %v", i+1, got, want)
		}
		c.Advance(10 * time.Millisecond)
	}
	if b, u := cs.batches.Load(), cs.units.Load(); b != ReservedBatches || u != ReservedUnits {
		t.Fatalf("the store allowed %d takes of %d units in all; want %d of %d (the core's batch rule changed: update observetest)",
			b, u, ReservedBatches, ReservedUnits)
	}
}

// countingStore counts the takes its store allowed and their cost: the batches reserved.
type countingStore struct {
	core.Store
	batches, units atomic.Int64
}

func (s *countingStore) Take(ctx context.Context, key string, p core.Policy, cost int64, now time.Time) (core.Decision, error) {
	d, err := s.Store.Take(ctx, key, p, cost, now)
	if err == nil && d.Allowed {
		s.batches.Add(1)
		s.units.Add(cost)
	}
	return d, err
}

// InProcess reports whether the store it counts for runs in process.
func (s *countingStore) InProcess() bool {
	ip, ok := s.Store.(storekit.InProcess)
	return ok && ip.InProcess()
}

// PolicyTokens is the policy of the settlement situations: 100 (tokens, say) per minute.
var PolicyTokens = core.NewFixedWindow("tokens", 100, time.Minute)

// What [Settlements] and [FailedSettlements] produce, by direction: how many settlements and
// how much allowance.
const (
	SettledCharges     = 1  // 25 reported for an estimate of 10
	SettledCharged     = 15 //
	SettledRefunds     = 2  // 4 reported for 10, and one refunded whole
	SettledRefunded    = 16 // 6 + 10
	FailedCharged      = 2  // one charge: 12 reported for 10
	FailedRefunded     = 10 // one refund of a whole request
	settlementEstimate = 10
)

// settlingLimiter is a limiter whose one limit, PolicyTokens, costs settlementEstimate per
// request up front and settles the cost the handler reported (core.Outcome's Reported).
func settlingLimiter(t testing.TB, store core.Store, obs core.Observer, c *Clock) *core.Limiter {
	t.Helper()
	return NewLimiter(t, core.Config{Store: store, Observer: obs, Now: c.Now, Rules: []core.Rule{{
		Policy: PolicyTokens,
		Settle: func(_ core.Request, out core.Outcome) int64 { return out.Reported },
	}}})
}

// takeEstimate takes settlementEstimate for key, which must be allowed.
func takeEstimate(t testing.TB, l *core.Limiter, key string, now time.Time) core.Result {
	t.Helper()
	res, err := l.AllowKeyAt(context.Background(), key, settlementEstimate, now)
	if err != nil || !res.Allowed {
		t.Fatalf("take of %d for %q: allowed %v, err %v", settlementEstimate, key, res.Allowed, err)
	}
	return res
}

// Settlements makes four requests for key under PolicyTokens on store (a storekit.Adjuster), each
// spending an estimate of 10, and settles them with Limiter.Settle and Limiter.Refund: one
// reported 25 (a charge of 15), one 4 (a refund of 6), one is refunded whole (10), and one
// reported 10 (no settlement: the estimate was right); then Flush. It checks that the store
// holds the real costs (39 spent), and fails the test otherwise.
func Settlements(t testing.TB, store core.Store, obs core.Observer, key string) {
	t.Helper()
	c := NewClock()
	l := settlingLimiter(t, store, obs, c)
	ctx := context.Background()
	for _, reported := range []int64{25, 4, -1, 10} {
		res := takeEstimate(t, l, key, c.Now())
		if reported < 0 {
			l.Refund(ctx, &res)
			continue
		}
		l.Settle(ctx, nil, &res, core.Outcome{Status: 200, Reported: reported, Reports: 1})
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	d, err := store.Take(ctx, key, PolicyTokens, 0, c.Now())
	if want := PolicyTokens.Limit - (25 + 4 + 10); err != nil || d.Remaining != want {
		t.Fatalf("after the settlements the store has %d left (err %v), want %d", d.Remaining, err, want)
	}
}

// FailedSettlements makes two requests for key under PolicyTokens on a [Store], then takes the
// store down and settles them: one reported 12 (a charge of 2), the other is refunded whole
// (10). Both fail after the core's retries (about 3 s, in the background, waited for with
// Flush) and are dropped (FailOpen).
func FailedSettlements(t testing.TB, obs core.Observer, key string) {
	t.Helper()
	c := NewClock()
	s := NewStore()
	l := settlingLimiter(t, s, obs, c)
	ctx := context.Background()
	charged, refunded := takeEstimate(t, l, key, c.Now()), takeEstimate(t, l, key, c.Now())
	s.SetDown(true)
	l.Settle(ctx, nil, &charged, core.Outcome{Status: 200, Reported: 12, Reports: 1})
	l.Refund(ctx, &refunded)
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s.SetDown(false)
}
