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
	// build returns the decision function (allowed, denied or failed) and a func that
	// releases the contender.
	build func(tb testing.TB, limit int64) (decide func(key string) int, closeFn func())
}

// answerOf maps a contender's (allowed, error) to an answer: an error is a failure, never a
// denial, so a contender that errors cannot pass for one that limits.
func answerOf(ok bool, err error) int {
	switch {
	case err != nil:
		return failed
	case ok:
		return allowed
	}
	return denied
}

// perSecond converts limit per window into the float rate x/time/rate and Echo take.
func perSecond(limit int64) rate.Limit { return rate.Limit(float64(limit) / window.Seconds()) }

// tollgateDecider is Tollgate's core.Limiter on core/memstore with policy p, asked by key
// (AllowKey), so the key function is not part of the decision cost.
func tollgateDecider(name string, policy func(limit int64) core.Policy) decider {
	return decider{name: name, build: func(tb testing.TB, limit int64) (func(string) int, func()) {
		l, err := core.NewLimiter(core.Config{Store: memstore.New(), Rules: []core.Rule{{Policy: policy(limit)}}})
		if err != nil {
			tb.Fatal(err)
		}
		ctx := context.Background()
		return func(key string) int {
			res, err := l.AllowKey(ctx, key, 1)
			return answerOf(res.Allowed, err)
		}, func() {}
	}}
}

// deciders are the in-process contenders, x/time/rate (the floor: one limiter, no key lookup)
// first.
var deciders = []decider{
	{name: "xrate", hotOnly: true, build: func(tb testing.TB, limit int64) (func(string) int, func()) {
		l := rate.NewLimiter(perSecond(limit), int(limit))
		return func(string) int { return answerOf(l.Allow(), nil) }, func() {}
	}},
	tollgateDecider("tollgate-fixed", func(limit int64) core.Policy { return core.NewFixedWindow("bench", limit, window) }),
	tollgateDecider("tollgate-sliding", func(limit int64) core.Policy { return core.NewSlidingWindow("bench", limit, window) }),
	tollgateDecider("tollgate-token", func(limit int64) core.Policy {
		return core.NewTokenBucket("bench", limit, window, limit)
	}),
	{name: "sethvargo", build: func(tb testing.TB, limit int64) (func(string) int, func()) {
		s, err := memorystore.New(&memorystore.Config{Tokens: uint64(limit), Interval: window})
		if err != nil {
			tb.Fatal(err)
		}
		ctx := context.Background()
		return func(key string) int {
				_, _, _, ok, err := s.Take(ctx, key)
				return answerOf(ok, err)
			}, func() {
				_ = s.Close(ctx)
			}
	}},
	{name: "ulule", build: func(tb testing.TB, limit int64) (func(string) int, func()) {
		l := ulule.New(ululemem.NewStore(), ulule.Rate{Period: window, Limit: limit})
		ctx := context.Background()
		return func(key string) int {
			c, err := l.Get(ctx, key)
			return answerOf(!c.Reached, err)
		}, func() {}
	}},
	{name: "throttled", build: func(tb testing.TB, limit int64) (func(string) int, func()) {
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
		// Its memstore updates a key by compare-and-swap and gives up after 10 attempts by
		// default: on a hot key with 8 or 64 goroutines some requests then fail with
		// "Failed to store updated rate limit data". A user under contention raises the
		// bound, so the benchmark does.
		l.SetMaxCASAttemptsLimit(1 << 20)
		ctx := context.Background()
		return func(key string) int {
			limited, _, err := l.RateLimitCtx(ctx, key, 1)
			return answerOf(!limited, err)
		}, func() {}
	}},
	{name: "httprate", build: func(tb testing.TB, limit int64) (func(string) int, func()) {
		// The local counter's decision is RateLimiter.OnLimit, which takes the response
		// writer for its headers; with no header names it writes none.
		l := httprate.NewRateLimiter(int(limit), window, httprate.WithResponseHeaders(httprate.ResponseHeaders{}))
		r, err := http.NewRequest("GET", "/", nil)
		if err != nil {
			tb.Fatal(err)
		}
		// OnLimit only reads r's context; one request serves every goroutine.
		var w nopWriter
		return func(key string) int { return answerOf(!l.OnLimit(w, r, key), nil) }, func() {}
	}},
	{name: "echo", build: func(tb testing.TB, limit int64) (func(string) int, func()) {
		s := echomw.NewRateLimiterMemoryStoreWithConfig(echomw.RateLimiterMemoryStoreConfig{
			Rate: perSecond(limit), Burst: int(limit), ExpiresIn: window,
		})
		return func(key string) int {
			ok, err := s.Allow(key)
			return answerOf(ok, err)
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
			decide, closeFn := d.build(tb, limit)
			return target{
				newWorker: func() worker {
					return func(i int) int { return decide(keys[i]) }
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
				decide, closeFn := d.build(b, allowLimit)
				b.StartTimer()
				for _, k := range keys {
					if a := decide(k); a != allowed {
						b.Fatalf("%s answered %s for key %s under a limit it never reaches", d.name, answerName[a], k)
					}
				}
				b.StopTimer()
				perKey += float64(liveHeap()-before) / numKeys
				runtime.KeepAlive(decide)
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
