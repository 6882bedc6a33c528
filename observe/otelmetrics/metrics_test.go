package otelmetrics_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/observe"
	"github.com/tollgate-go/tollgate/observe/internal/observetest"
	"github.com/tollgate-go/tollgate/observe/otelmetrics"
)

// harness is a Metrics on an SDK MeterProvider whose in-memory reader the test collects.
type harness struct {
	t      *testing.T
	m      *otelmetrics.Metrics
	reader *sdkmetric.ManualReader
}

func newHarness(t *testing.T, o otelmetrics.Options) *harness {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	o.MeterProvider = mp
	m, err := otelmetrics.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, m: m, reader: reader}
}

// point is one data point: its attributes rendered "k=v,k=v" (sorted) and its value (a
// histogram's count).
type point struct {
	attrs string
	value float64
	sum   float64 // histograms only
}

// collect returns every data point of the named metric.
func (h *harness) collect(name string) []point {
	h.t.Helper()
	var rm metricdata.ResourceMetrics
	if err := h.reader.Collect(context.Background(), &rm); err != nil {
		h.t.Fatal(err)
	}
	var out []point
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				// Every sum is a cumulative counter but the active leases, an UpDownCounter.
				if d.IsMonotonic == (name == otelmetrics.MetricActiveLeases) || d.Temporality != metricdata.CumulativeTemporality {
					h.t.Fatalf("%s: monotonic %v, temporality %v; want a cumulative counter (up-down for active leases)", name, d.IsMonotonic, d.Temporality)
				}
				for _, p := range d.DataPoints {
					out = append(out, point{attrs: render(p.Attributes), value: float64(p.Value)})
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					out = append(out, point{attrs: render(p.Attributes), value: float64(p.Value)})
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out = append(out, point{attrs: render(p.Attributes), value: float64(p.Count), sum: p.Sum})
				}
			default:
				h.t.Fatalf("%s: unexpected data %T", name, m.Data)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].attrs < out[j].attrs })
	return out
}

// values renders the points of a metric as "attrs = value" lines.
func (h *harness) values(name string) []string {
	h.t.Helper()
	var out []string
	for _, p := range h.collect(name) {
		out = append(out, fmt.Sprintf("%s = %v", p.attrs, p.value))
	}
	return out
}

func render(s attribute.Set) string {
	var parts []string
	for _, kv := range s.ToSlice() {
		parts = append(parts, string(kv.Key)+"="+kv.Value.Emit())
	}
	return strings.Join(parts, ",")
}

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s:\n got:\n  %s\n want:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// dec is a decisions point of a decision the store or the denial cache answered (cached);
// decLocal one of decisions answered from a reserved batch.
const (
	dec      = "tollgate.cached=%v,tollgate.limiter=%s,tollgate.local=false,tollgate.policy=%s,tollgate.result=%s = %d"
	decLocal = "tollgate.cached=false,tollgate.limiter=%s,tollgate.local=true,tollgate.policy=%s,tollgate.result=%s = %d"
)

// tollgate.rate_limiting.decisions, driven by real denials: two allowed, one denied by the
// store, one by the denial cache.
func TestDecisionsDenial(t *testing.T) {
	h := newHarness(t, otelmetrics.Options{})
	observetest.Denials(t, memstore.New(), h.m.Observer(observe.Limiter{Name: "web"}), "alice")
	equal(t, otelmetrics.MetricDecisions, h.values(otelmetrics.MetricDecisions), []string{
		fmt.Sprintf(dec, false, "web", "api", "allowed", 2),
		fmt.Sprintf(dec, false, "web", "api", "denied", 1),
		fmt.Sprintf(dec, true, "web", "api", "denied", 1),
	})
}

// Shadow mode: the third decision would have denied.
func TestDecisionsShadow(t *testing.T) {
	h := newHarness(t, otelmetrics.Options{})
	observetest.Shadow(t, h.m.Observer(observe.Limiter{Name: "web"}), "alice")
	equal(t, otelmetrics.MetricDecisions, h.values(otelmetrics.MetricDecisions), []string{
		fmt.Sprintf(dec, false, "web", "api", "allowed", 2),
		fmt.Sprintf(dec, false, "web", "api", "shadow_denied", 1),
	})
}

