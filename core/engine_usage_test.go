package core_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// opsStore is a memory store that counts Takes and can fail them, its Adjusts and its
// Resets.
type opsStore struct {
	*memstore.Store
	takes                           int
	failTake, failAdjust, failReset bool
}

func (s *opsStore) Take(ctx context.Context, key string, p core.Policy, cost int64, now time.Time) (core.Decision, error) {
	s.takes++
	if s.failTake {
		return core.Decision{}, errors.New("store: down")
	}
	return s.Store.Take(ctx, key, p, cost, now)
}

func (s *opsStore) Adjust(ctx context.Context, key string, p core.Policy, delta int64, now time.Time) (core.Decision, error) {
	if s.failAdjust {
		return core.Decision{}, errors.New("store: down")
	}
	return s.Store.Adjust(ctx, key, p, delta, now)
}

func (s *opsStore) ResetAt(ctx context.Context, key string, p core.Policy, now time.Time) error {
	if s.failReset {
		return errors.New("store: down")
	}
	return s.Store.ResetAt(ctx, key, p, now)
}

var (
	usageFW = core.NewFixedWindow("fw", 10, time.Minute)
	usageTB = core.NewTokenBucket("tb", 20, time.Minute, 0)
)

func usageLimiter(t *testing.T, s core.Store) *core.Limiter {
	t.Helper()
	return newLimiter(t, core.Config{Store: s, Now: func() time.Time { return t0 },
		Rules: []core.Rule{{Policy: usageFW}, {Policy: usageTB}}})
}

// TestUsage: Usage reads every limit without spending, past a limit in debt, without the
// denial cache; store failures are returned with the key and policy.
func TestUsage(t *testing.T) {
	s := &opsStore{Store: memstore.New()}
	l := usageLimiter(t, s)
	ctx := context.Background()
	if _, err := l.AllowKeyAt(ctx, "k", 3, t0); err != nil {
		t.Fatal(err)
	}
	for range 2 { // reading twice spends nothing
		ds, err := l.Usage(ctx, "k")
		if err != nil || len(ds) != 2 {
			t.Fatalf("usage %+v %v", ds, err)
		}
		if ds[0].Policy != usageFW || ds[0].Remaining != 7 || !ds[0].Allowed || ds[1].Policy != usageTB || ds[1].Remaining != 17 {
			t.Fatalf("usage %+v", ds)
		}
	}
	// In debt under the first limit: it reads as denied with its Retry-After, and the
	// second is still read.
	if _, err := s.Store.Adjust(ctx, "k", usageFW, 20, t0); err != nil {
		t.Fatal(err)
	}
	if res, _ := l.AllowKeyAt(ctx, "k", 1, t0); res.Allowed { // cached denial from now on
		t.Fatal("allowed in debt")
	}
	takes := s.takes
	ds, err := l.UsageAt(ctx, "k", t0)
	if err != nil || len(ds) != 2 || ds[0].Allowed || ds[0].RetryAfter != time.Minute || ds[1].Remaining != 17 {
		t.Fatalf("usage in debt %+v %v", ds, err)
	}
	if s.takes != takes+2 {
		t.Fatalf("usage made %d store calls, want 2 (no denial cache)", s.takes-takes)
	}
	s.failTake = true
	ds, err = l.Usage(ctx, "k")
	if err == nil || len(ds) != 0 || !strings.Contains(err.Error(), `"k"`) || !strings.Contains(err.Error(), `"fw"`) {
		t.Fatalf("usage on a failing store: %+v %v", ds, err)
	}
}

// TestUsagePlans: a PolicyFunc limit reads the key's plan; a failing PolicyFunc is returned
// with what was read before it.
func TestUsagePlans(t *testing.T) {
	pro := core.NewFixedWindow("pro", 100, time.Minute)
	l := newLimiter(t, core.Config{Store: memstore.New(), Now: func() time.Time { return t0 }, Rules: []core.Rule{
		{Policy: usageFW},
		{PolicyFunc: func(_ context.Context, key string) (core.Policy, error) {
			if key == "unknown" {
				return core.Policy{}, core.ErrMissingKey
			}
			return pro, nil
		}},
	}})
	ctx := context.Background()
	ds, err := l.Usage(ctx, "k")
	if err != nil || len(ds) != 2 || ds[1].Policy != pro || ds[1].Remaining != 100 {
		t.Fatalf("usage %+v %v", ds, err)
	}
	ds, err = l.Usage(ctx, "unknown")
	if !errors.Is(err, core.ErrMissingKey) || len(ds) != 1 {
		t.Fatalf("usage of an unknown key %+v %v", ds, err)
	}
	if _, err := l.Grant(ctx, "unknown", "pro", 1); !errors.Is(err, core.ErrMissingKey) {
		t.Fatalf("grant to an unknown key: %v", err)
	}
	if err := l.Reset(ctx, "unknown"); !errors.Is(err, core.ErrMissingKey) {
		t.Fatalf("reset of an unknown key: %v", err)
	}
	if _, err := l.AllowKeyAt(ctx, "k", 5, t0); err != nil {
		t.Fatal(err)
	}
	if d, err := l.Grant(ctx, "k", "pro", 3); err != nil || d.Remaining != 98 || d.Policy != pro {
		t.Fatalf("grant under the plan: %+v %v", d, err)
	}
}

