package otelmetrics_test

import (
	"context"
	"fmt"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/observe"
	"github.com/tollgate-go/tollgate/observe/otelmetrics"
)

// One Metrics per process, one observer per limiter. Here the MeterProvider has an in-memory
// reader; an application passes its own provider (or none, for the global one).
func Example() {
	reader := sdkmetric.NewManualReader()
	m, err := otelmetrics.New(otelmetrics.Options{
		MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
	})
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
	for range 5 {
		_, _ = lim.AllowKey(context.Background(), "192.0.2.1", 1)
	}

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, sm := range rm.ScopeMetrics {
		for _, metric := range sm.Metrics {
			if metric.Name != otelmetrics.MetricDecisions {
				continue
			}
			for _, p := range metric.Data.(metricdata.Sum[int64]).DataPoints {
				result, _ := p.Attributes.Value(otelmetrics.AttrResult)
				cached, _ := p.Attributes.Value(otelmetrics.AttrCached)
				fmt.Printf("%s result=%s cached=%v: %d\n", metric.Name, result.AsString(), cached.AsBool(), p.Value)
			}
		}
	}
	// Unordered output:
	// tollgate.rate_limiting.decisions result=allowed cached=false: 3
	// tollgate.rate_limiting.decisions result=denied cached=false: 1
	// tollgate.rate_limiting.decisions result=denied cached=true: 1
}
