package redisstore_test

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// TestLeases checks that Leases reads the leases held, with their exact expiries, changes
// nothing, and refuses a rate policy.
func TestLeases(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			s := newStore(t, b.client(t), false)
			ctx := context.Background()
			now := time.Now()
			p := core.NewConcurrency("jobs", 2, time.Minute)
			if ls, err := s.Leases(ctx, "k", p); err != nil || len(ls) != 0 {
				t.Fatalf("no leases yet: %v %v", ls, err)
			}
			want := storekit.Leases{}
			for i, id := range []string{"a", "b"} {
				at := now.Add(time.Duration(i) * time.Second)
				if d, err := s.Acquire(ctx, "k", p, id, at); err != nil || !d.Allowed {
					t.Fatalf("acquire %s: %+v %v", id, d, err)
				}
				want[id] = at.Add(p.Lease).UnixNano()
			}
			for range 2 {
				if ls, err := s.Leases(ctx, "k", p); err != nil || !maps.Equal(ls, want) {
					t.Fatalf("Leases: %v %v, want %v", ls, err, want)
				}
			}
			if d, err := s.Acquire(ctx, "k", p, "c", now); err != nil || d.Allowed {
				t.Fatalf("a third acquire after reading: %+v %v, want denied (reading must not free a slot)", d, err)
			}
			if _, err := s.Leases(ctx, "k", core.NewFixedWindow("jobs", 2, time.Minute)); !errors.Is(err, core.ErrInvalidPolicy) {
				t.Errorf("Leases of a fixed window: %v, want ErrInvalidPolicy", err)
			}
		})
	}
}
