package redisstore_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/redisstore"
	"github.com/tollgate-go/tollgate/core/storetest"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

const (
	settleProcs      = 4
	settleGoroutines = 16
)

// settleWorkload is what each process of TestSettleAcrossProcesses runs for an algorithm:
// 16 goroutines × 20 requests on one key, each reserving an estimate of 10 and settling a
// real cost drawn from 0 to 20, under a limit of 5,000 per hour, all at one instant (nothing
// refills). Across 4 processes, 1,280 requests ask for about 12,800: the limit is hit.
func settleWorkload(alg string, at time.Time, seed int64) storetest.SettleWorkload {
	var p core.Policy
	switch alg {
	case "fixed-window":
		p = core.NewFixedWindow("settle-fw", 5000, time.Hour)
	case "sliding-window":
		p = core.NewSlidingWindow("settle-sw", 5000, time.Hour)
	default:
		p = core.NewTokenBucket("settle-tb", 5000, time.Hour, 5000)
	}
	return storetest.SettleWorkload{Policy: p, Key: "hot", Goroutines: settleGoroutines, Requests: 20,
		Estimate: 10, MaxCost: 20, Seed: seed, At: at}
}

// TestSettleAcrossProcesses runs the settlement workload in 4 OS processes × 16 goroutines
// against one key on redis-server, for each algorithm, and checks with storetest.CheckSettle
// that the cost settled is at most the limit plus the documented overshoot bound (64 callers
// in flight, each at most 10 over its estimate) and that the debt is honoured.
func TestSettleAcrossProcesses(t *testing.T) {
	settleAcross(t, "single", "redis-server", testenv.RedisAddr(t))
}

// TestSettleAcrossProcessesCluster is TestSettleAcrossProcesses on the Redis Cluster.
func TestSettleAcrossProcessesCluster(t *testing.T) {
	settleAcross(t, "cluster", "redis-cluster", strings.Join(testenv.RedisClusterAddrs(t), ","))
}

func settleAcross(t *testing.T, mode, store, addrs string) {
	for _, alg := range []string{"fixed-window", "sliding-window", "token-bucket"} {
		t.Run(alg, func(t *testing.T) {
			prefix := testenv.UniqueName("tg-settle") + ":"
			at := time.Now()
			outs := testenv.SpawnChildren(t, settleProcs, "settle", "TG_SETTLE_MODE="+mode, "TG_SETTLE_ADDR="+addrs,
				"TG_SETTLE_PREFIX="+prefix, "TG_SETTLE_ALG="+alg, "TG_SETTLE_AT="+strconv.FormatInt(at.UnixNano(), 10))
			var total storetest.SettleCounts
			for i, out := range outs {
				c, err := storetest.ParseSettleCounts(out)
				if err != nil {
					t.Fatalf("process %d: %v", i, err)
				}
				t.Logf("process %d: admitted %d, denied %d, settled cost %d, %d store requests", i, c.Admitted, c.Denied, c.Settled, c.StoreRequests)
				total.Add(c)
			}
			if n := total.Admitted + total.Denied; n != settleProcs*settleGoroutines*20 {
				t.Fatalf("%d requests in all, want %d", n, settleProcs*settleGoroutines*20)
			}
			s, err := redisstore.New(settleClient(mode, addrs), redisstore.Config{Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			storetest.CheckSettle(t, store, s, settleWorkload(alg, at, 0), settleProcs*settleGoroutines, total)
		})
	}
}

func settleClient(mode, addrs string) redis.UniversalClient {
	if mode == "cluster" {
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(addrs, ","),
			PoolSize: settleGoroutines, DisableIdentity: true, ContextTimeoutEnabled: true})
	}
	return redis.NewClient(&redis.Options{Addr: addrs, PoolSize: settleGoroutines, DisableIdentity: true, ContextTimeoutEnabled: true})
}