// A store outage under each failure policy: three decisions while it is down (the third one
// refused by the open breaker without a call), then one after it recovered.
func TestDecisionsStoreFailure(t *testing.T) {
	for _, c := range []struct {
		failure core.FailurePolicy
		want    []string
	}{
		{core.FailOpen, []string{
			fmt.Sprintf(dec, false, "web", "api", "allowed", 1),
			fmt.Sprintf(dec, false, "web", "api", "failed_open", 3),
		}},
		{core.FailClosed, []string{
			fmt.Sprintf(dec, false, "web", "api", "allowed", 1),
			fmt.Sprintf(dec, false, "web", "api", "failed_closed", 3),
		}},
		{core.FailFallback, []string{
			fmt.Sprintf(dec, false, "web", "api", "allowed", 1),
			fmt.Sprintf(dec, false, "web", "api", "fallback", 2),
			fmt.Sprintf(dec, false, "web", "api", "fallback_denied", 1),
		}},
	} {
		t.Run(c.failure.String(), func(t *testing.T) {
			h := newHarness(t, otelmetrics.Options{})
			observetest.Outage(t, c.failure, h.m.Observer(observe.Limiter{Name: "web"}), "alice")
			equal(t, otelmetrics.MetricDecisions, h.values(otelmetrics.MetricDecisions), c.want)
		})
	}
}

// tollgate.rate_limiting.near_limit: with a limit of 2, the first take spends half, the second
// all of it.
func TestNearLimit(t *testing.T) {
	for _, c := range []struct {
		fraction float64
		want     []string
	}{
		{0, []string{"tollgate.limiter=web,tollgate.policy=api = 1"}}, // default 0.8
		{0.5, []string{"tollgate.limiter=web,tollgate.policy=api = 2"}},
		{1, []string{"tollgate.limiter=web,tollgate.policy=api = 1"}},
		{-1, nil},
	} {
		t.Run(fmt.Sprint(c.fraction), func(t *testing.T) {
			h := newHarness(t, otelmetrics.Options{NearLimit: c.fraction})
			observetest.Denials(t, memstore.New(), h.m.Observer(observe.Limiter{Name: "web"}), "alice")
			equal(t, otelmetrics.MetricNearLimit, h.values(otelmetrics.MetricNearLimit), c.want)
		})
	}
}

// tollgate.store.duration: every store call is timed (the denial cache's answer made none),
// except those of in-process stores.
func TestStoreDuration(t *testing.T) {
	const attrs = "tollgate.limiter=web,tollgate.store=%s,tollgate.store.operation=take = %d"
	for _, c := range []struct {
		name  string
		store core.Store
		o     otelmetrics.Options
		want  []string
	}{
		{"network store", observetest.NewStore(), otelmetrics.Options{}, []string{fmt.Sprintf(attrs, "observetest", 3)}},
		{"memstore", memstore.New(), otelmetrics.Options{}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, c.o)
			observetest.Denials(t, c.store, h.m.Observer(observe.Limiter{Name: "web", Store: c.store}), "alice")
			equal(t, otelmetrics.MetricStoreDuration, h.values(otelmetrics.MetricStoreDuration), c.want)
		})
	}
}

// A settlement (core.OpAdjust) is a store call, not a decision: the decisions counter shows the
// two takes only, and the store duration the adjust beside them.
func TestSettlementIsNoDecision(t *testing.T) {
	h := newHarness(t, otelmetrics.Options{})
	s := observetest.NewStore()
	observetest.Settlement(t, s, h.m.Observer(observe.Limiter{Name: "web", Store: s}), "alice")
	equal(t, otelmetrics.MetricDecisions, h.values(otelmetrics.MetricDecisions), []string{
		fmt.Sprintf(dec, false, "web", "api", "allowed", 1),
		fmt.Sprintf(dec, false, "web", "api", "denied", 1),
	})
	const attrs = "tollgate.limiter=web,tollgate.store=observetest,tollgate.store.operation=%s = %d"
	equal(t, otelmetrics.MetricStoreDuration, h.values(otelmetrics.MetricStoreDuration), []string{
		fmt.Sprintf(attrs, "adjust", 1), fmt.Sprintf(attrs, "take", 2),
	})
}

