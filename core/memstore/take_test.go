package memstore_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// TestTakeValidation: the store remembers which policies it validated, so that a decision
// under a known policy skips validation; the cost is still checked on every call, and a policy
// that differs from a validated one in any field is validated again.
func TestTakeValidation(t *testing.T) {
	p := core.NewFixedWindow("v", 5, time.Hour)
	bad := []struct {
		name string
		p    core.Policy
		cost int64
		err  error
	}{
		{"negative cost", p, -1, core.ErrNegativeCost},
		{"cost over capacity", p, 6, core.ErrCostExceedsCapacity},
		{"zero window", core.Policy{Name: "v", Algorithm: core.FixedWindow, Limit: 5}, 1, core.ErrInvalidPolicy},
		{"quote in name", core.NewFixedWindow(`a"b`, 5, time.Hour), 1, core.ErrInvalidPolicy},
		{"empty name", core.NewFixedWindow("", 5, time.Hour), 1, core.ErrInvalidPolicy},
		{"concurrency policy", core.NewConcurrency("v", 5, time.Hour), 1, core.ErrInvalidPolicy},
	}
	for _, warm := range []bool{false, true} {
		s := newStore(t, 100, 1)
		if warm {
			// Validated policies fill every remembered slot of the shard.
			for i, w := range []time.Duration{time.Hour, time.Minute, time.Second, 2 * time.Hour, 3 * time.Hour} {
				take(t, s, "w"+strconv.Itoa(i), core.NewFixedWindow("v", 5, w), t0)
			}
			take(t, s, "k", p, t0)
		}
		for _, tc := range bad {
			if d, err := s.Take(ctx, "k", tc.p, tc.cost, t0); !errors.Is(err, tc.err) {
				t.Errorf("warm=%v %s: Take = %+v, %v; want %v", warm, tc.name, d, err, tc.err)
			}
		}
		// Costs at the edges of the valid range are accepted.
		for _, cost := range []int64{0, 4} {
			if _, err := s.Take(ctx, "edge", p, cost, t0); err != nil {
				t.Errorf("warm=%v: Take cost %d: %v", warm, cost, err)
			}
		}
		if d, err := s.Take(ctx, "edge2", p, 5, t0); err != nil || !d.Allowed || d.Remaining != 0 {
			t.Errorf("warm=%v: Take of the whole capacity: %+v, %v", warm, d, err)
		}
	}
}

