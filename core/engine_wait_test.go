package core_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
)

// busy returns a limiter of one slot on a counting store, with the slot held.
func busy(t *testing.T, failure core.FailurePolicy) (*core.ConcurrencyLimiter, *leaseStore, *core.Lease) {
	t.Helper()
	s := newLeaseStore()
	c := newConcurrency(t, core.ConcurrencyConfig{Store: s, Policy: core.NewConcurrency("jobs", 1, time.Hour),
		Config: core.Config{Key: core.KeyStatic("k"), Failure: failure, Observer: core.ObserverFunc(func(context.Context, core.Event) {})},
	})
	held, _, err := c.Acquire(context.Background(), nil)
	if err != nil || held == nil {
		t.Fatal(err)
	}
	return c, s, held
}

// TestAcquireWait: no wait without Max; retries numbered from 0 until a slot frees or the
// wait (or the request's deadline) would be exceeded; an error ends the wait.
func TestAcquireWait(t *testing.T) {
	ctx := context.Background()
	t.Run("no max", func(t *testing.T) {
		c, s, _ := busy(t, core.FailOpen)
		calls := 0
		lease, res, err := c.AcquireWait(ctx, nil, core.Wait{Delay: func(int) time.Duration { calls++; return 0 }})
		if lease != nil || res.Allowed || err != nil || calls != 0 || s.acquires.Load() != 2 {
			t.Fatalf("%v %+v %v, %d delays, %d acquires", lease, res, err, calls, s.acquires.Load())
		}
	})
	t.Run("slot frees", func(t *testing.T) {
		c, _, held := busy(t, core.FailOpen)
		var ns []int
		lease, res, err := c.AcquireWait(ctx, nil, core.Wait{Max: time.Minute, Delay: func(n int) time.Duration {
			ns = append(ns, n)
			if n == 2 {
				_ = held.Release(ctx)
			}
			return time.Millisecond
		}})
		if lease == nil || !res.Allowed || err != nil {
			t.Fatalf("%v %+v %v", lease, res, err)
		}
		if len(ns) != 3 || ns[0] != 0 || ns[1] != 1 || ns[2] != 2 {
			t.Fatalf("delays asked for retries %v, want [0 1 2]", ns)
		}
	})
	t.Run("max exceeded", func(t *testing.T) {
		c, s, _ := busy(t, core.FailOpen)
		start := time.Now()
		lease, res, err := c.AcquireWait(ctx, nil, core.Wait{Max: time.Hour, Delay: func(n int) time.Duration {
			if n == 2 {
				return 2 * time.Hour
			}
			return time.Millisecond
		}})
		if lease != nil || res.Allowed || err != nil || s.acquires.Load() != 4 {
			t.Fatalf("%v %+v %v, %d acquires, want 4", lease, res, err, s.acquires.Load())
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("waited for a delay past Max")
		}
	})
	t.Run("deadline before max", func(t *testing.T) {
		c, s, _ := busy(t, core.FailOpen)
		dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		start := time.Now()
		lease, res, err := c.AcquireWait(dctx, nil, core.Wait{Max: time.Hour, Delay: func(int) time.Duration { return time.Minute }})
		if lease != nil || res.Allowed || err != nil || s.acquires.Load() != 2 {
			t.Fatalf("%v %+v %v, %d acquires", lease, res, err, s.acquires.Load())
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("waited past the request's deadline")
		}
	})
	t.Run("canceled", func(t *testing.T) {
		c, _, _ := busy(t, core.FailOpen)
		cctx, cancel := context.WithCancel(ctx)
		var once sync.Once
		lease, res, err := c.AcquireWait(cctx, nil, core.Wait{Max: time.Hour, Delay: func(int) time.Duration {
			once.Do(cancel)
			return time.Minute
		}})
		if lease != nil || res.Allowed || err != nil {
			t.Fatalf("%v %+v %v", lease, res, err)
		}
	})
	t.Run("store fails while waiting", func(t *testing.T) {
		c, s, _ := busy(t, core.FailClosed)
		lease, _, err := c.AcquireWait(ctx, nil, core.Wait{Max: time.Hour, Delay: func(int) time.Duration {
			s.fail.Store(true)
			return time.Millisecond
		}})
		if lease != nil || !errors.Is(err, core.ErrStoreUnavailable) {
			t.Fatalf("%v %v", lease, err)
		}
		s.fail.Store(false)
	})
	t.Run("default delay starts small", func(t *testing.T) {
		// The first pauses are random within 10 ms, 20 ms, 40 ms...: a 5 ms wait fits at
		// most a few of them, never six (that would take six pauses summing under 5 ms).
		c, s, _ := busy(t, core.FailOpen)
		_, res, err := c.AcquireWait(ctx, nil, core.Wait{Max: 5 * time.Millisecond})
		if res.Allowed || err != nil {
			t.Fatalf("%+v %v", res, err)
		}
		if n := s.acquires.Load() - 1; n > 5 {
			t.Fatalf("%d acquires in a 5 ms wait, want at most 5", n)
		}
	})
	t.Run("default delay", func(t *testing.T) {
		// Full jitter from 10 ms doubling: within 200 ms at least 2 tries (0-10 ms, then
		// 0-20 ms, with room for a slow scheduler), and not a busy loop.
		c, s, _ := busy(t, core.FailOpen)
		_, res, err := c.AcquireWait(ctx, nil, core.Wait{Max: 200 * time.Millisecond})
		if res.Allowed || err != nil {
			t.Fatalf("%+v %v", res, err)
		}
		if n := s.acquires.Load() - 1; n < 2 || n > 60 {
			t.Fatalf("%d acquires in a 200 ms wait, want 2 to 60", n)
		}
	})
}

// TestHoldExtends: a held lease is extended every half lease (every 0), not every two leases;
// a negative every never extends; done releases. The limiter's clock stands still, so that the
// lease never expires whatever the scheduler does: only the cadence of extensions is measured.
func TestHoldExtends(t *testing.T) {
	s := newLeaseStore()
	const lease = 100 * time.Millisecond
	c := newConcurrency(t, core.ConcurrencyConfig{Store: s, Policy: core.NewConcurrency("jobs", 1, lease), Config: core.Config{Key: core.KeyStatic("k")}})
	ctx := context.Background()
	held, _, err := c.Acquire(ctx, nil)
	if err != nil || held == nil {
		t.Fatal(err)
	}
	start := time.Now()
	done := held.Hold(ctx, 0)
	waitFor(t, "three extensions", func() bool { return s.extend.Load() >= 3 })
	// Every 50 ms: about 150 ms; every 200 ms would take 600 ms.
	if el := time.Since(start); el > 4*lease {
		t.Fatalf("three extensions took %v, want about 1.5 leases (one every half lease)", el)
	}
	done()
	if s.releases.Load() != 1 {
		t.Fatal("done did not release the lease")
	}
	other, _, _ := c.Acquire(ctx, nil)
	if other == nil {
		t.Fatal("the slot was not free after done")
	}
	ext := s.extend.Load()
	stop := other.Hold(ctx, -1)
	time.Sleep(20 * time.Millisecond)
	stop()
	if s.extend.Load() != ext {
		t.Fatal("Hold with a negative every extended the lease")
	}
}
