// Package bench holds Tollgate's side-by-side benchmarks against the peer rate limiters
// (golang.org/x/time/rate, sethvargo/go-limiter, ulule/limiter, throttled, go-chi/httprate,
// didip/tollbooth, go-redis/redis_rate, and the limiters built into Echo and Fiber). It is
// its own module so that none of those libraries enter the root module's graph.
//
// Every contender runs the same workloads in the same `go test -bench` run:
//
//   - BenchmarkDecision: the in-process decision cost, one call per request, key given;
//   - BenchmarkMemory: the heap held after 100,000 distinct keys (B/key);
//   - BenchmarkNetHTTP, BenchmarkEcho, BenchmarkFiber, BenchmarkGin: the whole middleware on
//     a framework's handler, keyed by client IP, against the bare framework;
//   - BenchmarkRedis: Tollgate's Redis store against redis_rate and ulule's Redis store on a
//     real redis-server (TOLLGATE_REDIS_ADDR; skipped without it).
//
// The workloads (the wl= part of a name) are one hot key or 100,000 distinct keys, each
// allowed-heavy (a limit never reached: every request must be allowed) or denied-heavy (the
// limit is spent before the timer starts: every timed request must be denied), and g= is
// the number of goroutines (1, 8 or 64; 1 and 64 for denied-heavy). Each benchmark checks
// every answer, so a contender that stops limiting, errors, or denies what it should allow
// fails instead of looking fast.
//
// bench/run starts redis-server, runs the suite with -count 6, load-tests the examples with
// wrk, and writes RESULTS.md; `go test .` (without -bench) runs a quick smoke test of every
// contender. The commands report and loadtest below are the run's helpers.
package bench