// Reservations (core.Reservations): tollgate.rate_limiting.reservations counts the batches
// reserved from the store and tollgate.rate_limiting.reserved their allowance, both as the
// store counted them (observetest.Reservations checks the store's side); the decisions
// answered from the batches are decisions with tollgate.local=true, and no store calls.
func TestReservations(t *testing.T) {
	for _, c := range []struct {
		name  string
		store core.Store
		calls []string // tollgate.store.duration
	}{
		{"memstore", memstore.New(), nil}, // in process: not timed
		{"network store", observetest.NewStore(), []string{
			// The 6 decisions that reserved a batch and the one the store denied (one
			// event, though the core asked for the batch and then for the request's own
			// cost); not the 14 local answers, nor the denial cache's.
			"tollgate.limiter=web,tollgate.store=observetest,tollgate.store.operation=take = 7",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, otelmetrics.Options{})
			observetest.Reservations(t, c.store, h.m.Observer(observe.Limiter{Name: "web", Store: c.store}), "alice")
			equal(t, otelmetrics.MetricReservations, h.values(otelmetrics.MetricReservations), []string{
				fmt.Sprintf("tollgate.limiter=web,tollgate.policy=batch = %d", observetest.ReservedBatches),
			})
			equal(t, otelmetrics.MetricReserved, h.values(otelmetrics.MetricReserved), []string{
				fmt.Sprintf("tollgate.limiter=web,tollgate.policy=batch = %d", observetest.ReservedUnits),
			})
			equal(t, otelmetrics.MetricDecisions, h.values(otelmetrics.MetricDecisions), []string{
				fmt.Sprintf(dec, false, "web", "batch", "allowed", observetest.ReservedBatches),
				fmt.Sprintf(dec, false, "web", "batch", "denied", 1),
				fmt.Sprintf(decLocal, "web", "batch", "allowed", observetest.ReservedLocal),
				fmt.Sprintf(dec, true, "web", "batch", "denied", 1),
			})
			equal(t, otelmetrics.MetricStoreDuration, h.values(otelmetrics.MetricStoreDuration), c.calls)
		})
	}
}

// Limits without reservations report no reservation metrics.
func TestReservationsNone(t *testing.T) {
	h := newHarness(t, otelmetrics.Options{})
	observetest.Denials(t, memstore.New(), h.m.Observer(observe.Limiter{Name: "web"}), "alice")
	for _, name := range []string{otelmetrics.MetricReservations, otelmetrics.MetricReserved, otelmetrics.MetricSettlements, otelmetrics.MetricSettled} {
		if got := h.values(name); got != nil {
			t.Errorf("%s = %q, want no point", name, got)
		}
	}
}

// Settlements (core.Rule's Settle, Limiter.Settle and Refund): tollgate.rate_limiting.settlements
// counts them by direction and result, tollgate.rate_limiting.settled their allowance; those
// the store took (on memstore, which applies them at once, and on a network store, in the
// background) and those that failed after the core's retries. None is a decision.
func TestSettlements(t *testing.T) {
	t.Parallel() // the failed settlements are retried for about 3 s
	h := newHarness(t, otelmetrics.Options{})
	obs := h.m.Observer(observe.Limiter{Name: "web", StoreName: "redis"})
	observetest.Settlements(t, memstore.New(), obs, "alice")
	observetest.Settlements(t, observetest.NewStore(), obs, "bob")
	observetest.FailedSettlements(t, obs, "carol")
	const attrs = "tollgate.limiter=web,tollgate.policy=tokens,tollgate.settlement.direction=%s,tollgate.settlement.result=%s = %d"
	equal(t, otelmetrics.MetricSettlements, h.values(otelmetrics.MetricSettlements), []string{
		fmt.Sprintf(attrs, "charge", "failed", 1),
		fmt.Sprintf(attrs, "charge", "ok", 2*observetest.SettledCharges),
		fmt.Sprintf(attrs, "refund", "failed", 1),
		fmt.Sprintf(attrs, "refund", "ok", 2*observetest.SettledRefunds),
	})
	equal(t, otelmetrics.MetricSettled, h.values(otelmetrics.MetricSettled), []string{
		fmt.Sprintf(attrs, "charge", "failed", observetest.FailedCharged),
		fmt.Sprintf(attrs, "charge", "ok", 2*observetest.SettledCharged),
		fmt.Sprintf(attrs, "refund", "failed", observetest.FailedRefunded),
		fmt.Sprintf(attrs, "refund", "ok", 2*observetest.SettledRefunded),
	})
	equal(t, otelmetrics.MetricDecisions, h.values(otelmetrics.MetricDecisions), []string{
		fmt.Sprintf(dec, false, "web", "tokens", "allowed", 4+4+2),
	})
	equal(t, otelmetrics.MetricStoreErrors, h.values(otelmetrics.MetricStoreErrors), []string{
		"error.type=_OTHER,tollgate.limiter=web,tollgate.store=redis,tollgate.store.operation=adjust = 2",
	})
}