// settleChild is one process of TestSettleAcrossProcesses: it prints its SettleCounts.
func settleChild() (string, error) {
	c := settleClient(os.Getenv("TG_SETTLE_MODE"), os.Getenv("TG_SETTLE_ADDR"))
	defer c.Close()
	s, err := redisstore.New(c, redisstore.Config{Prefix: os.Getenv("TG_SETTLE_PREFIX")})
	if err != nil {
		return "", err
	}
	ns, err := strconv.ParseInt(os.Getenv("TG_SETTLE_AT"), 10, 64)
	if err != nil {
		return "", err
	}
	idx, err := strconv.ParseInt(os.Getenv("TOLLGATE_CHILD_INDEX"), 10, 64)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	counts, err := storetest.RunSettleWorkload(ctx, s, settleWorkload(os.Getenv("TG_SETTLE_ALG"), time.Unix(0, ns), idx+1))
	if err != nil {
		return "", err
	}
	return counts.String() + "\n", nil
}

// BenchmarkSettle measures a request through a limiter that settles its cost after the
// response, on redis-server: AllowKey reserves an estimate of 4, Settle reports the real
// cost, Flush waits for the settlement. When the real cost is the estimate, nothing is
// settled (one store request per request); otherwise one Adjust follows (two). The
// store-requests/op metric counts the scripts run (the settlements' goroutines make the client
// dial more connections, whose handshakes are not store requests).
//
//	source scripts/servers.sh && servers_install && servers_start &&
//	go test -run '^$' -bench Settle -benchmem ./core/redisstore/
func BenchmarkSettle(b *testing.B) {
	addr := testenv.RedisAddr(b)
	for _, alg := range []struct {
		name string
		p    core.Policy
	}{
		{"fixed-window", core.NewFixedWindow("bench-settle-fw", 1<<50, time.Hour)},
		{"sliding-window", core.NewSlidingWindow("bench-settle-sw", 1<<50, time.Hour)},
		{"token-bucket", core.NewTokenBucket("bench-settle-tb", 1<<20, time.Second, 1<<20)},
	} {
		for _, est := range []struct {
			name string
			real func(i int) int64
		}{
			{"estimate=right", func(int) int64 { return 4 }},
			{"estimate=wrong", func(i int) int64 { return 3 + 2*int64(i%2) }}, // 3 or 5: a refund or a charge
		} {
			for _, g := range []int{1, 16} {
				b.Run(fmt.Sprintf("%s/%s/goroutines=%d", alg.name, est.name, g), func(b *testing.B) {
					c := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true, ContextTimeoutEnabled: true})
					b.Cleanup(func() { _ = c.Close() })
					var n counter
					c.AddHook(&n)
					s := newStore(b, c, false)
					ctx := context.Background()
					if err := s.LoadScripts(ctx); err != nil {
						b.Fatal(err)
					}
					lim, err := core.NewLimiter(core.Config{
						Store: s,
						Rules: []core.Rule{{Policy: alg.p, Settle: func(_ core.Request, out core.Outcome) int64 { return out.Reported }}},
						// No per-decision deadline: on this 2-core machine the background
						// settlements can queue past 100 ms, and a decision the failure
						// policy made would not be a store request.
						Timeout: -1,
						Observer: core.ObserverFunc(func(_ context.Context, ev core.Event) {
							if ev.Kind != core.EventDecision {
								b.Errorf("event %v: %v", ev.Kind, ev.Err)
							}
						}),
					})
					if err != nil {
						b.Fatal(err)
					}
					var next atomic.Int64
					before := n.scripts.Load()
					b.ReportAllocs()
					b.ResetTimer()
					if g == 1 {
						for i := 0; i < b.N; i++ {
							settleOnce(b, lim, "client-0", est.real(i))
						}
					} else {
						b.SetParallelism(max(g/runtime.GOMAXPROCS(0), 1))
						b.RunParallel(func(pb *testing.PB) {
							key := fmt.Sprint("client-", next.Add(1))
							for i := 0; pb.Next(); i++ {
								settleOnce(b, lim, key, est.real(i))
							}
						})
					}
					if err := lim.Flush(ctx); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					b.ReportMetric(float64(n.scripts.Load()-before)/float64(b.N), "store-requests/op")
				})
			}
		}
	}
}

func settleOnce(b *testing.B, lim *core.Limiter, key string, real int64) {
	ctx := context.Background()
	res, err := lim.AllowKey(ctx, key, 4)
	if err != nil || !res.Allowed {
		b.Errorf("%+v, %v", res, err)
		return
	}
	lim.Settle(ctx, nil, &res, core.Outcome{Reported: real, Reports: 1})
}
