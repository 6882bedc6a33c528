package redisstore_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/redisstore"
	"github.com/tollgate-go/tollgate/core/storetest"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// TestUsageConformance runs core/storetest's usage section (read without spending, grant,
// reset, a key in debt, leases freed by a reset) on miniredis and redis-server.
func TestUsageConformance(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			storetest.RunUsage(t, newStore(t, b.client(t), false), storetest.Options{})
		})
	}
}

// TestUsageCluster runs the usage section on the 3-master Redis Cluster: ResetAt's DEL of
// several keys would fail with CROSSSLOT if they were not in one hash slot.
func TestUsageCluster(t *testing.T) {
	s := newPrefixed(t, clusterClient(t), testenv.UniqueName("tg-cluster-usage")+":")
	storetest.RunUsage(t, s, storetest.Options{})
}

// TestResetKeys checks what ResetAt deletes on the documented key layout: every key of
// (name, key), whatever the algorithm it was written by, and nothing else; in one round trip
// once the script is cached; and that a bad policy is refused with nothing deleted.
func TestResetKeys(t *testing.T) {
	mr := miniredis.RunT(t)
	c := newClient(t, mr.Addr())
	var n counter
	c.AddHook(&n)
	s, err := redisstore.New(c, redisstore.Config{Prefix: "app:"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Date(2030, 6, 1, 12, 0, 20, 0, time.UTC)
	for _, key := range []string{"u", "other"} {
		for _, p := range []core.Policy{
			core.NewFixedWindow("api", 5, time.Minute),
			core.NewSlidingWindow("api", 5, time.Minute),
			core.NewTokenBucket("api", 5, time.Minute, 5),
			core.NewFixedWindow("daily", 5, 24*time.Hour),
		} {
			if _, err := s.Take(ctx, key, p, 1, now); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Acquire(ctx, key, core.NewConcurrency("api", 2, time.Minute), "lease-1", now); err != nil {
			t.Fatal(err)
		}
	}
	all := mr.Keys()
	if len(all) != 12 {
		t.Fatalf("setup wrote %d keys, want 12: %q", len(all), all)
	}
	if err := s.ResetAt(ctx, "u", core.Policy{Name: "api"}, now); !errors.Is(err, core.ErrInvalidPolicy) {
		t.Fatalf("ResetAt with an invalid policy: %v, want ErrInvalidPolicy", err)
	}
	if got := mr.Keys(); !slices.Equal(got, all) {
		t.Fatalf("a refused reset changed the keys: %q, want %q", got, all)
	}
	for i := range 2 { // the second reset finds nothing to delete and is no error
		before := n.cmds.Load()
		if err := s.ResetAt(ctx, "u", core.NewFixedWindow("api", 5, time.Minute), now); err != nil {
			t.Fatalf("reset %d: %v", i+1, err)
		}
		if sent := n.cmds.Load() - before; i == 1 && sent != 1 {
			t.Errorf("a reset with the script cached sent %d commands, want 1", sent)
		}
	}
	var want []string
	for _, k := range all {
		if !strings.HasPrefix(k, "app:{api:u}:") {
			want = append(want, k)
		}
	}
	if got := mr.Keys(); !slices.Equal(got, want) || len(want) != 7 {
		t.Fatalf("after resetting (api, u): keys %q, want every key but the five of (api, u): %q", got, want)
	}
}

// TestResetFreesLeases checks ResetAt on a concurrency policy against the leases' holders: a
// lease held before the reset cannot be extended after it, its late release frees nobody
// else's slot, and the whole limit is free again.
func TestResetFreesLeases(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			s := newStore(t, b.client(t), false)
			ctx := context.Background()
			now := time.Now()
			p := core.NewConcurrency("jobs", 1, time.Hour)
			if d, err := s.Acquire(ctx, "t", p, "old", now); err != nil || !d.Allowed {
				t.Fatalf("acquire: %+v %v", d, err)
			}
			if err := s.ResetAt(ctx, "t", p, now); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Extend(ctx, "t", p, "old", now); !errors.Is(err, core.ErrLeaseNotFound) {
				t.Fatalf("extend of a lease held before the reset: %v, want ErrLeaseNotFound", err)
			}
			if d, err := s.Acquire(ctx, "t", p, "new", now); err != nil || !d.Allowed || d.Remaining != 0 {
				t.Fatalf("acquire after the reset: %+v %v, want the one slot", d, err)
			}
			if err := s.Release(ctx, "t", p, "old", now); err != nil {
				t.Fatal(err)
			}
			if d, err := s.Acquire(ctx, "t", p, "third", now); err != nil || d.Allowed {
				t.Fatalf("the old holder's release freed the new holder's slot: %+v %v", d, err)
			}
		})
	}
}
