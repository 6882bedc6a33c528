package bench_test

import (
	"context"
	"net/http"
	"runtime"
	"testing"

	"github.com/go-chi/httprate"
	echomw "github.com/labstack/echo/v4/middleware"
	"github.com/sethvargo/go-limiter/memorystore"
	"github.com/throttled/throttled/v2"
	throttledmem "github.com/throttled/throttled/v2/store/memstore"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	ulule "github.com/ulule/limiter/v3"
	ululemem "github.com/ulule/limiter/v3/drivers/store/memory"
	"golang.org/x/time/rate"
)

// decider is an in-process contender: one decision for one key.
type decider struct {
	name    string
	hotOnly bool
	// build returns the decision function and a func that releases the contender.
	build func(tb testing.TB, limit int64) (allow func(key string) bool, closeFn func())
}

// perSecond converts limit per window into the float rate x/time/rate and Echo take.
func perSecond(limit int64) rate.Limit { return rate.Limit(float64(limit) / window.Seconds()) }

// tollgateDecider is Tollgate's core.Limiter on core/memstore with policy p, asked by key
// (TakeKey), so the key function is not part of the decision cost.
func tollgateDecider(name string, policy func(limit int64) core.Policy) decider {
	return decider{name: name, build: func(tb testing.TB, limit int64) (func(string) bool, func()) {
		l, err := core.NewLimiter(core.Config{Store: memstore.New(), Limits: []core.Limit{{Policy: policy(limit)}}})
		if err != nil {
			tb.Fatal(err)
		}
		ctx := context.Background()
		return func(key string) bool {
			res, err := l.TakeKey(ctx, key, 1)
			return err == nil && res.Allowed
		}, func() {}
	}}
}

// deciders are the in-process contenders, x/time/rate (the floor: one limiter, no key lookup)
// first.
var deciders = []decider{
	{name: "xrate", hotOnly: true, build: func(tb testing.TB, limit int64) (func(string) bool, func()) {
		l := rate.NewLimiter(perSecond(limit), int(limit))
		return func(string) bool { return l.Allow() }, func() {}
	}},
	tollgateDecider("tollgate-fixed", func(limit int64) core.Policy { return core.NewFixedWindow("bench", limit, window) }),
	tollgateDecider("tollgate-sliding", func(limit int64) core.Policy { return core.NewSlidingWindow("bench", limit, window) }),
	tollgateDecider("tollgate-token", func(limit int64) core.Policy {
		return core.NewTokenBucket("bench", limit, window, limit)
	}),
	{name: "sethvargo", build: func(tb testing.TB, limit int64) (func(string) bool, func()) {
		s, err := memorystore.New(&memorystore.Config{Tokens: uint64(limit), Interval: window})
		if err != nil {
			tb.Fatal(err)
		}
		ctx := context.Background()
		return func(key string) bool {
				_, _, _, ok, err := s.Take(ctx, key)
				return err == nil && ok
			}, func() {
				_ = s.Close(ctx)
			}
	}},
	{name: "ulule", build: func(tb testing.TB, limit int64) (func(string) bool, func()) {
		l := ulule.New(ululemem.NewStore(), ulule.Rate{Period: window, Limit: limit})
		ctx := context.Background()
		return func(key string) bool {
			c, err := l.Get(ctx, key)
			return err == nil && !c.Reached
		}, func() {}
	}},
	{name: "throttled", build: func(tb testing.TB, limit int64) (func(string) bool, func()) {
		// Bounded like Tollgate's store (an LRU of 1M keys).
		st, err := throttledmem.NewCtx(1 << 20)
		if err != nil {
			tb.Fatal(err)
		}
		// MaxBurst+1 requests pass at once.
		l, err := throttled.NewGCRARateLimiterCtx(st, throttled.RateQuota{
			MaxRate: throttled.PerDuration(int(limit), window), MaxBurst: int(limit) - 1,
		})
		if err != nil {
			tb.Fatal(err)
		}
		ctx := context.Background()
		return func(key string) bool {
			limited, _, err := l.RateLimitCtx(ctx, key, 1)
			return err == nil && !limited
		}, func() {}
	}},
	{name: "httprate", build: func(tb testing.TB, limit int64) (func(string) bool, func()) {
		// The local counter's decision is RateLimiter.OnLimit, which takes the response
		// writer for its headers; with no header names it writes none.
		l := httprate.NewRateLimiter(int(limit), window, httprate.WithResponseHeaders(httprate.ResponseHeaders{}))
		r, err := http.NewRequest("GET", "/", nil)
		if err != nil {
			tb.Fatal(err)
		}
		// OnLimit only reads r's context; one request serves every goroutine.
		var w nopWriter
		return func(key string) bool { return !l.OnLimit(w, r, key) }, func() {}
	}},
	{name: "echo", build: func(tb testing.TB, limit int64) (func(string) bool, func()) {
		s := echomw.NewRateLimiterMemoryStoreWithConfig(echomw.RateLimiterMemoryStoreConfig{
			Rate: perSecond(limit), Burst: int(limit), ExpiresIn: window,
		})
		return func(key string) bool {
			ok, err := s.Allow(key)
			return err == nil && ok
		}, func() {}
	}},
}

// nopWriter is a ResponseWriter that must never be written to.
type nopWriter struct{}

func (nopWriter) Header() http.Header       { panic("bench: httprate wrote a header") }
func (nopWriter) Write([]byte) (int, error) { panic("bench: httprate wrote a body") }
func (nopWriter) WriteHeader(int)           { panic("bench: httprate wrote a status") }

// decisionContenders adapts the deciders to the workload runner.
func decisionContenders() []contender {
	cs := make([]contender, len(deciders))
	for i, d := range deciders {
		cs[i] = contender{name: d.name, hotOnly: d.hotOnly, build: func(tb testing.TB, limit int64, keys []string) target {
			allow, closeFn := d.build(tb, limit)
			return target{
				newWorker: func() worker {
					return func(i int) int {
						if allow(keys[i]) {
							return allowed
						}
						return denied
					}
				},
				close: closeFn,
			}
		}}
	}
	return cs
}

// BenchmarkDecision is the in-process decision cost of every contender on every workload.
func BenchmarkDecision(b *testing.B) { runMatrix(b, decisionContenders()) }

// BenchmarkMemory inserts numKeys distinct keys into a fresh contender per iteration and
// reports the live heap it then holds per key (B/key) and the time per insert (ns/key).
func BenchmarkMemory(b *testing.B) {
	for _, d := range deciders {
		if d.hotOnly {
			continue
		}
		b.Run("lib="+d.name, func(b *testing.B) {
			var perKey float64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				before := liveHeap()
				allow, closeFn := d.build(b, allowLimit)
				b.StartTimer()
				for _, k := range keys {
					if !allow(k) {
						b.Fatalf("%s denied key %s under a limit it never reaches", d.name, k)
					}
				}
				b.StopTimer()
				perKey += float64(liveHeap()-before) / numKeys
				runtime.KeepAlive(allow)
				closeFn()
				b.StartTimer()
			}
			b.ReportMetric(perKey/float64(b.N), "B/key")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/numKeys, "ns/key")
		})
	}
}

// liveHeap returns the bytes of live heap objects after a full collection.
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
