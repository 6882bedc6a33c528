package core_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
)

// orphanStore fails every Acquire (the outcome is unknown to the limiter) and records the
// Releases the limiter then sends in the background. While gate is set, the first Release
// blocks on it.
type orphanStore struct {
	mu       sync.Mutex
	releases map[string][]time.Time
	gate     chan struct{}
	blocked  chan struct{}
	refuse   bool
	down     string // Releases of this key fail
}

func newOrphanStore() *orphanStore { return &orphanStore{releases: map[string][]time.Time{}} }

func (s *orphanStore) Acquire(context.Context, string, core.Policy, string, time.Time) (core.Decision, error) {
	return core.Decision{}, errors.New("store: timeout")
}

func (s *orphanStore) Release(ctx context.Context, key string, p core.Policy, id string, now time.Time) error {
	s.mu.Lock()
	gate, blocked := s.gate, s.blocked
	s.gate = nil
	s.releases[id] = append(s.releases[id], time.Now())
	refuse, down := s.refuse, s.down == key
	s.mu.Unlock()
	if down {
		return errors.New("store: down")
	}
	if gate != nil {
		close(blocked)
		<-gate
	}
	if refuse {
		return core.ErrInvalidKey
	}
	return nil
}

func (s *orphanStore) Extend(context.Context, string, core.Policy, string, time.Time) (core.Decision, error) {
	return core.Decision{}, core.ErrLeaseNotFound
}

// snapshot returns the release times of each lease id released.
func (s *orphanStore) snapshot() map[string][]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]time.Time{}
	for k, v := range s.releases {
		out[k] = append([]time.Time(nil), v...)
	}
	return out
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func orphanLimiter(t *testing.T, s *orphanStore) (*core.ConcurrencyLimiter, *clock) {
	t.Helper()
	clk := &clock{t: t0}
	t.Cleanup(func() { clk.Add(24 * time.Hour) }) // ends the background releases
	c := newConcurrency(t, core.ConcurrencyConfig{Store: s, Policy: core.NewConcurrency("jobs", 5, time.Hour),
		Config: core.Config{Now: clk.Now, Failure: core.FailClosed, Breaker: core.BreakerConfig{Failures: -1}, Observer: core.ObserverFunc(func(context.Context, core.Event) {})},
	})
	return c, clk
}

// TestOrphanReleasedAndConfirmed: the lease of an acquire whose outcome is unknown is released
// in the background, then released again 50 ms later to catch an acquire the store applied
// late.
func TestOrphanReleasedAndConfirmed(t *testing.T) {
	s := newOrphanStore()
	c, _ := orphanLimiter(t, s)
	if _, _, err := c.AcquireKeyAt(context.Background(), "k", t0); err == nil {
		t.Fatal("no error")
	}
	var times []time.Time
	waitFor(t, "two releases", func() bool {
		for _, v := range s.snapshot() {
			times = v
		}
		return len(times) >= 2
	})
	if gap := times[1].Sub(times[0]); gap < 45*time.Millisecond || gap > 3*time.Second {
		t.Fatalf("confirming release %v after the first, want about 50 ms", gap)
	}
}

// TestOrphanExpired: a lease that has expired on its own is not released.
func TestOrphanExpired(t *testing.T) {
	s := newOrphanStore()
	c, _ := orphanLimiter(t, s)
	ctx := context.Background()
	// Acquired an hour ago (its lease ends now) and 2 h ago: expired; a minute ago: live.
	for _, at := range []time.Duration{-time.Hour, -2 * time.Hour, -time.Minute} {
		_, _, _ = c.AcquireKeyAt(ctx, "k", t0.Add(at))
	}
	waitFor(t, "a release", func() bool { return len(s.snapshot()) > 0 })
	time.Sleep(20 * time.Millisecond)
	if n := len(s.snapshot()); n != 1 {
		t.Fatalf("%d leases released, want 1 (two had expired)", n)
	}
}

// TestOrphanRefused: a release the store refuses as the caller's fault is not retried.
func TestOrphanRefused(t *testing.T) {
	s := newOrphanStore()
	s.refuse = true
	c, _ := orphanLimiter(t, s)
	_, _, _ = c.AcquireKeyAt(context.Background(), "k", t0)
	waitFor(t, "a release", func() bool { return len(s.snapshot()) > 0 })
	time.Sleep(80 * time.Millisecond)
	for id, v := range s.snapshot() {
		if len(v) != 1 {
			t.Fatalf("lease %s released %d times after a caller error, want 1", id, len(v))
		}
	}
}

// TestOrphansBounded: at most 4,096 orphans wait for release; past that they are left to
// expire.
func TestOrphansBounded(t *testing.T) {
	s := newOrphanStore()
	gate, blocked := make(chan struct{}), make(chan struct{})
	s.gate, s.blocked = gate, blocked
	c, _ := orphanLimiter(t, s)
	ctx := context.Background()
	_, _, _ = c.AcquireKeyAt(ctx, "k", t0) // its release blocks the releasing goroutine
	<-blocked
	for range 4096 + 1 {
		_, _, _ = c.AcquireKeyAt(ctx, "k", t0)
	}
	close(gate)
	waitFor(t, "4,097 releases", func() bool { return len(s.snapshot()) >= 4097 })
	time.Sleep(20 * time.Millisecond)
	if n := len(s.snapshot()); n != 4097 {
		t.Fatalf("%d leases released, want 4,097 (the first and 4,096 waiting)", n)
	}
}

// TestOrphanBackoff: a release that keeps failing is retried with backoff (10 ms doubling to
// 250 ms, from 10 ms again after any release succeeded), not in a busy loop.
func TestOrphanBackoff(t *testing.T) {
	for _, keys := range [][]string{{"b"}, {"a", "b"}} {
		s := newOrphanStore()
		s.down = "b"
		c, _ := orphanLimiter(t, s)
		ctx := context.Background()
		for _, k := range keys { // a's release succeeds at once, then is confirmed: progress
			_, _, _ = c.AcquireKeyAt(ctx, k, t0)
		}
		time.Sleep(150 * time.Millisecond)
		s.mu.Lock()
		s.down = ""
		s.mu.Unlock()
		n := 0
		for _, v := range s.snapshot() {
			n = max(n, len(v))
		}
		if n < 2 || n > 30 {
			t.Fatalf("orphans of %v: a failing release was tried %d times in 150 ms, want a few (backoff)", keys, n)
		}
	}
}
