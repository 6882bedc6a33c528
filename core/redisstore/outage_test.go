package redisstore_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/core/reply"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// recorder is an Observer that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []core.Event
}

func (r *recorder) Observe(_ context.Context, e core.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// count returns how many events of kind k were seen, and the index of the first.
func (r *recorder) count(k core.EventKind) (n, first int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	first = -1
	for i, e := range r.events {
		if e.Kind == k {
			if first < 0 {
				first = i
			}
			n++
		}
	}
	return n, first
}

// TestOutageFallback stops a private redis-server in the middle of a run and starts it
// again. While it is down, decisions continue on the local fallback store with the limit
// scaled by core.FallbackPolicy (40 per minute over 4 instances: 10); the circuit breaker stops
// calling the dead server after 3 failures, apart from one probe per cool-down; the observer
// sees the breaker open and close; once the server is back, the store decides again.
func TestOutageFallback(t *testing.T) {
	srv := testenv.StartRedis(t)
	c := newClient(t, srv.Addr)
	var calls counter
	c.AddHook(&calls)
	s := newStore(t, c, false)
	if err := s.LoadScripts(context.Background()); err != nil {
		t.Fatal(err)
	}
	obs := &recorder{}
	const global, instances = 40, 4
	policy := core.NewFixedWindow("outage", global, time.Minute)
	lim, err := core.NewLimiter(core.Config{
		Store:             s,
		Rules:             []core.Rule{{Policy: policy}},
		Timeout:           time.Second, // generous under -race on a shared machine; a refused connection fails at once
		Failure:           core.FailFallback,
		Fallback:          memstore.New(),
		FallbackInstances: instances,
		Breaker:           core.BreakerConfig{Failures: 3, Cooldown: 2 * time.Second},
		Observer:          obs,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start, _ := policy.WindowBounds(time.Now().UnixNano())
	now := time.Unix(0, start).Add(time.Second) // the whole run fits in one window
	type tally struct{ allowed, denied, degraded, calls int64 }
	var dials int64 // connection attempts, for the log: go-redis retries dials in the background
	// run makes n decisions 10 ms apart and tallies them, with the commands they sent.
	run := func(n int) (tl tally, last core.Decision) {
		t.Helper()
		before, dialsBefore := calls.scripts.Load(), calls.dials.Load()
		for i := 0; i < n; i++ {
			res, err := lim.AllowKeyAt(ctx, "client", 1, now)
			if err != nil {
				t.Fatalf("decision at %v: %v (FailFallback must always decide)", now, err)
			}
			if res.Allowed {
				tl.allowed++
			} else {
				tl.denied++
			}
			if res.Degraded == core.DegradedFallback {
				tl.degraded++
			}
			last = res.Decisions()[0]
			now = now.Add(10 * time.Millisecond)
		}
		tl.calls = calls.scripts.Load() - before
		dials = calls.dials.Load() - dialsBefore
		return tl, last
	}

	// 1. Up: the store decides, one script call per decision.
	up, last := run(20)
	t.Logf("server up:       %+v, %d dials", up, dials)
	if up != (tally{allowed: 20, calls: 20}) || last.Remaining != global-20 {
		t.Fatalf("server up: %+v, remaining %d; want 20 allowed by the store in 20 calls, remaining %d", up, last.Remaining, global-20)
	}

	// 2. Down: 3 failing calls open the breaker; the fallback allows 40/4 = 10 in the window.
	srv.Stop()
	down, last := run(30)
	t.Logf("server down:     %+v, %d dials (fallback limit %d)", down, dials, last.Limit)
	if down != (tally{allowed: 10, denied: 20, degraded: 30, calls: 3}) || last.Limit != global/instances {
		t.Fatalf("server down: %+v, limit %d; want 10 allowed and 20 denied, all by the fallback with limit %d, and 3 calls to the dead server",
			down, last.Limit, global/instances)
	}
	if n, _ := obs.count(core.EventBreakerOpen); n != 1 {
		t.Fatalf("after the outage began: %d breaker-open events, want 1", n)
	}

	// 3. Still down after the cool-down: one probe fails, the breaker stays open.
	now = now.Add(2 * time.Second)
	probe, _ := run(10)
	t.Logf("probe, down:     %+v, %d dials", probe, dials)
	if probe.calls != 1 || probe.degraded != 10 {
		t.Fatalf("after the cool-down, server still down: %+v; want 1 probe call and every decision by the fallback", probe)
	}

	// 4. Back up: the next probe, after the cool-down, succeeds and closes the breaker.
	srv.Start()
	early, _ := run(1)
	if early.calls != 0 || early.degraded != 1 {
		t.Fatalf("server back within the cool-down: %+v; want no call yet (the breaker is open)", early)
	}
	now = now.Add(2 * time.Second)
	back, last := run(10)
	t.Logf("server back:     %+v, %d dials (calls include one EVAL: the restarted server lost its script cache)", back, dials)
	// The restarted server has no persistence: its count starts again from zero.
	if back.degraded != 0 || back.allowed != 10 || back.calls != 11 || last.Remaining != global-10 {
		t.Fatalf("server back: %+v, remaining %d; want 10 allowed by the store (11 calls: EVALSHA, EVAL, then 9), remaining %d",
			back, last.Remaining, global-10)
	}
	opens, firstOpen := obs.count(core.EventBreakerOpen)
	closes, firstClose := obs.count(core.EventBreakerClosed)
	errs, _ := obs.count(core.EventStoreError)
	t.Logf("observer: %d breaker-open, %d breaker-closed, %d store-error events", opens, closes, errs)
	if opens != 1 || closes != 1 || firstClose < firstOpen {
		t.Fatalf("observer: %d breaker-open (first #%d), %d breaker-closed (first #%d); want one of each, open first", opens, firstOpen, closes, firstClose)
	}
	if want := int(down.degraded + probe.degraded + early.degraded); errs != want {
		t.Fatalf("observer: %d store-error events, want one per degraded decision (%d)", errs, want)
	}
}

// blackhole accepts connections and never answers: a server that hangs rather than refuses.
func blackhole(t *testing.T) (addr string, closeAll func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	closeAll = func() {
		_ = l.Close()
		wg.Wait()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		conns = nil
		mu.Unlock()
	}
	t.Cleanup(closeAll)
	return l.Addr().String(), closeAll
}

// TestOutageFailOpenClosed points limiters at a server that never answers: every decision
// ends within the limiter's time budget, FailOpen allows, FailClosed refuses with
// ErrStoreUnavailable (503), the breaker then answers without waiting, and nothing leaks.
func TestOutageFailOpenClosed(t *testing.T) {
	baseline := runtime.NumGoroutine()
	addr, closeHole := blackhole(t)
	c := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true, ContextTimeoutEnabled: true})
	defer c.Close()
	s := newStore(t, c, false)
	const budget = 50 * time.Millisecond
	const slack = 450 * time.Millisecond // scheduling on a shared machine under -race
	ctx := context.Background()
	policy := core.NewFixedWindow("hang", 10, time.Minute)
	for _, f := range []core.FailurePolicy{core.FailOpen, core.FailClosed} {
		t.Run(f.String(), func(t *testing.T) {
			for _, breaker := range []int{-1, 2} {
				lim, err := core.NewLimiter(core.Config{
					Store: s, Rules: []core.Rule{{Policy: policy}}, Timeout: budget, Failure: f,
					Breaker: core.BreakerConfig{Failures: breaker, Cooldown: time.Hour},
				})
				if err != nil {
					t.Fatal(err)
				}
				var slowest, fastAfterBreaker time.Duration
				for i := 0; i < 6; i++ {
					t0 := time.Now()
					res, err := lim.AllowKey(ctx, "k", 1)
					took := time.Since(t0)
					slowest = max(slowest, took)
					if breaker > 0 && i >= breaker {
						fastAfterBreaker = max(fastAfterBreaker, took)
					}
					switch f {
					case core.FailOpen:
						if err != nil || !res.Allowed || res.Degraded != core.DegradedOpen {
							t.Fatalf("fail-open decision %d: %+v, %v; want allowed, degraded open", i, res, err)
						}
					case core.FailClosed:
						if !errors.Is(err, core.ErrStoreUnavailable) || res.Allowed || reply.Status(err, 0) != http.StatusServiceUnavailable {
							t.Fatalf("fail-closed decision %d: %+v, %v; want refused with ErrStoreUnavailable (503)", i, res, err)
						}
					}
					if took > budget+slack {
						t.Fatalf("decision %d took %v; the budget is %v", i, took, budget)
					}
				}
				if breaker < 0 {
					t.Logf("breaker off: 6 decisions, slowest %v (budget %v)", slowest, budget)
					if slowest < budget {
						t.Fatalf("slowest decision %v < budget %v: the server was not hanging", slowest, budget)
					}
				} else {
					t.Logf("breaker after %d failures: slowest %v, slowest once open %v", breaker, slowest, fastAfterBreaker)
					if fastAfterBreaker >= budget {
						t.Fatalf("with the breaker open a decision took %v; it must not wait for the store", fastAfterBreaker)
					}
				}
			}
		})
	}
	_ = c.Close()
	closeHole()
	// Poll (goleak's approach): connection goroutines end shortly after their sockets close.
	deadline := time.Now().Add(5 * time.Second)
	n := runtime.NumGoroutine()
	for n > baseline && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	t.Logf("goroutines: %d before, %d after", baseline, n)
	if n > baseline {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before, %d after closing the client:\n%s", baseline, n, buf[:runtime.Stack(buf, true)])
	}
}
