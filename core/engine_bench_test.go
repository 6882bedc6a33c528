package core_test

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// remoteStore hides memstore's InProcess method, so that decisions go through the per-call
// time budget as they do on a networked store.
type remoteStore struct{ s *memstore.Store }

func (r remoteStore) Take(ctx context.Context, key string, p core.Policy, cost int64, now time.Time) (core.Decision, error) {
	return r.s.Take(ctx, key, p, cost, now)
}

// BenchmarkEngine measures the store-call path both limiter kinds share: a rate decision on
// an in-process store, one through the time budget (a store that is not in-process), and a
// concurrency acquire and release.
//
//	go test -run '^$' -bench Engine -benchmem ./core/
func BenchmarkEngine(b *testing.B) {
	ctx := context.Background()
	rule := []core.Rule{{Policy: core.NewFixedWindow("fw", 1<<50, time.Hour)}}
	for _, c := range []struct {
		name  string
		store core.Store
	}{
		{"rate-inprocess", memstore.New()},
		{"rate-budget", remoteStore{memstore.New()}},
	} {
		b.Run(c.name, func(b *testing.B) {
			l, err := core.NewLimiter(core.Config{Store: c.store, Rules: rule})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if res, err := l.AllowKey(ctx, "k", 1); err != nil || !res.Allowed {
					b.Fatal(res, err)
				}
			}
		})
	}
	b.Run("acquire-release", func(b *testing.B) {
		c, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{Store: memstore.New(), Policy: core.NewConcurrency("c", 1<<20, time.Minute)})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			lease, res, err := c.AcquireKey(ctx, "k")
			if err != nil || !res.Allowed {
				b.Fatal(res, err)
			}
			if err := lease.Release(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
