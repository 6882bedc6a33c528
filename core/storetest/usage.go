package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// UsageStore is a store that answers the usage API: reading (a cost-0 Take), granting (an
// Adjust of −n) and resetting ([storekit.Resetter]).
type UsageStore interface {
	AdjustStore
	storekit.Resetter
}

// RunUsage checks the usage API through a [core.Limiter] on s, for every rate policy:
// Usage reads without spending and shows a key in debt as denied with its RetryAfter; Grant
// gives back what was spent, never more than a whole allowance; Reset starts the key afresh
// and leaves other keys alone. If s also keeps leases, Reset frees a key's leases.
func RunUsage(t *testing.T, s UsageStore, o Options) {
	o.defaults()
	for _, p := range policies() {
		t.Run(p.Algorithm.String()+"/"+p.Name, func(t *testing.T) {
			now := base()
			if p.Calendar == core.Monthly {
				now = time.Date(now.Year(), now.Month(), 10, 0, 0, 0, 0, time.UTC)
			}
			l, err := core.NewLimiter(core.Config{Store: s, Now: func() time.Time { return now }, DenialCacheSize: -1,
				Rules: []core.Rule{{Policy: p}}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := o.Context()
			defer cancel()
			usage := func(what, key string) core.Decision {
				t.Helper()
				ds, err := l.Usage(ctx, key)
				if err != nil || len(ds) != 1 {
					t.Fatalf("%s: Usage: %v %v", what, ds, err)
				}
				return ds[0]
			}
			capacity := p.Capacity()
			spend := min(capacity, 3)
			if _, err := l.AllowKey(ctx, "u", spend); err != nil {
				t.Fatal(err)
			}
			if _, err := l.AllowKey(ctx, "other", 1); err != nil {
				t.Fatal(err)
			}
			for i := range 2 { // reading twice spends nothing
				if d := usage(fmt.Sprintf("read %d", i+1), "u"); d.Remaining != capacity-spend || !d.Allowed {
					t.Fatalf("read %d after spending %d of %d: %+v", i+1, spend, capacity, d)
				}
			}
			d, err := l.Grant(ctx, "u", p.Name, 1)
			if err != nil {
				t.Fatal(err)
			}
			if d.Remaining != capacity-spend+1 {
				t.Fatalf("Grant 1 after spending %d of %d: remaining %d, want %d", spend, capacity, d.Remaining, capacity-spend+1)
			}
			if d, err = l.Grant(ctx, "u", p.Name, 1000); err != nil || d.Remaining != capacity {
				t.Fatalf("Grant 1000: remaining %d (%v), want the whole allowance %d, never more", d.Remaining, err, capacity)
			}
			// Debt: a settlement past the limit reads as denied, with the debt's RetryAfter.
			if _, err := s.Adjust(ctx, "u", p, capacity+5, now); err != nil {
				t.Fatal(err)
			}
			if d := usage("in debt", "u"); d.Allowed || d.Remaining != 0 || d.RetryAfter <= 0 {
				t.Fatalf("a key in debt reads %+v, want denied, remaining 0, a RetryAfter", d)
			}
			if err := l.Reset(ctx, "u"); err != nil {
				t.Fatal(err)
			}
			if d := usage("after Reset", "u"); d.Remaining != capacity || !d.Allowed {
				t.Fatalf("after Reset: %+v, want the whole allowance %d", d, capacity)
			}
			if d := usage("another key", "other"); d.Remaining != capacity-1 {
				t.Fatalf("Reset of one key changed another: %+v", d)
			}
		})
	}
	cs, ok := s.(core.ConcurrencyStore)
	if !ok {
		return
	}
	t.Run("leases", func(t *testing.T) {
		p := core.NewConcurrency(uniq("usage-sem"), 2, time.Hour)
		now := base()
		ctx, cancel := o.Context()
		defer cancel()
		for _, id := range []string{"a", "b"} {
			if d, err := cs.Acquire(ctx, "u", p, id, now); err != nil || !d.Allowed {
				t.Fatalf("Acquire %s: %+v %v", id, d, err)
			}
		}
		if err := s.ResetAt(ctx, "u", p, now); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"c", "d"} {
			if d, err := cs.Acquire(ctx, "u", p, id, now); err != nil || !d.Allowed {
				t.Fatalf("after Reset, Acquire %s: %+v %v; want both slots free", id, d, err)
			}
		}
	})
}
