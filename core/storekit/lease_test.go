package storekit_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// leaseAt returns t0 plus ms milliseconds.
func leaseAt(ms int64) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// leaseExp returns the Unix nanosecond expiry ms milliseconds after t0.
func leaseExp(ms int64) int64 { return leaseAt(ms).UnixNano() }

// TestAcquireLease pins the concurrency algorithm: which leases count as held at an instant,
// the retry hint, renewal of a held id and the remaining count.
func TestAcquireLease(t *testing.T) {
	p := core.NewConcurrency("sem", 2, 10*time.Second)
	cases := []struct {
		name      string
		ls        storekit.Leases
		id        string
		now       int64 // ms after t0
		allowed   bool
		remaining int64
		retry     time.Duration
		after     storekit.Leases
	}{
		{"empty", storekit.Leases{}, "a", 0, true, 1, 0, storekit.Leases{"a": leaseExp(10000)}},
		{"one free slot", storekit.Leases{"x": leaseExp(500)}, "a", 0, true, 0, 0, storekit.Leases{"x": leaseExp(500), "a": leaseExp(10000)}},
		{"full: earliest expiry is the hint", storekit.Leases{"x": leaseExp(500), "y": leaseExp(300)}, "a", 0, false, 0, 300 * time.Millisecond, storekit.Leases{"x": leaseExp(500), "y": leaseExp(300)}},
		{"full: earliest expiry, listed either way", storekit.Leases{"x": leaseExp(300), "y": leaseExp(500)}, "a", 100, false, 0, 200 * time.Millisecond, storekit.Leases{"x": leaseExp(300), "y": leaseExp(500)}},
		{"full: the hint is at most a second", storekit.Leases{"x": leaseExp(5000), "y": leaseExp(7000)}, "a", 0, false, 0, time.Second, storekit.Leases{"x": leaseExp(5000), "y": leaseExp(7000)}},
		{"full: a hint of exactly a second", storekit.Leases{"x": leaseExp(1000), "y": leaseExp(7000)}, "a", 0, false, 0, time.Second, storekit.Leases{"x": leaseExp(1000), "y": leaseExp(7000)}},
		{"a lease expiring now is free", storekit.Leases{"x": leaseExp(500), "y": leaseExp(300)}, "a", 300, true, 0, 0, storekit.Leases{"x": leaseExp(500), "a": leaseExp(10300)}},
		{"a lease expiring a nanosecond later is held", storekit.Leases{"x": leaseExp(500), "y": leaseExp(300) + 1}, "a", 300, false, 0, 1, storekit.Leases{"x": leaseExp(500), "y": leaseExp(300) + 1}},
		{"expired leases are removed", storekit.Leases{"x": leaseExp(100), "y": leaseExp(200)}, "a", 200, true, 1, 0, storekit.Leases{"a": leaseExp(10200)}},
		{"a held id is renewed while full", storekit.Leases{"a": leaseExp(500), "y": leaseExp(300)}, "a", 100, true, 0, 0, storekit.Leases{"a": leaseExp(10100), "y": leaseExp(300)}},
		{"more leases than the limit (lowered)", storekit.Leases{"x": leaseExp(500), "y": leaseExp(600), "z": leaseExp(700)}, "x", 0, true, 0, 0, storekit.Leases{"x": leaseExp(10000), "y": leaseExp(600), "z": leaseExp(700)}},
	}
	for _, c := range cases {
		d := storekit.AcquireLease(c.ls, p, c.id, leaseAt(c.now))
		if d.Allowed != c.allowed || d.Remaining != c.remaining || d.RetryAfter != c.retry || d.Limit != 2 || d.ResetAfter != 0 || d.Policy != p {
			t.Errorf("%s: %+v, want allowed=%v remaining=%d retry=%v", c.name, d, c.allowed, c.remaining, c.retry)
		}
		if !leasesEqual(c.ls, c.after) {
			t.Errorf("%s: leases after %v, want %v", c.name, c.ls, c.after)
		}
	}
}

