package core_test

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// TestResultDenial: Denial and RetryAfter see only enforced denials, the longest Retry-After
// among them, and nothing past the decisions made.
func TestResultDenial(t *testing.T) {
	l := newLimiter(t, core.Config{Store: memstore.New(), Rules: []core.Rule{
		{Policy: core.NewFixedWindow("shadow", 1, time.Hour), Shadow: true},
		{Policy: core.NewFixedWindow("minute", 2, time.Minute)},
		{Policy: core.NewFixedWindow("second", 2, time.Second)},
	}})
	ctx := context.Background()
	res, _ := l.AllowKeyAt(ctx, "k", 1, t0)
	if _, ok := res.Denial(); ok || res.RetryAfter() != 0 || len(res.Decisions()) != 3 {
		t.Fatalf("allowed: %+v", res)
	}
	res, _ = l.AllowKeyAt(ctx, "k", 1, t0) // the shadow limit denies, not enforced
	if d, ok := res.Denial(); ok || res.RetryAfter() != 0 || !res.Allowed {
		t.Fatalf("shadow denial: %+v %+v", d, res)
	}
	res, _ = l.AllowKeyAt(ctx, "k", 1, t0) // the minute limit denies
	d, ok := res.Denial()
	if !ok || d.Policy.Name != "minute" || res.RetryAfter() != time.Minute || len(res.Decisions()) != 2 {
		t.Fatalf("denied: %+v %+v", d, res)
	}
	// A two-limit denial (with AllowKey, both limits are asked only if the first allows):
	// the longest Retry-After wins.
	l2 := newLimiter(t, core.Config{Store: memstore.New(), Shadow: true, Rules: []core.Rule{
		{Policy: core.NewFixedWindow("a", 1, time.Second)},
		{Policy: core.NewFixedWindow("b", 1, time.Minute)},
	}})
	_, _ = l2.AllowKeyAt(ctx, "k", 1, t0)
	res, _ = l2.AllowKeyAt(ctx, "k", 1, t0)
	if _, ok := res.Denial(); ok || res.RetryAfter() != 0 || !res.Allowed || len(res.Decisions()) != 2 {
		t.Fatalf("shadow limiter: %+v", res)
	}
}

// TestResultRetryAfterLongest: with enforced denials from several limits, RetryAfter is the
// longest.
func TestResultRetryAfterLongest(t *testing.T) {
	c := newConcurrency(t, core.ConcurrencyConfig{Store: memstore.New(), Policy: core.NewConcurrency("jobs", 1, time.Hour)})
	ctx := context.Background()
	_, _, _ = c.AcquireKeyAt(ctx, "k", t0)
	_, res, _ := c.AcquireKeyAt(ctx, "k", t0)
	if d, ok := res.Denial(); !ok || d.Policy.Name != "jobs" || res.RetryAfter() != storekit.ConcurrencyRetryAfter || len(res.Decisions()) != 1 {
		t.Fatalf("concurrency denial: %+v %+v", d, res)
	}
}

// TestResultFull: a result of MaxRules decisions reads like any other.
func TestResultFull(t *testing.T) {
	var limits []core.Rule
	for _, name := range []string{"a", "b", "c", "d"} {
		limits = append(limits, core.Rule{Policy: core.NewFixedWindow(name, 1, time.Minute)})
	}
	l := newLimiter(t, core.Config{Store: memstore.New(), Rules: limits})
	res, _ := l.AllowKeyAt(context.Background(), "k", 1, t0)
	if _, ok := res.Denial(); ok || res.RetryAfter() != 0 || !res.Allowed || len(res.Decisions()) != core.MaxRules {
		t.Fatalf("%+v", res)
	}
}
