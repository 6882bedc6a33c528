package s3store_test

import (
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/s3store"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// TestLeases checks that Leases reads the leases held, with their exact expiries, from an
// instance whose cache is stale too, changes nothing, and refuses a rate policy and marker
// mode.
func TestLeases(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			ctx := ctx30(t)
			now := time.Now()
			a := newStore(t, b.client, s3store.Config{Bucket: b.bucket})
			reader := newStore(t, b.client, s3store.Config{Bucket: b.bucket})
			p := core.NewConcurrency("jobs", 2, time.Minute)
			if ls, err := reader.Leases(ctx, "k", p); err != nil || len(ls) != 0 {
				t.Fatalf("no leases yet: %v %v", ls, err)
			}
			want := storekit.Leases{}
			for i, id := range []string{"a", "b"} {
				at := now.Add(time.Duration(i) * time.Second)
				if d, err := a.Acquire(ctx, "k", p, id, at); err != nil || !d.Allowed {
					t.Fatalf("acquire %s: %+v %v", id, d, err)
				}
				want[id] = at.Add(p.Lease).UnixNano()
			}
			for range 2 {
				if ls, err := reader.Leases(ctx, "k", p); err != nil || !maps.Equal(ls, want) {
					t.Fatalf("Leases: %v %v, want %v", ls, err, want)
				}
			}
			if d, err := a.Acquire(ctx, "k", p, "c", now); err != nil || d.Allowed {
				t.Fatalf("a third acquire after reading: %+v %v, want denied (reading must not free a slot)", d, err)
			}
			if _, err := reader.Leases(ctx, "k", core.NewFixedWindow("jobs", 2, time.Minute)); !errors.Is(err, core.ErrInvalidPolicy) {
				t.Errorf("Leases of a fixed window: %v, want ErrInvalidPolicy", err)
			}
			marker := newStore(t, b.client, s3store.Config{Bucket: b.bucket, Mode: s3store.Marker})
			if _, err := marker.Leases(ctx, "k", p); !errors.Is(err, s3store.ErrMarkerMode) {
				t.Errorf("Leases in marker mode: %v, want ErrMarkerMode", err)
			}
		})
	}
}
