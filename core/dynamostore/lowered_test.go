package dynamostore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
)

// TestLoweredLimitManyExpired: a key holding more expired leases than one update may remove
// (its limit was lowered after many leases were taken) grants the next Acquire, on dynalite:
// a first update removes 32 expired leases without granting, the next reclaims the rest and
// grants. (TestLeaseEdges pins the requests; this runs them on a server.)
func TestLoweredLimitManyExpired(t *testing.T) {
	s := newStore(t, nil)
	ctx := context.Background()
	name := fmt.Sprintf("lowered-%d", time.Now().UnixNano())
	now := time.Now()
	wide := core.NewConcurrency(name, 40, time.Second)
	for i := range 40 {
		if d, err := s.Acquire(ctx, "k", wide, fmt.Sprintf("old-%d", i), now); err != nil || !d.Allowed {
			t.Fatalf("lease %d under limit 40: %+v, %v", i, d, err)
		}
	}
	later := now.Add(2 * time.Second) // every lease above has expired
	narrow := core.NewConcurrency(name, 1, time.Second)
	d, err := s.Acquire(ctx, "k", narrow, "new", later)
	if err != nil || !d.Allowed || d.Remaining != 0 {
		t.Fatalf("Acquire under limit 1 over 40 expired leases: %+v, %v; want a grant, 0 remaining", d, err)
	}
	if d, err := s.Acquire(ctx, "k", narrow, "other", later); err != nil || d.Allowed {
		t.Fatalf("a second lease under limit 1: %+v, %v; want a denial", d, err)
	}
}
