package status_test

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/observe"
	"github.com/tollgate-go/tollgate/observe/status"
)

// BenchmarkObserve is the status page observer's own cost for one event, without the
// limiter: an allowed decision from an in-process store (the hot path), and a denial (which
// also counts the key in the most-denied table). The whole allowed path is measured by
// observe/otelmetrics' BenchmarkOverhead/status.
//
//	go test -run '^$' -bench Observe -benchmem ./observe/status/
func BenchmarkObserve(b *testing.B) {
	page, err := status.New(status.Options{})
	if err != nil {
		b.Fatal(err)
	}
	obs := page.Observer(observe.Limiter{Name: "bench", Store: memstore.New()})
	p := core.NewFixedWindow("bench", 1<<50, time.Hour)
	for _, c := range []struct {
		name string
		e    core.Event
	}{
		{"allowed", core.Event{Kind: core.EventDecision, Key: "192.0.2.1", Op: core.OpTake,
			Decision: core.Decision{Allowed: true, Limit: p.Limit, Remaining: p.Limit - 1, Policy: p}}},
		{"denied", core.Event{Kind: core.EventDecision, Key: "192.0.2.1", Op: core.OpTake,
			Decision: core.Decision{Limit: p.Limit, Policy: p}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				obs.Observe(ctx, c.e)
			}
		})
	}
}
