package s3store_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/s3store"
	"github.com/tollgate-go/tollgate/core/storetest"
)

// ResetAt makes a fleet a storekit.Resetter: each reset goes to the next instance in turn, so
// reads and grants come from instances whose caches the reset made stale.
func (f fleet) ResetAt(ctx context.Context, key string, p core.Policy, now time.Time) error {
	return f.pick().ResetAt(ctx, key, p, now)
}

// TestUsageConformance runs core/storetest's usage section (read without spending, grant,
// reset, a key in debt, leases freed by a reset) in compare-and-swap mode on gofakes3 and
// versitygw, on one store and on a fleet of four sharing the bucket.
func TestUsageConformance(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			t.Run("OneStore", func(t *testing.T) {
				storetest.RunUsage(t, newStore(t, b.client, s3store.Config{Bucket: b.bucket}), storetest.Options{})
			})
			t.Run("FleetOfFour", func(t *testing.T) {
				storetest.RunUsage(t, newFleet(t, b, 4, s3store.Config{Bucket: b.bucket, Prefix: "usage-fleet/"}), storetest.Options{})
			})
		})
	}
}

// deletes counts DeleteObject calls on top of the request counts of counting.
type deletes struct {
	*counting
	n atomic.Int64
}

func (d *deletes) DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, o ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	d.n.Add(1)
	return d.counting.DeleteObject(ctx, in, o...)
}

// TestResetCAS checks a compare-and-swap reset seen from another instance whose cache holds
// the state from before it, on the path that writes (a take) and the path that does not (a
// denial confirmed by a conditional GET), the requests a reset costs, and a lease holder's
// extend after a reset took its lease.
func TestResetCAS(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			api := &deletes{counting: &counting{API: b.client}}
			ctx := ctx30(t)
			now := time.Now()
			a := newStore(t, b.client, s3store.Config{Bucket: b.bucket})
			ops := newStore(t, api, s3store.Config{Bucket: b.bucket})
			p := core.NewFixedWindow("cas-reset", 3, time.Hour)
			take := func(s *s3store.Store, what string, allowed bool, remaining int64) {
				t.Helper()
				d, err := s.Take(ctx, "k", p, 1, now)
				if err != nil || d.Allowed != allowed || d.Remaining != remaining {
					t.Fatalf("%s: %+v %v, want allowed=%v remaining=%d", what, d, err, allowed, remaining)
				}
			}
			for i := range 3 {
				take(a, fmt.Sprintf("take %d", i+1), true, int64(2-i))
			}
			take(a, "take 4", false, 0) // a's cache now holds the full window
			if err := ops.ResetAt(ctx, "k", p, now); err != nil {
				t.Fatal(err)
			}
			if got := api.String(); got != "1 GET, 1 PUT, 0 HEAD" || api.n.Load() != 0 {
				t.Errorf("a reset by an instance that never saw the key: %s and %d DELETE, want 1 GET, 1 PUT, 0 HEAD and no DELETE", got, api.n.Load())
			}
			take(a, "after the reset, by an instance that cached the full window", true, 2)
			// Now the denial path: fill the window, reset elsewhere, and deny nothing.
			take(a, "refill 2", true, 1)
			take(a, "refill 3", true, 0)
			take(a, "refill 4", false, 0)
			if err := ops.ResetAt(ctx, "k", p, now); err != nil {
				t.Fatal(err)
			}
			if d, err := a.Take(ctx, "k", p, 0, now); err != nil || d.Remaining != 3 {
				t.Fatalf("a cost-0 read after the second reset: %+v %v, want the whole allowance", d, err)
			}
			before := api.total()
			if err := ops.ResetAt(ctx, "k", p, now); err != nil {
				t.Fatal(err)
			}
			if got := api.total() - before; got != 1 {
				t.Errorf("a reset of a key with nothing stored (state cached) sent %d requests, want 1 (a conditional GET, no write)", got)
			}
			// Leases: the holder's cache still has its lease; the reset took it.
			sem := core.NewConcurrency("cas-reset-sem", 1, time.Hour)
			if d, err := a.Acquire(ctx, "k", sem, "held", now); err != nil || !d.Allowed {
				t.Fatalf("acquire: %+v %v", d, err)
			}
			if err := ops.ResetAt(ctx, "k", sem, now); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Extend(ctx, "k", sem, "held", now); !errors.Is(err, core.ErrLeaseNotFound) {
				t.Errorf("extend of a lease the reset dropped: %v, want ErrLeaseNotFound", err)
			}
			if d, err := a.Acquire(ctx, "k", sem, "next", now); err != nil || !d.Allowed {
				t.Errorf("acquire after the reset: %+v %v, want the slot", d, err)
			}
		})
	}
}