// Concurrency limits: both acquires (granted and denied) and the release are store calls.
func TestStoreDurationLeases(t *testing.T) {
	const attrs = "tollgate.limiter=jobs,tollgate.store=observetest,tollgate.store.operation=%s = %d"
	h := newHarness(t, otelmetrics.Options{})
	s := observetest.NewStore()
	observetest.Leases(t, s, h.m.Observer(observe.Limiter{Name: "jobs", Store: s}), "alice")
	equal(t, otelmetrics.MetricStoreDuration, h.values(otelmetrics.MetricStoreDuration), []string{
		fmt.Sprintf(attrs, "acquire", 2), fmt.Sprintf(attrs, "release", 1),
	})
}

// A slow store's calls land in the histogram with their real duration, and a call past the
// time budget is recorded with error.type=timeout.
func TestStoreDurationSlowAndTimeout(t *testing.T) {
	h := newHarness(t, otelmetrics.Options{})
	s := observetest.NewStore()
	s.Delay = 20 * time.Millisecond
	obs := h.m.Observer(observe.Limiter{Name: "web", Store: s})
	l := observetest.NewLimiter(t, core.Config{Store: s, Observer: obs, Timeout: time.Second})
	observetest.Take(t, l, "alice", time.Now())
	l = observetest.NewLimiter(t, core.Config{Store: s, Observer: obs, Timeout: 5 * time.Millisecond})
	observetest.Take(t, l, "alice", time.Now()) // fails open
	ps := h.collect(otelmetrics.MetricStoreDuration)
	if len(ps) != 2 {
		t.Fatalf("points = %+v, want one success and one timeout", ps)
	}
	if p := ps[1]; p.attrs != "tollgate.limiter=web,tollgate.store=observetest,tollgate.store.operation=take" || p.value != 1 || p.sum < 0.02 {
		t.Fatalf("success point = %+v, want one call of at least 0.02 s", p)
	}
	if p := ps[0]; p.attrs != "error.type=timeout,tollgate.limiter=web,tollgate.store=observetest,tollgate.store.operation=take" || p.value != 1 || p.sum < 0.005 {
		t.Fatalf("timeout point = %+v, want one timed-out call of at least 0.005 s", p)
	}
	equal(t, otelmetrics.MetricStoreErrors, h.values(otelmetrics.MetricStoreErrors), []string{
		"error.type=timeout,tollgate.limiter=web,tollgate.store=observetest,tollgate.store.operation=take = 1",
	})
}

