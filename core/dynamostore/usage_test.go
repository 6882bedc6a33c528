package dynamostore_test

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storetest"
)

// TestConformanceUsage is storetest's usage section (read without spending, grant, reset, a
// key in debt, leases freed by a reset) on dynalite.
func TestConformanceUsage(t *testing.T) {
	storetest.RunUsage(t, newStore(t, nil), storetest.Options{})
}

// TestResetSlidingPrevious checks the part of a sliding window's state that storetest's
// usage section does not reach: the previous window's count, which the store caches once
// the window has passed. A reset deletes it and forgets the cached count, so the store that
// reset the key reads the whole allowance at once, and so does a store that never cached it.
func TestResetSlidingPrevious(t *testing.T) {
	s, other := newStore(t, nil), newStore(t, nil)
	ctx := context.Background()
	p := core.NewSlidingWindow("reset-prev", 10, time.Minute)
	prevWindow := time.Now().Truncate(time.Minute).Add(-time.Hour)
	if d, err := s.Take(ctx, "k", p, 10, prevWindow.Add(10*time.Second)); err != nil || !d.Allowed {
		t.Fatalf("take 10 in the previous window: %+v %v", d, err)
	}
	now := prevWindow.Add(time.Minute + 15*time.Second) // the previous window weighs 3/4
	if d, err := s.Take(ctx, "k", p, 0, now); err != nil || d.Remaining != 3 {
		t.Fatalf("read a quarter into the next window: %+v %v, want remaining 3 (10 x 3/4 weighted)", d, err)
	}
	if err := s.ResetAt(ctx, "k", p, now); err != nil {
		t.Fatal(err)
	}
	for name, st := range map[string]interface {
		Take(context.Context, string, core.Policy, int64, time.Time) (core.Decision, error)
	}{"the store that reset": s, "another store": other} {
		if d, err := st.Take(ctx, "k", p, 0, now); err != nil || d.Remaining != 10 || !d.Allowed {
			t.Errorf("%s reads %+v %v after the reset, want the whole allowance 10", name, d, err)
		}
	}
}
