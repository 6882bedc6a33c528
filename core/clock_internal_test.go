package core

import (
	"testing"
	"time"
)

// TestWallClock: the default clock reads the wall clock, then runs on the monotonic clock
// from that reading until clockResync has passed (or the monotonic reading is not after the
// base's), and then reads the wall clock again.
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
	// A base whose monotonic reading is in the future (not after it): read again.
	future := time.Now().Add(time.Hour)
	c.base.Store(&clockBase{wall: future.UnixNano(), mono: future})
	if got := c.now(); got.After(time.Now().Add(time.Minute)) {
		t.Errorf("base in the future: got %v, want the wall clock", got)
	}
	// No monotonic reading leaks out: comparisons use the wall time only.
	if got := c.now(); got != got.Round(0) {
		t.Error("the clock returned a time with a monotonic reading")
	}
}
