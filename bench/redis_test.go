package bench_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/redisstore"
	ulule "github.com/ulule/limiter/v3"
	ululeredis "github.com/ulule/limiter/v3/drivers/store/redis"
)

// redisClient connects to TOLLGATE_REDIS_ADDR. Without it the caller is skipped, or fails
// when TOLLGATE_REQUIRE_SERVERS is set (the test command and bench/run start redis-server).
func redisClient(tb testing.TB) *redis.Client {
	tb.Helper()
	addr := os.Getenv("TOLLGATE_REDIS_ADDR")
	if addr == "" {
		if os.Getenv("TOLLGATE_REQUIRE_SERVERS") != "" {
			tb.Fatal("TOLLGATE_REDIS_ADDR is not set but TOLLGATE_REQUIRE_SERVERS is")
		}
		tb.Skip("TOLLGATE_REDIS_ADDR is not set: start redis-server and export it (bench/run does) to benchmark the Redis stores")
	}
	// ContextTimeoutEnabled: redisstore.New refuses a client that would not honour a
	// decision's deadline; the peers get the same client.
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	if err := c.Ping(context.Background()).Err(); err != nil {
		tb.Fatalf("redis at %s: %v", addr, err)
	}
	return c
}

// runID makes the keys of each built contender unique, so runs never see each other's state.
func runID(tb testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// redisDecider is a contender on Redis; its decision function may fail (a failed answer).
type redisDecider struct {
	name  string
	build func(tb testing.TB, c *redis.Client, prefix string, limit int64) func(key string) int
}

// tollgateRedis is Tollgate's redisstore behind core.Limiter. timeout is the limiter's
// per-decision budget: 0 is the default (100 ms, a context.WithTimeout per decision); -1 passes
// no deadline and leaves the bound to go-redis's own socket timeouts, as redis_rate and ulule
// do.
func tollgateRedis(name string, denialCache int, gcra bool, timeout time.Duration) redisDecider {
	return redisDecider{name: name, build: func(tb testing.TB, c *redis.Client, prefix string, limit int64) func(string) int {
		s, err := redisstore.New(c, redisstore.Config{Prefix: "bench:" + prefix + ":"})
		if err != nil {
			tb.Fatal(err)
		}
		if err := s.LoadScripts(context.Background()); err != nil {
			tb.Fatal(err)
		}
		l, err := core.NewLimiter(core.Config{
			Store:           s,
			Rules:           []core.Rule{{Policy: policy(limit, gcra)}},
			Failure:         core.FailClosed, // a store error must show, not be allowed
			DenialCacheSize: denialCache,
			Timeout:         timeout,
		})
		if err != nil {
			tb.Fatal(err)
		}
		ctx := context.Background()
		return func(key string) int {
			res, err := l.AllowKey(ctx, key, 1)
			switch {
			case err != nil:
				return failed
			case res.Allowed:
				return allowed
			}
			return denied
		}
	}}
}

// policy is the Tollgate policy of a Redis contender: a fixed window like ulule's, or a GCRA
// token bucket with redis_rate's rate and burst (limit per window, burst limit).
func policy(limit int64, gcra bool) core.Policy {
	if gcra {
		return core.NewTokenBucket("bench", limit, window, limit)
	}
	return core.NewFixedWindow("bench", limit, window)
}

// redisDeciders are the Redis contenders: Tollgate's redisstore behind core.Limiter (fixed
// window with its default denial cache, and without it to show the store alone; GCRA without
// it, the same algorithm as redis_rate, with the default time budget and with none),
// go-redis/redis_rate (GCRA) and ulule's Redis store (fixed window).
var redisDeciders = []redisDecider{
	tollgateRedis("tollgate", 0, false, 0),
	tollgateRedis("tollgate-nocache", -1, false, 0),
	tollgateRedis("tollgate-gcra-nocache", -1, true, 0),
	tollgateRedis("tollgate-gcra-nocache-nobudget", -1, true, -1),
	{name: "redis_rate", build: func(tb testing.TB, c *redis.Client, prefix string, limit int64) func(string) int {
		l := redis_rate.NewLimiter(c)
		lim := redis_rate.Limit{Rate: int(limit), Burst: int(limit), Period: window}
		ctx := context.Background()
		prefix = "bench:" + prefix + ":"
		return func(key string) int {
			res, err := l.Allow(ctx, prefix+key, lim)
			switch {
			case err != nil:
				return failed
			case res.Allowed > 0:
				return allowed
			}
			return denied
		}
	}},
	{name: "ulule", build: func(tb testing.TB, c *redis.Client, prefix string, limit int64) func(string) int {
		s, err := ululeredis.NewStoreWithOptions(c, ulule.StoreOptions{Prefix: "bench:" + prefix})
		if err != nil {
			tb.Fatal(err)
		}
		l := ulule.New(s, ulule.Rate{Period: window, Limit: limit})
		ctx := context.Background()
		return func(key string) int {
			res, err := l.Get(ctx, key)
			switch {
			case err != nil:
				return failed
			case res.Reached:
				return denied
			}
			return allowed
		}
	}},
}

func redisContenders() []contender {
	cs := make([]contender, len(redisDeciders))
	for i, d := range redisDeciders {
		cs[i] = contender{name: d.name, build: func(tb testing.TB, limit int64, keys []string) target {
			c := redisClient(tb)
			id := runID(tb)
			decide := d.build(tb, c, id, limit)
			return target{
				newWorker: func() worker { return func(i int) int { return decide(keys[i]) } },
				close: func() {
					// The keys live for the 1000-hour window: drop them, or six runs of
					// the distinct-key workloads would leave millions behind.
					unlinkMatching(c, "*bench:"+id+"*")
					_ = c.Close()
				},
			}
		}}
	}
	return cs
}

// unlinkMatching deletes the keys matching pattern, in batches.
func unlinkMatching(c *redis.Client, pattern string) {
	ctx := context.Background()
	var cursor uint64
	for {
		ks, next, err := c.Scan(ctx, cursor, pattern, 1000).Result()
		if err != nil {
			return
		}
		if len(ks) > 0 {
			c.Unlink(ctx, ks...)
		}
		if cursor = next; cursor == 0 {
			return
		}
	}
}

// BenchmarkRedis is each Redis-backed limiter against the real redis-server at
// TOLLGATE_REDIS_ADDR: one round trip per decision, except where Tollgate's denial cache
// answers a key it knows is denied.
func BenchmarkRedis(b *testing.B) {
	redisClient(b).Close()
	runMatrix(b, redisContenders())
}
