package s3store_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/s3store"
)

// BenchmarkTake measures decisions per second that spend (the write path: one PUT each once
// the key is known), at 1 and 8 goroutines, on one hot key and on 256 keys, in both modes.
// The versitygw tier skips only when TOLLGATE_S3_ENDPOINT is unset (plain go test); run it
// with the servers:
//
//	source scripts/servers.sh && servers_install && servers_start &&
//	go test -run '^$' -bench 'BenchmarkTake/versitygw' -benchmem ./core/s3store/
func BenchmarkTake(b *testing.B) {
	for _, tier := range []struct {
		name string
		mk   func(testing.TB) backendS3
	}{{"gofakes3", fakeS3}, {"versitygw", versity}} {
		b.Run(tier.name, func(b *testing.B) {
			be := tier.mk(b)
			for _, mode := range []s3store.Mode{s3store.CompareAndSwap, s3store.Marker} {
				for _, g := range []int{1, 8} {
					for _, keys := range []int{1, 256} {
						name := fmt.Sprintf("%s/goroutines=%d/keys=%d", mode, g, keys)
						b.Run(name, func(b *testing.B) { benchTake(b, be, mode, g, keys) })
					}
				}
			}
		})
	}
}

func benchTake(b *testing.B, be backendS3, mode s3store.Mode, goroutines, keys int) {
	s := newStore(b, be.client, s3store.Config{Bucket: be.bucket, Mode: mode})
	p := core.NewFixedWindow(uniq("bench"), 1<<40, time.Hour)
	now := time.Now()
	names := make([]string, keys)
	ctx := context.Background()
	for i := range names {
		names[i] = fmt.Sprintf("key-%d", i)
		if _, err := s.Take(ctx, names[i], p, 1, now); err != nil { // warm the cache
			b.Fatal(err)
		}
	}
	var n atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := n.Add(1)
				if i > int64(b.N) {
					return
				}
				d, err := s.Take(ctx, names[int(i)%keys], p, 1, now)
				if err != nil || !d.Allowed {
					failed.CompareAndSwap(nil, fmt.Sprintf("Take: %+v, %v", d, err))
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if f := failed.Load(); f != nil {
		b.Fatal(f)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "decisions/s")
}