// tollgate.store.errors: the two failing calls of an outage (the breaker refused the third,
// which is no store call), and a failing lease release.
func TestStoreErrors(t *testing.T) {
	h := newHarness(t, otelmetrics.Options{})
	observetest.Outage(t, core.FailOpen, h.m.Observer(observe.Limiter{Name: "web", StoreName: "redis"}), "alice")

	s := observetest.NewStore()
	cl, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{Store: s, Policy: observetest.PolicySlots,
		Config: core.Config{Observer: h.m.Observer(observe.Limiter{Name: "jobs", Store: s})},
	})
	if err != nil {
		t.Fatal(err)
	}
	lease, _, err := cl.AcquireKeyAt(context.Background(), "alice", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s.SetDown(true)
	s.Delay = 5 * time.Millisecond // a slow backend failing
	if err := lease.Extend(context.Background()); !errors.Is(err, observetest.ErrDown) {
		t.Fatalf("Extend: %v", err)
	}
	if err := lease.Release(context.Background()); !errors.Is(err, observetest.ErrDown) {
		t.Fatalf("Release: %v", err)
	}
	equal(t, otelmetrics.MetricStoreErrors, h.values(otelmetrics.MetricStoreErrors), []string{
		"error.type=_OTHER,tollgate.limiter=jobs,tollgate.store=observetest,tollgate.store.operation=extend = 1",
		"error.type=_OTHER,tollgate.limiter=jobs,tollgate.store=observetest,tollgate.store.operation=release = 1",
		"error.type=_OTHER,tollgate.limiter=web,tollgate.store=redis,tollgate.store.operation=take = 2",
	})
	// The failed extend and release are timed: their durations carry error.type, and last
	// as long as the slow store took to fail.
	equal(t, otelmetrics.MetricStoreDuration+" of jobs", filter(h.values(otelmetrics.MetricStoreDuration), "tollgate.limiter=jobs"), []string{
		"error.type=_OTHER,tollgate.limiter=jobs,tollgate.store=observetest,tollgate.store.operation=extend = 1",
		"error.type=_OTHER,tollgate.limiter=jobs,tollgate.store=observetest,tollgate.store.operation=release = 1",
		"tollgate.limiter=jobs,tollgate.store=observetest,tollgate.store.operation=acquire = 1",
	})
	for _, p := range h.collect(otelmetrics.MetricStoreDuration) {
		if strings.HasPrefix(p.attrs, "error.type=") && strings.Contains(p.attrs, "tollgate.limiter=jobs") && p.sum < s.Delay.Seconds() {
			t.Errorf("%s{%s}: %v s in all, want at least the store's %v", otelmetrics.MetricStoreDuration, p.attrs, p.sum, s.Delay)
		}
	}
}

// filter keeps the lines that contain sub.
func filter(lines []string, sub string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return out
}

// Under an outage the calls the open breaker refused are neither errors nor durations: only
// the two calls that reached the store are.
func TestStoreErrorsBreakerRefusalsAreNoCalls(t *testing.T) {
	for _, c := range []struct {
		name string
		run  func(t *testing.T, obs core.Observer)
		op   string
	}{
		{"take", func(t *testing.T, obs core.Observer) { observetest.Outage(t, core.FailOpen, obs, "alice") }, "take"},
		{"acquire", func(t *testing.T, obs core.Observer) { observetest.LeaseOutage(t, core.FailOpen, obs, "alice") }, "acquire"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, otelmetrics.Options{})
			c.run(t, h.m.Observer(observe.Limiter{Name: "web", Store: observetest.NewStore()}))
			equal(t, otelmetrics.MetricStoreErrors, h.values(otelmetrics.MetricStoreErrors), []string{
				"error.type=_OTHER,tollgate.limiter=web,tollgate.store=observetest,tollgate.store.operation=" + c.op + " = 2",
			})
			want := []string{
				"error.type=_OTHER,tollgate.limiter=web,tollgate.store=observetest,tollgate.store.operation=" + c.op + " = 2",
				"tollgate.limiter=web,tollgate.store=observetest,tollgate.store.operation=" + c.op + " = 1",
			}
			if c.op == "acquire" { // the lease acquired after recovery is released
				want = append(want, "tollgate.limiter=web,tollgate.store=observetest,tollgate.store.operation=release = 1")
			}
			equal(t, otelmetrics.MetricStoreDuration, h.values(otelmetrics.MetricStoreDuration), want)
		})
	}
}