// TestCostZeroStoresNothing: a Take of cost 0 reads the state without creating any.
func TestCostZeroStoresNothing(t *testing.T) {
	s := newStore(t, 100, 1)
	for _, p := range []core.Policy{longLived, core.NewSlidingWindow("sw", 10, time.Hour), core.NewTokenBucket("tb", 10, time.Hour, 10)} {
		d, err := s.Take(ctx, "k", p, 0, t0)
		if err != nil || !d.Allowed || d.Remaining != p.Capacity() {
			t.Fatalf("%s: Take cost 0 on a new key: %+v, %v", p.Name, d, err)
		}
	}
	if n := s.Len(); n != 0 {
		t.Fatalf("Len = %d after Takes of cost 0, want 0", n)
	}
	if _, err := s.Adjust(ctx, "k", longLived, 0, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Adjust(ctx, "k", longLived, -3, t0); err != nil {
		t.Fatal(err)
	}
	if n := s.Len(); n != 0 {
		t.Fatalf("Len = %d after Adjusts that spend nothing, want 0", n)
	}
}

// TestKeyLengths: keys are copied into storage of a few size classes (up to 16, up to 48
// bytes, longer, hashed above 128); keys that share a prefix up to each class's size, or
// differ only in length, keep separate state.
func TestKeyLengths(t *testing.T) {
	s := memstore.New()
	var ks []string
	for _, n := range []int{0, 1, 15, 16, 17, 47, 48, 49, 127, 128, 129, 200} {
		ks = append(ks, strings.Repeat("a", n), strings.Repeat("a", n)+"b")
	}
	for i, k := range ks {
		for j := 0; j <= i%3; j++ {
			take(t, s, k, longLived, t0)
		}
	}
	for i, k := range ks {
		if got, want := used(t, s, k, longLived, t0), int64(i%3+1); got != want {
			t.Errorf("key of %d bytes: used %d, want %d", len(k), got, want)
		}
	}
	if n := s.Len(); n != len(ks) {
		t.Errorf("Len = %d, want %d", n, len(ks))
	}
	// A key built in a buffer the caller reuses keeps its state under its value at the time.
	buf := []byte("tenant-0000000000000000001")
	take(t, s, string(buf), longLived, t0)
	copy(buf, "TENANT")
	if used(t, s, "tenant-0000000000000000001", longLived, t0) != 1 {
		t.Error("the stored key changed with the caller's buffer")
	}
}

// TestSweepMiddleOfKeyList: expiry of an entry that is not its key's first (several policies
// on one key) removes that entry only.
func TestSweepMiddleOfKeyList(t *testing.T) {
	half := t0.Add(500 * time.Millisecond)
	short2 := core.NewFixedWindow("short2", 1000, time.Second)
	for _, expire := range [][]core.Policy{{shortWin}, {short2}, {shortWin, short2}} {
		s := newStore(t, 100, 1)
		// The key's list is long, then the later policies in reverse order of arrival.
		take(t, s, "k", longLived, half)
		take(t, s, "k", shortWin, half)
		take(t, s, "k", short2, half)
		take(t, s, "k", core.NewFixedWindow("mid", 1000, time.Hour), half)
		s.Sweep(half) // nothing expired
		if s.Len() != 4 {
			t.Fatalf("Len = %d, want 4", s.Len())
		}
		// Only the policies in expire are short-lived at this point: renew the others.
		later := t0.Add(1500 * time.Millisecond)
		for _, p := range []core.Policy{shortWin, short2} {
			keep := true
			for _, e := range expire {
				keep = keep && e.Name != p.Name
			}
			if keep {
				take(t, s, "k", p, later)
			}
		}
		s.Sweep(later)
		if got, want := s.Len(), 4-len(expire); got != want {
			t.Fatalf("expire %v: Len = %d, want %d", names(expire), got, want)
		}
		if used(t, s, "k", longLived, later) != 1 || used(t, s, "k", core.NewFixedWindow("mid", 1000, time.Hour), later) != 1 {
			t.Fatalf("expire %v: a live entry of the key lost its state", names(expire))
		}
	}
}

// TestSweepFirstOfKeyList: expiry of a key's first entry keeps the entries that follow it.
func TestSweepFirstOfKeyList(t *testing.T) {
	half := t0.Add(500 * time.Millisecond)
	s := newStore(t, 100, 1)
	take(t, s, "k", shortWin, half)
	take(t, s, "k", longLived, half)
	take(t, s, "k", core.NewFixedWindow("mid", 1000, time.Hour), half)
	take(t, s, "j", longLived, half)
	later := t0.Add(2 * time.Second)
	s.Sweep(later)
	if s.Len() != 3 {
		t.Fatalf("Len = %d, want 3", s.Len())
	}
	for _, c := range []struct {
		key string
		p   core.Policy
	}{{"k", longLived}, {"k", core.NewFixedWindow("mid", 1000, time.Hour)}, {"j", longLived}} {
		if used(t, s, c.key, c.p, later) != 1 {
			t.Fatalf("%s under %s lost its state when the key's first entry expired", c.key, c.p.Name)
		}
	}
	// The remaining entries are still removable one by one.
	for _, p := range []core.Policy{longLived, core.NewFixedWindow("mid", 1000, time.Hour)} {
		if err := s.ResetAt(ctx, "k", p, later); err != nil {
			t.Fatal(err)
		}
	}
	if s.Len() != 1 || used(t, s, "j", longLived, later) != 1 {
		t.Fatalf("Len = %d after resetting k, want 1 (j)", s.Len())
	}
}

func names(ps []core.Policy) []string {
	var ns []string
	for _, p := range ps {
		ns = append(ns, p.Name)
	}
	return ns
}
