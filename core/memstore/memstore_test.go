package memstore_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/core/storetest"
)

func TestConformance(t *testing.T) {
	s := memstore.New()
	storetest.Run(t, s, storetest.Options{})
	storetest.RunConcurrency(t, s, storetest.Options{})
}

func TestMaxKeysEvicts(t *testing.T) {
	s, err := memstore.NewWithConfig(memstore.Config{MaxKeys: 64, Shards: 4})
	if err != nil {
		t.Fatal(err)
	}
	p := core.NewFixedWindow("flood", 1, time.Hour)
	now := time.Now()
	for i := 0; i < 10000; i++ {
		if d, err := s.Take(context.Background(), fmt.Sprint("attacker-", i), p, 1, now); err != nil || !d.Allowed {
			t.Fatalf("take %d: %+v, %v", i, d, err)
		}
	}
	if n := s.Len(); n > 64 {
		t.Fatalf("after 10,000 distinct keys the store holds %d entries; MaxKeys is 64", n)
	}
}

func TestSweepDropsExpired(t *testing.T) {
	s := memstore.New()
	p := core.NewFixedWindow("sweep", 5, time.Second)
	now := time.Now()
	for i := 0; i < 100; i++ {
		_, _ = s.Take(context.Background(), fmt.Sprint(i), p, 1, now)
	}
	if s.Len() != 100 {
		t.Fatalf("Len = %d, want 100", s.Len())
	}
	s.Sweep(now.Add(2 * time.Second))
	if s.Len() != 0 {
		t.Fatalf("after Sweep past every window, Len = %d, want 0", s.Len())
	}
}

func TestNewWithConfigRejectsNegative(t *testing.T) {
	if _, err := memstore.NewWithConfig(memstore.Config{MaxKeys: -1}); err == nil {
		t.Fatal("MaxKeys -1 accepted")
	}
}

func BenchmarkTake(b *testing.B) {
	s := memstore.New()
	for _, p := range []core.Policy{
		core.NewFixedWindow("fw", 1<<40, time.Hour),
		core.NewSlidingWindow("sw", 1<<40, time.Hour),
		core.NewTokenBucket("tb", 1<<20, time.Second, 1<<20),
	} {
		b.Run(p.Algorithm.String(), func(b *testing.B) {
			ctx := context.Background()
			now := time.Now()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Take(ctx, "203.0.113.7", p, 1, now); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// TestSkew runs the clock-skew suite on two instances sharing one memstore (as two
// goroutines' limiters in one process would with different clocks).
func TestSkew(t *testing.T) {
	s := memstore.New()
	storetest.RunSkew(t, s, s, storetest.SkewOptions{Store: "memstore"})
}

// BenchmarkFlood measures a decision on a new key when the store is full, so every decision
// evicts: the cost an attacker's key flood imposes.
func BenchmarkFlood(b *testing.B) {
	s, err := memstore.NewWithConfig(memstore.Config{MaxKeys: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	p := core.NewFixedWindow("flood", 1, time.Hour)
	ctx := context.Background()
	now := time.Now()
	keys := make([]string, 1<<20)
	for i := range keys {
		keys[i] = "flood-" + strconv.Itoa(i)
	}
	for i := 0; i < 1<<16; i++ {
		_, _ = s.Take(ctx, keys[i], p, 1, now)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Take(ctx, keys[i&(1<<20-1)], p, 1, now); err != nil {
			b.Fatal(err)
		}
	}
}

func TestAdjust(t *testing.T) {
	storetest.RunAdjust(t, memstore.New(), storetest.Options{})
}

// TestSettleManyCallers is the settlement workload in one process (the network stores run it
// across four processes): 16 goroutines on one key, random real costs settled after the fact.
func TestSettleManyCallers(t *testing.T) {
	s := memstore.New()
	for _, p := range []core.Policy{
		core.NewFixedWindow("settle-fw", 2000, time.Hour),
		core.NewSlidingWindow("settle-sw", 2000, time.Hour),
		core.NewTokenBucket("settle-tb", 1, time.Hour, 2000),
	} {
		w := storetest.SettleWorkload{Policy: p, Key: "k", Goroutines: 16, Requests: 40, Estimate: 10, MaxCost: 20, Seed: 1,
			At: time.Now().Truncate(time.Hour).Add(time.Minute)}
		c, err := storetest.RunSettleWorkload(context.Background(), s, w)
		if err != nil {
			t.Fatal(err)
		}
		storetest.CheckSettle(t, "memstore", s, w, w.Goroutines, c)
	}
}

func TestUsage(t *testing.T) {
	storetest.RunUsage(t, memstore.New(), storetest.Options{})
}

// TestReservationsWorkload runs the multi-process reservations workload in one process on
// memstore (the network stores run it across four processes).
func TestReservationsWorkload(t *testing.T) {
	s := memstore.New()
	for _, p := range []core.Policy{
		core.NewFixedWindow("res-fw", 3000, time.Second),
		core.NewSlidingWindow("res-sw", 3000, time.Second),
		core.NewTokenBucket("res-tb", 3000, time.Second, 3000),
	} {
		w := storetest.ReserveWorkload{Policy: p, Key: "hot", Goroutines: 8, Duration: 1500 * time.Millisecond,
			Start: time.Now().Truncate(time.Hour).Add(time.Minute), Reserve: core.Reservations{MaxBatch: 100}}
		var calls int64
		counting := countingStore{Store: s, n: &calls}
		c, err := storetest.RunReserveWorkload(context.Background(), counting, func() int64 { return atomic.LoadInt64(&calls) }, w)
		if err != nil {
			t.Fatal(err)
		}
		slack := int64(0)
		if p.Algorithm == core.SlidingWindow {
			slack = p.Limit // the first window's allowance is only partly reachable while the previous decays
		}
		storetest.CheckReserve(t, "memstore", w, 1, c, slack)
	}
}

// countingStore counts Take and Adjust calls (memstore has no network requests to count).
type countingStore struct {
	*memstore.Store
	n *int64
}

func (c countingStore) Take(ctx context.Context, key string, p core.Policy, cost int64, now time.Time) (core.Decision, error) {
	atomic.AddInt64(c.n, 1)
	return c.Store.Take(ctx, key, p, cost, now)
}

func (c countingStore) Adjust(ctx context.Context, key string, p core.Policy, delta int64, now time.Time) (core.Decision, error) {
	atomic.AddInt64(c.n, 1)
	return c.Store.Adjust(ctx, key, p, delta, now)
}