// tollgate.breaker.transitions and tollgate.breaker.open through an outage: the gauge reads 1
// while the breaker is open and 0 once the store answered again.
func TestBreaker(t *testing.T) {
	h := newHarness(t, otelmetrics.Options{})
	c := observetest.NewClock()
	s := observetest.NewStore()
	l := observetest.NewLimiter(t, core.Config{Store: s, Now: c.Now,
		Observer: h.m.Observer(observe.Limiter{Name: "web", Store: s}),
		Breaker:  core.BreakerConfig{Failures: 2, Cooldown: time.Second}})
	gauge := func(want float64) {
		t.Helper()
		ps := h.collect(otelmetrics.MetricBreakerOpen)
		if len(ps) != 1 || ps[0].attrs != "tollgate.limiter=web,tollgate.store=observetest" || ps[0].value != want {
			t.Fatalf("%s = %+v, want one point of %v", otelmetrics.MetricBreakerOpen, ps, want)
		}
	}
	gauge(0)
	s.SetDown(true)
	observetest.Take(t, l, "alice", c.Now())
	gauge(0)
	observetest.Take(t, l, "alice", c.Now())
	gauge(1)
	equal(t, "transitions while open", h.values(otelmetrics.MetricBreakerTransitions), []string{
		"tollgate.breaker.state=open,tollgate.limiter=web,tollgate.store=observetest = 1",
	})
	s.SetDown(false)
	c.Advance(2 * time.Second)
	observetest.Take(t, l, "alice", c.Now())
	gauge(0)
	equal(t, "transitions after recovery", h.values(otelmetrics.MetricBreakerTransitions), []string{
		"tollgate.breaker.state=closed,tollgate.limiter=web,tollgate.store=observetest = 1",
		"tollgate.breaker.state=open,tollgate.limiter=web,tollgate.store=observetest = 1",
	})
}

// tollgate.rate_limiting.leases.acquired: one lease granted, one refused (a denial).
func TestLeasesAcquired(t *testing.T) {
	h := newHarness(t, otelmetrics.Options{})
	observetest.Leases(t, memstore.New(), h.m.Observer(observe.Limiter{Name: "jobs"}), "alice")
	equal(t, otelmetrics.MetricLeasesAcquired, h.values(otelmetrics.MetricLeasesAcquired), []string{
		"tollgate.limiter=jobs,tollgate.policy=slots = 1",
	})
	equal(t, otelmetrics.MetricDecisions, h.values(otelmetrics.MetricDecisions), []string{
		fmt.Sprintf(dec, false, "jobs", "slots", "allowed", 1),
		fmt.Sprintf(dec, false, "jobs", "slots", "denied", 1),
	})
}

// tollgate.rate_limiting.active_leases: up with every lease granted (by the store or the
// fallback), down with every release, a failed one included; FailOpen grants none.
func TestActiveLeases(t *testing.T) {
	const attrs = "tollgate.limiter=%s,tollgate.policy=%s = %d"
	pool := core.NewConcurrency("pool", 2, time.Minute) // per key
	h := newHarness(t, otelmetrics.Options{})
	s := observetest.NewStore()
	c := observetest.NewClock()
	cl, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{Store: s, Policy: pool,
		Config: core.Config{Now: c.Now, Observer: h.m.Observer(observe.Limiter{Name: "jobs", Store: s})},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	active := func(want int) {
		t.Helper()
		equal(t, otelmetrics.MetricActiveLeases, h.values(otelmetrics.MetricActiveLeases), []string{fmt.Sprintf(attrs, "jobs", "pool", want)})
	}
	var leases []*core.Lease
	for _, key := range []string{"alice", "alice", "bob"} {
		lease, _, err := cl.AcquireKeyAt(ctx, key, c.Now())
		if err != nil || lease == nil {
			t.Fatalf("acquire for %s: %v, %v", key, lease, err)
		}
		leases = append(leases, lease)
	}
	active(3)
	if _, res, _ := cl.AcquireKeyAt(ctx, "alice", c.Now()); res.Allowed { // a denial holds nothing
		t.Fatal("alice got a third lease")
	}
	active(3)
	if err := leases[2].Release(ctx); err != nil {
		t.Fatal(err)
	}
	active(2)
	s.SetDown(true) // the failed release is retried in the background; the slot is let go
	if err := leases[1].Release(ctx); !errors.Is(err, observetest.ErrDown) {
		t.Fatalf("Release: %v, want ErrDown", err)
	}
	s.SetDown(false)
	active(1)
	if err := leases[0].Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := leases[0].Release(ctx); err != nil { // a second Release is a no-op
		t.Fatal(err)
	}
	active(0)

	for _, f := range []core.FailurePolicy{core.FailOpen, core.FailFallback} {
		h := newHarness(t, otelmetrics.Options{})
		observetest.LeaseOutage(t, f, h.m.Observer(observe.Limiter{Name: "jobs"}), "alice")
		granted := 1 // the lease after recovery
		if f == core.FailFallback {
			granted = 2 // and the fallback's
		}
		equal(t, f.String()+" acquired", h.values(otelmetrics.MetricLeasesAcquired), []string{fmt.Sprintf(attrs, "jobs", "slots", granted)})
		equal(t, f.String()+" active", h.values(otelmetrics.MetricActiveLeases), []string{fmt.Sprintf(attrs, "jobs", "slots", 0)})
	}
}

// tollgate.rate_limiting.lease.duration: the time from grant to release on the limiter's
// clock, in seconds.
func TestLeaseDuration(t *testing.T) {
	for _, c := range []struct {
		name  string
		run   func(t *testing.T, obs core.Observer)
		count float64
		sum   float64
	}{
		{"held 1.5 s", func(t *testing.T, obs core.Observer) { observetest.Leases(t, memstore.New(), obs, "alice") }, 1, 1.5},
		{"fallback lease held 2 s, then one released at once", func(t *testing.T, obs core.Observer) {
			observetest.LeaseOutage(t, core.FailFallback, obs, "alice")
		}, 2, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, otelmetrics.Options{})
			c.run(t, h.m.Observer(observe.Limiter{Name: "jobs"}))
			ps := h.collect(otelmetrics.MetricLeaseDuration)
			if len(ps) != 1 || ps[0].attrs != "tollgate.limiter=jobs,tollgate.policy=slots" || ps[0].value != c.count || ps[0].sum != c.sum {
				t.Fatalf("%s = %+v, want one point of %v leases held %v s in all", otelmetrics.MetricLeaseDuration, ps, c.count, c.sum)
			}
		})
	}
}

