package redisstore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/redisstore"
)

// The usage API on Redis: read a key's usage without spending, give some back, reset it.
func ExampleStore_ResetAt() {
	mr, err := miniredis.Run() // an in-process Redis; use your server's address
	if err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()
	store, err := redisstore.New(rdb, redisstore.Config{})
	if err != nil {
		panic(err)
	}
	now := time.Date(2030, 1, 1, 12, 0, 30, 0, time.UTC)
	lim, err := core.NewLimiter(core.Config{
		Store: store,
		Rules: []core.Rule{{Policy: core.NewFixedWindow("api", 10, time.Hour)}},
		Now:   func() time.Time { return now },
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if _, err := lim.AllowKey(ctx, "client-42", 7); err != nil {
		panic(err)
	}
	show := func(what string) {
		ds, err := lim.Usage(ctx, "client-42")
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s: remaining %d of %d\n", what, ds[0].Remaining, ds[0].Limit)
	}
	show("after spending 7")
	if _, err := lim.Grant(ctx, "client-42", "api", 2); err != nil {
		panic(err)
	}
	show("after a grant of 2")
	if err := lim.Reset(ctx, "client-42"); err != nil { // calls store.ResetAt
		panic(err)
	}
	show("after a reset")
	// Output:
	// after spending 7: remaining 3 of 10
	// after a grant of 2: remaining 5 of 10
	// after a reset: remaining 10 of 10
}
