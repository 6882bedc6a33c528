package storekit_test

import (
	"fmt"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// The pure algorithm: a GCRA token bucket of 1 per second with a burst of 2.
func ExampleTake() {
	p := core.NewTokenBucket("tb", 1, time.Second, 2)
	now := time.Unix(1_800_000_000, 0)
	var st storekit.State
	for _, at := range []time.Duration{0, 0, 0, 500 * time.Millisecond, time.Second} {
		var d core.Decision
		st, d = storekit.Take(p, st, 1, now.Add(at).UnixNano())
		fmt.Printf("t=%v allowed=%v remaining=%d retry=%v\n", at, d.Allowed, d.Remaining, d.RetryAfter)
	}
	// Output:
	// t=0s allowed=true remaining=1 retry=0s
	// t=0s allowed=true remaining=0 retry=0s
	// t=0s allowed=false remaining=0 retry=1s
	// t=500ms allowed=false remaining=0 retry=500ms
	// t=1s allowed=true remaining=0 retry=0s
}