// No attribute carries a key by default; with KeyBuckets the key appears only as its bucket.
func TestKeysNeverRaw(t *testing.T) {
	const key = "alice@example.com"
	for _, buckets := range []int{0, 16} {
		t.Run(fmt.Sprint(buckets), func(t *testing.T) {
			h := newHarness(t, otelmetrics.Options{KeyBuckets: buckets})
			obs := h.m.Observer(observe.Limiter{Name: "web"})
			observetest.Denials(t, memstore.New(), obs, key)
			observetest.Outage(t, core.FailFallback, obs, key)
			observetest.Leases(t, memstore.New(), obs, key)
			var rm metricdata.ResourceMetrics
			if err := h.reader.Collect(context.Background(), &rm); err != nil {
				t.Fatal(err)
			}
			s := fmt.Sprintf("%+v", rm)
			if !strings.Contains(s, "fallback_denied") {
				t.Fatalf("the dump does not show attribute values, so it proves nothing: %s", s)
			}
			if strings.Contains(s, "alice") {
				t.Fatalf("the key appears in the collected metrics: %s", s)
			}
			seen := map[string]bool{}
			for _, p := range h.collect(otelmetrics.MetricDecisions) {
				for _, kv := range strings.Split(p.attrs, ",") {
					if strings.HasPrefix(kv, "tollgate.key.bucket=") {
						seen[kv] = true
					}
				}
			}
			// The situations use two keys (key and key+"-after"): one or two buckets.
			if buckets == 0 && len(seen) != 0 || buckets > 0 && (len(seen) < 1 || len(seen) > 2) {
				t.Fatalf("KeyBuckets %d: bucket attributes %v", buckets, seen)
			}
		})
	}
}

// With KeyBuckets the decisions counter splits by bucket, each key always in the same one.
func TestKeyBuckets(t *testing.T) {
	h := newHarness(t, otelmetrics.Options{KeyBuckets: 4})
	obs := h.m.Observer(observe.Limiter{Name: "web"})
	observetest.Denials(t, memstore.New(), obs, "alice")
	ps := h.collect(otelmetrics.MetricDecisions)
	if len(ps) != 3 {
		t.Fatalf("points %+v, want allowed, denied and cached denied", ps)
	}
	var bucket string
	for _, p := range ps {
		i := strings.Index(p.attrs, "tollgate.key.bucket=")
		if i < 0 {
			t.Fatalf("point without a bucket: %+v", p)
		}
		b := strings.SplitN(p.attrs[i:], ",", 2)[0]
		if bucket != "" && b != bucket {
			t.Fatalf("one key in two buckets: %s and %s", bucket, b)
		}
		bucket = b
	}
}

