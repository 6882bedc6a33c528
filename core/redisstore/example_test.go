package redisstore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/core/redisstore"
)

func Example() {
	mr, err := miniredis.Run() // an in-process Redis; use your server's address
	if err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{
		Addr: mr.Addr(),
		// Make go-redis honour the limiter's per-decision deadline (core.Config.Timeout);
		// without it a hanging server holds a decision for ReadTimeout.
		ContextTimeoutEnabled: true,
	})
	defer rdb.Close()

	store, err := redisstore.New(rdb, redisstore.Config{Prefix: "myapp:"})
	if err != nil {
		panic(err)
	}
	// At startup: Redis answers, loads and runs the scripts; the error names what is wrong.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := store.Verify(ctx); err != nil {
		panic(err)
	}
	lim, err := core.NewLimiter(core.Config{
		Store: store,
		Rules: []core.Rule{{Policy: core.NewFixedWindow("api", 2, time.Minute)}},
		// If Redis fails, decide locally with 2/4 (rounded up: 1) per instance.
		Failure:           core.FailFallback,
		Fallback:          memstore.New(),
		FallbackInstances: 4,
	})
	if err != nil {
		panic(err)
	}
	now := time.Date(2030, 1, 1, 12, 0, 30, 0, time.UTC)
	for i := 0; i < 3; i++ {
		res, err := lim.AllowKeyAt(ctx, "client-42", 1, now)
		if err != nil {
			panic(err)
		}
		d := res.Decisions()[0]
		fmt.Printf("allowed=%v remaining=%d retry-after=%v\n", res.Allowed, d.Remaining, d.RetryAfter)
	}
	// Output:
	// allowed=true remaining=1 retry-after=0s
	// allowed=true remaining=0 retry-after=0s
	// allowed=false remaining=0 retry-after=30s
}

// Costs known only after the response (an upstream's token usage, say): each request
// reserves an estimate when it arrives, and the limiter settles the real cost with one
// Adjust once the handler is done, in the background; none when the estimate was right.
func Example_settle() {
	mr, err := miniredis.Run() // an in-process Redis; use your server's address
	if err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()
	store, err := redisstore.New(rdb, redisstore.Config{Prefix: "myapp:"})
	if err != nil {
		panic(err)
	}
	now := time.Date(2030, 1, 1, 12, 0, 30, 0, time.UTC)
	lim, err := core.NewLimiter(core.Config{
		Store: store,
		Rules: []core.Rule{{
			Policy: core.NewFixedWindow("tokens", 1000, time.Minute),
			// The real cost: what the handler reported with core.ReportCost.
			Settle: func(_ core.Request, out core.Outcome) int64 { return out.Reported },
		}},
		Now: func() time.Time { return now },
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	show := func(res core.Result) {
		d := res.Decisions()[0]
		fmt.Printf("allowed=%v remaining=%d retry-after=%v\n", res.Allowed, d.Remaining, d.RetryAfter)
	}
	res, err := lim.AllowKey(ctx, "api-key-7", 100) // reserve an estimate of 100 tokens
	if err != nil {
		panic(err)
	}
	show(res)
	// The upstream used 1,200 tokens: 1,100 more than reserved, 200 past the limit (debt).
	lim.Settle(ctx, nil, &res, core.Outcome{Status: 200, Reported: 1200, Reports: 1})
	if err := lim.Flush(ctx); err != nil {
		panic(err)
	}
	res, err = lim.AllowKey(ctx, "api-key-7", 100)
	if err != nil {
		panic(err)
	}
	show(res) // denied until the window ends
	now = now.Add(30 * time.Second)
	res, err = lim.AllowKey(ctx, "api-key-7", 100)
	if err != nil {
		panic(err)
	}
	show(res)
	// Output:
	// allowed=true remaining=900 retry-after=0s
	// allowed=false remaining=0 retry-after=30s
	// allowed=true remaining=900 retry-after=0s
}
