package core_test

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// TestSettleEstimateZero: a rule whose estimate is 0 (charge only what the handler reports)
// is charged its real cost when settled; a refund of a 0 estimate changes nothing.
func TestSettleEstimateZero(t *testing.T) {
	s := memstore.New()
	p := core.NewFixedWindow("tokens", 100, time.Minute)
	l := newLimiter(t, core.Config{Store: s, Now: func() time.Time { return t0 }, Key: core.KeyStatic("k"), Limits: []core.Limit{{
		Policy: p,
		Cost:   func(core.Request) int64 { return 0 },
		Settle: func(_ core.Request, out core.Outcome) int64 { return out.Reported },
	}}})
	ctx := context.Background()
	res, err := l.Allow(ctx, nil)
	if err != nil || !res.Allowed {
		t.Fatalf("Allow: %+v %v", res, err)
	}
	l.Settle(ctx, nil, &res, core.Outcome{Reported: 30, Reports: 1})
	l.Refund(ctx, &res)
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := peekRemaining(t, s, p, "k", t0); got != 70 {
		t.Fatalf("after settling 30 on an estimate of 0: remaining %d, want 70", got)
	}
}