// A limiter with two limits: each decision counts under its own policy (the first policy's
// cells are found without the map, the second's through it).
func TestTwoPolicies(t *testing.T) {
	h := newHarness(t, otelmetrics.Options{})
	c := observetest.NewClock()
	l := observetest.NewLimiter(t, core.Config{Now: c.Now, Observer: h.m.Observer(observe.Limiter{Name: "web"}),
		Rules: []core.Rule{{Policy: core.NewFixedWindow("burst", 3, time.Minute)}, {Policy: core.NewFixedWindow("daily", 100, 24*time.Hour)}}})
	for range 4 {
		observetest.Take(t, l, "alice", c.Now())
	}
	equal(t, otelmetrics.MetricDecisions, h.values(otelmetrics.MetricDecisions), []string{
		fmt.Sprintf(dec, false, "web", "burst", "allowed", 3),
		fmt.Sprintf(dec, false, "web", "burst", "denied", 1),
		fmt.Sprintf(dec, false, "web", "daily", "allowed", 3), // not asked after burst denied
	})
}

// Past MaxPolicies names, decisions are recorded under tollgate.policy=_OTHER.
func TestPolicyCardinalityBound(t *testing.T) {
	h := newHarness(t, otelmetrics.Options{})
	l := observetest.NewLimiter(t, core.Config{
		Observer: h.m.Observer(observe.Limiter{Name: "web"}),
		Rules: []core.Rule{{PolicyFunc: func(_ context.Context, key string) (core.Policy, error) {
			return core.NewFixedWindow("plan-"+key, 10, time.Minute), nil
		}}},
	})
	n := otelmetrics.MaxPolicies + 50
	for i := range n {
		observetest.Take(t, l, fmt.Sprint(i), time.Now())
	}
	policies := map[string]float64{}
	for _, p := range h.collect(otelmetrics.MetricDecisions) {
		for _, kv := range strings.Split(p.attrs, ",") {
			if v, ok := strings.CutPrefix(kv, "tollgate.policy="); ok {
				policies[v] += p.value
			}
		}
	}
	if len(policies) != otelmetrics.MaxPolicies+1 || policies["_OTHER"] != 50 {
		t.Fatalf("%d policy values, _OTHER = %v; want %d and 50", len(policies), policies["_OTHER"], otelmetrics.MaxPolicies+1)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, o := range []otelmetrics.Options{
		{NearLimit: 1.5},
		{KeyBuckets: -1},
		{KeyBuckets: otelmetrics.MaxKeyBuckets + 1},
	} {
		if _, err := otelmetrics.New(o); err == nil || !strings.HasPrefix(err.Error(), "otelmetrics: ") {
			t.Errorf("New(%+v) = %v, want an otelmetrics error", o, err)
		}
	}
}

// After Close nothing is reported, and observers still accept events.
func TestClose(t *testing.T) {
	h := newHarness(t, otelmetrics.Options{})
	obs := h.m.Observer(observe.Limiter{Name: "web"})
	if err := h.m.Close(); err != nil {
		t.Fatal(err)
	}
	observetest.Denials(t, memstore.New(), obs, "alice")
	if ps := h.collect(otelmetrics.MetricDecisions); len(ps) != 0 {
		t.Fatalf("decisions after Close: %+v", ps)
	}
}

// Two observers under one name (two limiters sharing a name) report their sum.
func TestSameNameAddsUp(t *testing.T) {
	h := newHarness(t, otelmetrics.Options{})
	observetest.Denials(t, memstore.New(), h.m.Observer(observe.Limiter{Name: "web"}), "alice")
	observetest.Denials(t, memstore.New(), h.m.Observer(observe.Limiter{Name: "web"}), "bob")
	equal(t, otelmetrics.MetricDecisions, h.values(otelmetrics.MetricDecisions), []string{
		fmt.Sprintf(dec, false, "web", "api", "allowed", 4),
		fmt.Sprintf(dec, false, "web", "api", "denied", 2),
		fmt.Sprintf(dec, true, "web", "api", "denied", 2),
	})
}
