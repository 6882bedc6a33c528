package promexport_test

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/observe"
	"github.com/tollgate-go/tollgate/observe/otelmetrics"
	"github.com/tollgate-go/tollgate/observe/promexport"
)

// The metrics go into the application's registry; serve it with promhttp.HandlerFor(reg, …)
// on a route that only the scraper reaches.
func Example() {
	reg := prometheus.NewRegistry()
	m, err := promexport.New(reg, otelmetrics.Options{})
	if err != nil {
		panic(err)
	}
	store := memstore.New()
	lim, err := core.NewLimiter(core.Config{
		Store:    store,
		Rules:    []core.Rule{{Policy: core.NewFixedWindow("login", 3, time.Minute)}},
		Observer: m.Observer(observe.Limiter{Name: "login", Store: store}),
	})
	if err != nil {
		panic(err)
	}
	for range 4 {
		_, _ = lim.AllowKey(context.Background(), "192.0.2.1", 1)
	}

	fams, _ := reg.Gather()
	for _, f := range fams {
		if f.GetName() != promexport.Decisions {
			continue
		}
		for _, s := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			fmt.Printf("%s{tollgate_policy=%q,tollgate_result=%q} %v\n", f.GetName(),
				labels["tollgate_policy"], labels["tollgate_result"], s.GetCounter().GetValue())
		}
	}
	// Output:
	// tollgate_rate_limiting_decisions_total{tollgate_policy="login",tollgate_result="allowed"} 3
	// tollgate_rate_limiting_decisions_total{tollgate_policy="login",tollgate_result="denied"} 1
}
