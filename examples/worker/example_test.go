package main

import (
	"context"
	"fmt"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// A concurrency limit outside HTTP: two export jobs at once, across every process that
// shares the store (here an in-process store; core/dynamostore or core/redisstore for a
// fleet). Acquire waits with backoff up to Wait.Max; Hold extends the lease while the job
// runs and releases it when the job returns or panics.
func Example() {
	slots, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{
		Store:  memstore.New(),
		Policy: core.NewConcurrency("exports", 2, 30*time.Second), // a dead worker's slot frees after 30 s
		// no request: one pool
		// no slot, no job
		Config: core.Config{Key: core.KeyStatic("exports"), Failure: core.FailClosed},
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	wait := core.Wait{Max: 100 * time.Millisecond}

	a, _, _ := slots.AcquireWait(ctx, nil, wait) // KeyStatic ignores the request: nil
	b, _, _ := slots.AcquireWait(ctx, nil, wait)
	c, res, err := slots.AcquireWait(ctx, nil, wait) // both taken: waits 100 ms, then gives up
	fmt.Println("third job gets a slot:", c != nil, res.Allowed, err)

	func() {
		defer a.Hold(ctx, 0)() // extended every 15 s while the job runs; released after
		fmt.Println("job A runs")
	}()
	func() {
		defer func() { fmt.Println("job B panicked:", recover()) }()
		defer b.Hold(ctx, 0)() // released before the panic goes on
		panic("disk full")
	}()

	c, res, err = slots.AcquireWait(ctx, nil, wait)
	fmt.Println("third job gets a slot:", c != nil, res.Allowed, err)
	_ = c.Release(ctx)
	// Output:
	// third job gets a slot: false false <nil>
	// job A runs
	// job B panicked: disk full
	// third job gets a slot: true true <nil>
}