// TestGrant: at least one unit, under a policy the limiter has, on a store that can adjust;
// it gives back what was spent (no more), answers the state afterwards and clears a cached
// denial.
func TestGrant(t *testing.T) {
	s := &opsStore{Store: memstore.New()}
	l := usageLimiter(t, s)
	ctx := context.Background()
	for _, n := range []int64{0, -1} {
		if _, err := l.Grant(ctx, "k", "fw", n); err == nil {
			t.Fatalf("Grant of %d: accepted", n)
		}
	}
	if _, err := l.Grant(ctx, "k", "nope", 1); !errors.Is(err, core.ErrNoSuchPolicy) {
		t.Fatalf("unknown policy: %v", err)
	}
	for range 11 { // 10 allowed, then a cached denial
		_, _ = l.AllowKeyAt(ctx, "k", 1, t0)
	}
	d, err := l.Grant(ctx, "k", "fw", 1)
	if err != nil || d.Remaining != 1 || d.Policy != usageFW || !d.Allowed {
		t.Fatalf("grant of 1: %+v %v", d, err)
	}
	takes := s.takes
	if res, _ := l.AllowKeyAt(ctx, "k", 1, t0); !res.Allowed || s.takes == takes {
		t.Fatalf("after a grant: %+v (store asked: %v): the cached denial outlived it", res, s.takes != takes)
	}
	if d, err := l.Grant(ctx, "k", "tb", 100); err != nil || d.Remaining != 20 {
		t.Fatalf("grant beyond what was spent: %+v %v", d, err)
	}
	// A failed grant leaves the cached denial in place.
	for range 2 {
		_, _ = l.AllowKeyAt(ctx, "k", 1, t0)
	}
	s.failAdjust = true
	if _, err := l.Grant(ctx, "k", "fw", 1); err == nil {
		t.Fatal("grant on a failing store: no error")
	}
	takes = s.takes
	if res, _ := l.AllowKeyAt(ctx, "k", 1, t0); res.Allowed || s.takes != takes {
		t.Fatalf("after a failed grant: %+v, store asked %v", res, s.takes != takes)
	}
	// Without an Adjuster.
	l2 := newLimiter(t, core.Config{Store: noAdjust{memstore.New()}, Rules: []core.Rule{{Policy: usageFW}}})
	if _, err := l2.Grant(ctx, "k", "fw", 1); err == nil || !strings.Contains(err.Error(), "Adjuster") {
		t.Fatalf("grant without an Adjuster: %v", err)
	}
}

// TestReset: every limit's state and cached denial are forgotten; failures name the key and
// policy; a store that cannot reset says so.
func TestReset(t *testing.T) {
	s := &opsStore{Store: memstore.New()}
	l := usageLimiter(t, s)
	ctx := context.Background()
	for range 11 {
		_, _ = l.AllowKeyAt(ctx, "k", 1, t0)
	}
	if err := l.Reset(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	ds, _ := l.Usage(ctx, "k")
	if ds[0].Remaining != 10 || ds[1].Remaining != 20 {
		t.Fatalf("after reset %+v", ds)
	}
	if res, _ := l.AllowKeyAt(ctx, "k", 1, t0); !res.Allowed {
		t.Fatal("denied after a reset: the cached denial outlived it")
	}
	s.failReset = true
	if err := l.Reset(ctx, "k"); err == nil || !strings.Contains(err.Error(), `"k"`) || !strings.Contains(err.Error(), `"fw"`) {
		t.Fatalf("reset on a failing store: %v", err)
	}
	l2 := newLimiter(t, core.Config{Store: noAdjust{memstore.New()}, Rules: []core.Rule{{Policy: usageFW}}})
	if err := l2.Reset(ctx, "k"); err == nil || !strings.Contains(err.Error(), "Resetter") {
		t.Fatalf("reset without a Resetter: %v", err)
	}
}
