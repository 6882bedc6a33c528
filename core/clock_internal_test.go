package core

import (
	"context"
	"testing"
	"time"
)

// TestWallClock: the default clock reads the wall clock, then runs on the monotonic clock
// from that reading until clockResync has passed, and then reads the wall clock again.
func TestWallClock(t *testing.T) {
	var c wallClock
	before := time.Now()
	got := c.now()
	after := time.Now()
	if got.Before(before.Round(0)) || got.After(after.Round(0)) {
		t.Fatalf("first reading %v outside [%v, %v]", got, before, after)
	}
	if c.base.Load() == nil {
		t.Fatal("the first reading kept no base")
	}
	// Between resyncs: never backwards, always within the wall clock's readings around it.
	prev := got
	for i := 0; i < 10000; i++ {
		before := time.Now().Round(0)
		got := c.now()
		after := time.Now().Round(0)
		if got.Before(prev) {
			t.Fatalf("reading %d went back: %v after %v", i, got, prev)
		}
		if got.Before(before.Add(-time.Millisecond)) || got.After(after.Add(time.Millisecond)) {
			t.Fatalf("reading %d: %v outside [%v, %v]", i, got, before, after)
		}
		prev = got
	}

	// A base taken just now whose wall reading is an hour off (the wall clock stepped since):
	// the clock follows the base, not the wall clock, until the resync.
	now := time.Now()
	c.base.Store(&clockBase{wall: now.Add(-time.Hour).UnixNano(), mono: now})
	if got := c.now(); got.After(time.Now().Add(-59 * time.Minute)) {
		t.Errorf("fresh base an hour behind: got %v, want about an hour behind", got)
	}
	// The same base once clockResync has passed: the wall clock is read again.
	old := time.Now().Add(-clockResync)
	c.base.Store(&clockBase{wall: old.Add(-time.Hour).UnixNano(), mono: old})
	before = time.Now()
	got = c.now()
	if got.Before(before.Round(0)) || got.After(time.Now().Round(0)) {
		t.Errorf("stale base: got %v, want the wall clock (%v)", got, before)
	}
	if b := c.base.Load(); b.wall < before.UnixNano() {
		t.Errorf("stale base not replaced: wall %d < %d", b.wall, before.UnixNano())
	}
	// No monotonic reading leaks out: comparisons use the wall time only.
	if got := c.now(); got != got.Round(0) {
		t.Error("the clock returned a time with a monotonic reading")
	}
}

// grantAll is a ConcurrencyStore that grants every lease.
type grantAll struct{}

func (grantAll) Acquire(_ context.Context, _ string, p Policy, _ string, _ time.Time) (Decision, error) {
	return Decision{Allowed: true, Limit: p.Limit, Remaining: p.Limit - 1, Policy: p}, nil
}
func (grantAll) Release(context.Context, string, Policy, string, time.Time) error { return nil }
func (grantAll) Extend(_ context.Context, _ string, p Policy, _ string, _ time.Time) (Decision, error) {
	return Decision{Allowed: true, Limit: p.Limit, Policy: p}, nil
}

// TestLeaseHeldAcrossWallClockStep: with the default clock, a lease's Held is measured on the
// monotonic clock, so a wall-clock step seen between acquire and release (here: the clock's
// base replaced by one an hour ahead, as a resync after a step would) does not show in it;
// with a configured clock, Held is that clock's difference.
func TestLeaseHeldAcrossWallClockStep(t *testing.T) {
	var held []time.Duration
	obs := ObserverFunc(func(_ context.Context, e Event) {
		if e.Kind == EventLeaseReleased {
			held = append(held, e.Held)
		}
	})
	p := NewConcurrency("c", 2, time.Minute)
	c, err := NewConcurrencyLimiter(ConcurrencyConfig{Store: grantAll{}, Policy: p, Config: Config{Observer: obs, Key: KeyStatic("k")}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lease, res, err := c.AcquireKey(ctx, "k")
	if err != nil || !res.Allowed || lease == nil {
		t.Fatalf("acquire: %v %+v %v", lease, res, err)
	}
	time.Sleep(20 * time.Millisecond)
	now := time.Now()
	c.lim.clock.base.Store(&clockBase{wall: now.Add(time.Hour).UnixNano(), mono: now})
	if err := lease.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if len(held) != 1 || held[0] < 20*time.Millisecond || held[0] > 10*time.Second {
		t.Fatalf("Held %v across a wall-clock step of an hour; want about 20ms", held)
	}

	// A configured clock: Held is its difference, whatever the real time taken.
	at := time.Unix(1_800_000_000, 0)
	c, err = NewConcurrencyLimiter(ConcurrencyConfig{Store: grantAll{}, Policy: p,
		Config: Config{Observer: obs, Key: KeyStatic("k"), Now: func() time.Time { return at }}})
	if err != nil {
		t.Fatal(err)
	}
	lease, _, err = c.AcquireKey(ctx, "k")
	if err != nil || lease == nil {
		t.Fatal(lease, err)
	}
	at = at.Add(5 * time.Second)
	if err := lease.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if len(held) != 2 || held[1] != 5*time.Second {
		t.Fatalf("Held %v on a configured clock advanced 5s; want 5s", held)
	}
}
