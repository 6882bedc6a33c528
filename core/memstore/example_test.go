package memstore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// The in-memory store as a limiter's store: the embedded default for one process, and the
// fallback a shared store's limiter uses when that store fails.
func ExampleNew() {
	l, err := core.NewLimiter(core.Config{
		Store: memstore.New(),
		Rules: []core.Rule{{Policy: core.NewTokenBucket("api", 2, time.Second, 0)}},
	})
	if err != nil {
		panic(err)
	}
	at := time.Unix(1_800_000_000, 0)
	for i := 0; i < 3; i++ {
		res, _ := l.AllowKeyAt(context.Background(), "tenant-42", 1, at)
		d := res.Decisions()[0]
		fmt.Println(res.Allowed, d.Remaining, d.RetryAfter)
	}
	// Output:
	// true 1 0s
	// true 0 0s
	// false 0 500ms
}

// A store bounded to 100,000 entries: a flood of one-off keys evicts one-off keys, never a
// held lease, and keys in active use keep their state.
func ExampleNewWithConfig() {
	s, err := memstore.NewWithConfig(memstore.Config{MaxKeys: 100_000})
	if err != nil {
		panic(err)
	}
	p := core.NewFixedWindow("login", 5, time.Minute)
	d, _ := s.Take(context.Background(), "user@example.com", p, 1, time.Unix(1_800_000_000, 0))
	fmt.Println(d.Allowed, d.Remaining, s.Len())
	// Output: true 4 1
}