func leasesEqual(a, b storekit.Leases) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestReleaseLease(t *testing.T) {
	cases := []struct {
		name string
		ls   storekit.Leases
		now  int64
		held bool
	}{
		{"held", storekit.Leases{"a": leaseExp(500)}, 499, true},
		{"expiring now", storekit.Leases{"a": leaseExp(500)}, 500, false},
		{"expired", storekit.Leases{"a": leaseExp(500)}, 501, false},
		{"unknown", storekit.Leases{"b": leaseExp(500)}, 0, false},
	}
	for _, c := range cases {
		if got := storekit.ReleaseLease(c.ls, "a", leaseAt(c.now)); got != c.held {
			t.Errorf("%s: ReleaseLease = %v, want %v", c.name, got, c.held)
		}
		if _, ok := c.ls["a"]; ok {
			t.Errorf("%s: lease still present after release", c.name)
		}
	}
}

func TestExtendLease(t *testing.T) {
	p := core.NewConcurrency("sem", 3, 10*time.Second)
	cases := []struct {
		name      string
		ls        storekit.Leases
		now       int64
		remaining int64
		after     storekit.Leases
		err       error
	}{
		{"held", storekit.Leases{"a": leaseExp(500)}, 400, 2, storekit.Leases{"a": leaseExp(10400)}, nil},
		{"expired others do not count", storekit.Leases{"a": leaseExp(500), "b": leaseExp(400), "c": leaseExp(401)}, 400, 1, storekit.Leases{"a": leaseExp(10400), "b": leaseExp(400), "c": leaseExp(401)}, nil},
		{"more than the limit (lowered)", storekit.Leases{"a": leaseExp(500), "b": leaseExp(900), "c": leaseExp(900), "d": leaseExp(900)}, 0, 0, storekit.Leases{"a": leaseExp(10000), "b": leaseExp(900), "c": leaseExp(900), "d": leaseExp(900)}, nil},
		{"expiring now", storekit.Leases{"a": leaseExp(500), "b": leaseExp(900)}, 500, 0, storekit.Leases{"b": leaseExp(900)}, core.ErrLeaseNotFound},
		{"unknown", storekit.Leases{"b": leaseExp(900)}, 0, 0, storekit.Leases{"b": leaseExp(900)}, core.ErrLeaseNotFound},
	}
	for _, c := range cases {
		d, err := storekit.ExtendLease(c.ls, p, "a", leaseAt(c.now))
		if !errors.Is(err, c.err) || (err != nil) != (c.err != nil) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.err)
		}
		if d.Allowed != (c.err == nil) || d.Remaining != c.remaining || d.Limit != 3 || d.Policy != p || d.RetryAfter != 0 {
			t.Errorf("%s: %+v, want allowed=%v remaining=%d", c.name, d, c.err == nil, c.remaining)
		}
		if !leasesEqual(c.ls, c.after) {
			t.Errorf("%s: leases after %v, want %v", c.name, c.ls, c.after)
		}
	}
}

func TestLeasesExpiry(t *testing.T) {
	if got := (storekit.Leases{}).Expiry(); got != 0 {
		t.Errorf("no leases: Expiry %d, want 0", got)
	}
	for _, ls := range []storekit.Leases{
		{"a": leaseExp(300), "b": leaseExp(900), "c": leaseExp(500)},
		{"a": leaseExp(900), "b": leaseExp(300)},
		{"a": leaseExp(900)},
	} {
		if got := ls.Expiry(); got != leaseExp(900) {
			t.Errorf("%v: Expiry %d, want %d", ls, got, leaseExp(900))
		}
	}
}

func TestLeases(t *testing.T) {
	p := core.NewConcurrency("sem", 2, 10*time.Second)
	ls := storekit.Leases{}
	if d := storekit.AcquireLease(ls, p, "a", t0); !d.Allowed || d.Remaining != 1 {
		t.Fatalf("a: %+v", d)
	}
	storekit.AcquireLease(ls, p, "b", t0.Add(time.Second))
	d := storekit.AcquireLease(ls, p, "c", t0.Add(9500*time.Millisecond))
	if d.Allowed || d.RetryAfter != 500*time.Millisecond {
		t.Fatalf("c while full: %+v, want denied with RetryAfter 500ms (a expires at +10s)", d)
	}
	if d := storekit.AcquireLease(ls, p, "c", t0.Add(10*time.Second)); !d.Allowed {
		t.Fatalf("c after a expired: %+v", d)
	}
	if _, err := storekit.ExtendLease(ls, p, "a", t0.Add(10*time.Second)); err != core.ErrLeaseNotFound {
		t.Fatalf("extend expired a: %v", err)
	}
	if !storekit.ReleaseLease(ls, "b", t0.Add(10*time.Second)) {
		t.Fatal("release b: not held")
	}
}