// TestResetMarker checks a marker-mode reset: the current window's slots are deleted (one
// DELETE per admitted request), the window admits its whole limit again and no more (a Store
// that cached the full window before the reset goes on denying), another key keeps its
// count, and a policy marker mode cannot hold is refused.
func TestResetMarker(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			api := &deletes{counting: &counting{API: b.client}}
			ctx := ctx30(t)
			now := time.Now()
			cfg := s3store.Config{Bucket: b.bucket, Mode: s3store.Marker}
			s := newStore(t, api, cfg)
			p := core.NewFixedWindow("marker-reset", 20, time.Hour)
			takes := func(s *s3store.Store, key string, n int) (allowed int) {
				t.Helper()
				for range n {
					d, err := s.Take(ctx, key, p, 1, now)
					if err != nil {
						t.Fatal(err)
					}
					if d.Allowed {
						allowed++
					}
				}
				return allowed
			}
			if got := takes(s, "k", 25); got != 20 {
				t.Fatalf("first window: %d allowed, want 20", got)
			}
			if got := takes(s, "other", 7); got != 7 {
				t.Fatalf("other key: %d allowed, want 7", got)
			}
			// Another Store that saw the window full: the reset does not reach its cache.
			cached := newStore(t, b.client, cfg)
			if d, err := cached.Take(ctx, "k", p, 0, now); err != nil || d.Remaining != 0 {
				t.Fatalf("the other Store's read of the full window: %+v %v", d, err)
			}
			if err := s.ResetAt(ctx, "k", p, now); err != nil {
				t.Fatal(err)
			}
			if got := api.n.Load(); got != 20 {
				t.Errorf("the reset deleted %d slots, want the 20 the window admitted", got)
			}
			// A second instance with no cache sees the reset too.
			fresh := newStore(t, b.client, cfg)
			if d, err := fresh.Take(ctx, "k", p, 0, now); err != nil || d.Remaining != 20 {
				t.Fatalf("read by another instance after the reset: %+v %v, want remaining 20", d, err)
			}
			if got := takes(s, "k", 25); got != 20 {
				t.Fatalf("after the reset: %d allowed, want 20 again, no more", got)
			}
			if got := takes(cached, "k", 5); got != 0 {
				t.Fatalf("a Store that cached the full window admitted %d after the reset; the window admits 20 in all, never more", got)
			}
			if d, err := fresh.Take(ctx, "other", p, 0, now); err != nil || d.Remaining != 13 {
				t.Fatalf("the other key after the reset: %+v %v, want remaining 13", d, err)
			}
			err := s.ResetAt(ctx, "k", core.NewSlidingWindow("marker-reset", 20, time.Hour), now)
			if !errors.Is(err, s3store.ErrMarkerMode) || !errors.Is(err, core.ErrInvalidPolicy) {
				t.Errorf("a sliding-window reset in marker mode: %v, want ErrMarkerMode and ErrInvalidPolicy", err)
			}
			if err := s.ResetAt(ctx, "k", core.Policy{Name: "bad"}, now); !errors.Is(err, core.ErrInvalidPolicy) {
				t.Errorf("an invalid policy: %v, want ErrInvalidPolicy", err)
			}
		})
	}
}
