package core_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/core/reply"
)

// TestFallbackPolicy: Limit and Burst are divided by the instances, rounded up, at least 1; a
// token bucket never gets a rate finer than a nanosecond.
func TestFallbackPolicy(t *testing.T) {
	cases := []struct {
		name      string
		p         core.Policy
		instances int
		limit     int64
		burst     int64
	}{
		{"one instance", core.NewFixedWindow("p", 9, time.Minute), 1, 9, 0},
		{"one instance returns p as it is", core.NewTokenBucket("p", 400, 150, 0), 1, 400, 0},
		{"zero instances", core.NewFixedWindow("p", 9, time.Minute), 0, 9, 0},
		{"exact", core.NewFixedWindow("p", 8, time.Minute), 4, 2, 0},
		{"rounded up", core.NewFixedWindow("p", 9, time.Minute), 4, 3, 0},
		{"at least 1", core.NewFixedWindow("p", 3, time.Minute), 4, 1, 0},
		{"two", core.NewSlidingWindow("p", 10, time.Minute), 2, 5, 0},
		{"burst", core.NewTokenBucket("p", 10, time.Minute, 7), 2, 5, 4},
		{"no burst stays none", core.NewTokenBucket("p", 10, time.Minute, 0), 3, 4, 0},
		// An invalid policy's rate (200 per 150ns, 1.5 per ns) stays within 1 per ns.
		{"finer than 1ns", core.NewTokenBucket("p", 400, 150, 0), 2, 150, 0},
		{"1 per ns", core.NewTokenBucket("p", 200, 150, 0), 2, 100, 0},
		{"fixed window not capped", core.NewFixedWindow("p", 400, 150), 2, 200, 0},
	}
	for _, c := range cases {
		got := core.FallbackPolicy(c.p, c.instances)
		want := c.p
		want.Limit, want.Burst = c.limit, c.burst
		if got != want {
			t.Errorf("%s: FallbackPolicy(%+v, %d) = %+v, want %+v", c.name, c.p, c.instances, got, want)
		}
	}
}

// TestFailurePolicyNames: the names logs and metrics use.
func TestFailurePolicyNames(t *testing.T) {
	for f, want := range map[core.FailurePolicy]string{
		core.FailOpen: "fail-open", core.FailClosed: "fail-closed", core.FailFallback: "fallback", 9: "unknown",
	} {
		if f.String() != want {
			t.Errorf("%d: %q, want %q", f, f.String(), want)
		}
	}
}

// TestFailOpenDecision: under FailOpen the decision allows the request with the policy's
// capacity less its cost remaining, and the failure is reported with the store's error.
func TestFailOpenDecision(t *testing.T) {
	s := &countingStore{inner: memstore.New()}
	s.fail.Store(true)
	rec := &recorder{}
	p := core.NewTokenBucket("tb", 10, time.Second, 6)
	l := newLimiter(t, core.Config{Store: s, Observer: rec, Breaker: core.BreakerConfig{Failures: -1},
		Rules: []core.Rule{{Policy: p}}})
	res, err := l.AllowKeyAt(context.Background(), "k", 2, t0)
	if err != nil || !res.Allowed || res.Degraded != core.DegradedOpen {
		t.Fatalf("%+v %v", res, err)
	}
	want := core.Decision{Allowed: true, Limit: 6, Remaining: 4, Policy: p}
	if d := res.Decisions()[0]; d != want {
		t.Fatalf("decision %+v, want %+v", d, want)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.events) != 2 {
		t.Fatalf("events %+v", rec.events)
	}
	if e := rec.events[0]; e.Kind != core.EventStoreError || e.Err == nil || e.Degraded != core.DegradedOpen || e.Key != "k" {
		t.Fatalf("store-error event %+v", e)
	}
	if e := rec.events[1]; e.Kind != core.EventDecision || e.Decision != want || e.Degraded != core.DegradedOpen {
		t.Fatalf("decision event %+v", e)
	}
}

// failingFallback is a fallback store that fails.
type failingFallback struct{}

func (failingFallback) Take(context.Context, string, core.Policy, int64, time.Time) (core.Decision, error) {
	return core.Decision{}, errors.New("fallback: out of memory")
}

// TestFallbackFailure: a failing fallback store makes the request fail with 503.
func TestFallbackFailure(t *testing.T) {
	s := &countingStore{inner: memstore.New()}
	s.fail.Store(true)
	l := newLimiter(t, core.Config{Store: s, Failure: core.FailFallback, Fallback: failingFallback{},
		Rules: []core.Rule{{Policy: core.NewFixedWindow("p", 10, time.Minute)}}})
	res, err := l.AllowKeyAt(context.Background(), "k", 1, t0)
	if !errors.Is(err, core.ErrStoreUnavailable) || res.Allowed || reply.Status(err, 0) != 503 {
		t.Fatalf("%+v %v", res, err)
	}
}

// TestFallbackCostAboveScaledCapacity: a cost the whole policy can take but the fallback's
// share cannot is asked of the fallback at its capacity, not refused as a bad request.
func TestFallbackCostAboveScaledCapacity(t *testing.T) {
	s := &countingStore{inner: memstore.New()}
	s.fail.Store(true)
	l := newLimiter(t, core.Config{Store: s, Failure: core.FailFallback, Fallback: memstore.New(), FallbackInstances: 4,
		Rules: []core.Rule{{Policy: core.NewFixedWindow("p", 8, time.Minute)}}})
	ctx := context.Background()
	res, err := l.AllowKeyAt(ctx, "k", 5, t0)
	if err != nil || !res.Allowed || res.Degraded != core.DegradedFallback {
		t.Fatalf("cost 5 on a fallback share of 2: %+v %v", res, err)
	}
	if res, err := l.AllowKeyAt(ctx, "k", 1, t0); err != nil || res.Allowed {
		t.Fatalf("the fallback share is spent: %+v %v", res, err)
	}
}
