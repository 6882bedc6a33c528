package otelmetrics_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/tollgate-go/tollgate/adapters/nethttp"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/observe"
	"github.com/tollgate-go/tollgate/observe/otelmetrics"
	"github.com/tollgate-go/tollgate/observe/status"
)

// discard is a ResponseWriter that keeps one header map, as net/http's server does per
// request, so the benchmark measures the middleware rather than a recorder (as
// adapters/nethttp's BenchmarkMiddleware does).
type discard struct{ h http.Header }

func (w *discard) Header() http.Header         { return w.h }
func (w *discard) Write(b []byte) (int, error) { return len(b), nil }
func (w *discard) WriteHeader(int)             {}

// BenchmarkOverhead is the net/http middleware's allowed path on the in-memory store with
// metrics off (no observer), with an empty observer (what the core itself spends on events:
// building and passing one; it does not time in-process store calls), and with the metrics
// observer on an SDK MeterProvider; for information, the status page's observer, and both
// through observe.Tee. The target: metrics on adds at most 10 % and 1 allocation to
// off. On a shared machine run the cases in alternation, many times, and compare minimums:
//
//	for i in $(seq 20); do for c in off metrics; do
//		go test -run '^$' -bench "Overhead/$c\$" -benchmem -count 1 ./observe/otelmetrics/
//	done; done
func BenchmarkOverhead(b *testing.B) {
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	m, err := otelmetrics.New(otelmetrics.Options{MeterProvider: mp})
	if err != nil {
		b.Fatal(err)
	}
	page, err := status.New(status.Options{})
	if err != nil {
		b.Fatal(err)
	}
	store := memstore.New()
	lim := observe.Limiter{Name: "bench", Store: store}
	for _, c := range []struct {
		name string
		obs  core.Observer
	}{
		{"off", nil},
		{"noop-observer", core.ObserverFunc(func(context.Context, core.Event) {})},
		{"metrics", m.Observer(lim)},
		{"status", page.Observer(lim)},
		{"metrics+status", observe.Tee(m.Observer(lim), page.Observer(lim))},
	} {
		b.Run(c.name, func(b *testing.B) {
			l, err := core.NewLimiter(core.Config{
				Store:    store,
				Rules:    []core.Rule{{Policy: core.NewFixedWindow("bench-"+c.name, 1<<50, time.Hour)}},
				Observer: c.obs,
			})
			if err != nil {
				b.Fatal(err)
			}
			h := nethttp.RateLimit(l, nethttp.Options{})(bare)
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = "192.0.2.1:1234"
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				clear(w.h)
				h.ServeHTTP(w, r)
			}
		})
	}
}

// BenchmarkObserve is the metrics observer's own cost for one event, without the limiter:
// an allowed decision from an in-process store (the hot path), and a denial.
func BenchmarkObserve(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	m, err := otelmetrics.New(otelmetrics.Options{MeterProvider: mp})
	if err != nil {
		b.Fatal(err)
	}
	obs := m.Observer(observe.Limiter{Name: "bench", Store: memstore.New()})
	p := core.NewFixedWindow("bench", 1<<50, time.Hour)
	for _, c := range []struct {
		name string
		e    core.Event
	}{
		{"allowed", core.Event{Kind: core.EventDecision, Key: "192.0.2.1", Latency: 50,
			Decision: core.Decision{Allowed: true, Limit: p.Limit, Remaining: p.Limit - 1, Policy: p}}},
		{"denied-cached", core.Event{Kind: core.EventDecision, Key: "192.0.2.1", Cached: true,
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
