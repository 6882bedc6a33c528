package redisstore_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// BenchmarkTake measures decisions against redis-server (TOLLGATE_REDIS_ADDR), one key per
// goroutine, with 1 and 16 goroutines sharing one client. Concurrency is one Acquire and one
// Release (two round trips) per operation.
//
//	source scripts/servers.sh && servers_install && servers_start &&
//	go test -run '^$' -bench . -benchmem ./core/redisstore/
func BenchmarkTake(b *testing.B) {
	addr := testenv.RedisAddr(b)
	c := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true, ContextTimeoutEnabled: true})
	b.Cleanup(func() { _ = c.Close() })
	s := newStore(b, c, false)
	if err := s.LoadScripts(context.Background()); err != nil {
		b.Fatal(err)
	}
	type op func(ctx context.Context, key string, i int) error
	take := func(p core.Policy) op {
		return func(ctx context.Context, key string, _ int) error {
			_, err := s.Take(ctx, key, p, 1, time.Now())
			return err
		}
	}
	sem := core.NewConcurrency("bench-sem", 1<<40, time.Minute)
	for _, bc := range []struct {
		name string
		op   op
	}{
		{"fixed-window", take(core.NewFixedWindow("bench-fw", 1<<50, time.Hour))},
		{"sliding-window", take(core.NewSlidingWindow("bench-sw", 1<<50, time.Hour))},
		{"token-bucket", take(core.NewTokenBucket("bench-tb", 1<<20, time.Second, 1<<20))},
		{"concurrency", func(ctx context.Context, key string, i int) error {
			id := fmt.Sprint(i)
			if _, err := s.Acquire(ctx, key, sem, id, time.Now()); err != nil {
				return err
			}
			return s.Release(ctx, key, sem, id, time.Now())
		}},
	} {
		b.Run(bc.name+"/goroutines=1", func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := bc.op(ctx, "client-0", i); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
		b.Run(bc.name+"/goroutines=16", func(b *testing.B) {
			b.SetParallelism(max(16/runtime.GOMAXPROCS(0), 1))
			var next atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				key := fmt.Sprint("client-", next.Add(1))
				for i := 0; pb.Next(); i++ {
					if err := bc.op(ctx, key, i); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}
