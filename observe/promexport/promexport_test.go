package promexport_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/observe"
	"github.com/tollgate-go/tollgate/observe/internal/observetest"
	"github.com/tollgate-go/tollgate/observe/otelmetrics"
	"github.com/tollgate-go/tollgate/observe/promexport"
)

// server is a registry with Tollgate's metrics, served at /metrics over real HTTP.
type server struct {
	t   *testing.T
	m   *otelmetrics.Metrics
	url string
}

func newServer(t *testing.T, o otelmetrics.Options) *server {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := promexport.New(reg, o)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &server{t: t, m: m, url: srv.URL + "/metrics"}
}

// scrape GETs /metrics and parses it with Prometheus's own text-format parser.
func (s *server) scrape() map[string]*dto.MetricFamily {
	s.t.Helper()
	resp, err := http.Get(s.url)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		s.t.Fatalf("GET /metrics: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		s.t.Fatalf("Content-Type %q, want the text exposition format", ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		s.t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// series renders a family's samples as "label=value,... = value" lines (sorted); histograms
// give their count.
func series(t *testing.T, fams map[string]*dto.MetricFamily, name string, typ dto.MetricType) []string {
	t.Helper()
	fam, ok := fams[name]
	if !ok {
		return nil
	}
	if fam.GetType() != typ {
		t.Fatalf("%s: type %v, want %v", name, fam.GetType(), typ)
	}
	var out []string
	for _, m := range fam.GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(ls)
		var v float64
		switch typ {
		case dto.MetricType_COUNTER:
			v = m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			v = m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			v = float64(m.GetHistogram().GetSampleCount())
		}
		out = append(out, fmt.Sprintf("%s = %v", strings.Join(ls, ","), v))
	}
	sort.Strings(out)
	return out
}

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s:\n got:\n  %s\n want:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// dec is a decisions series of decisions the store or the denial cache answered (cached);
// decLocal one of decisions answered from a reserved batch.
const (
	dec      = "tollgate_cached=%v,tollgate_limiter=%s,tollgate_local=false,tollgate_policy=%s,tollgate_result=%s = %d"
	decLocal = "tollgate_cached=false,tollgate_limiter=%s,tollgate_local=true,tollgate_policy=%s,tollgate_result=%s = %d"
)

// Denials: the decisions counter by result and cache, and near-limit.
func TestScrapeDenial(t *testing.T) {
	s := newServer(t, otelmetrics.Options{})
	observetest.Denials(t, memstore.New(), s.m.Observer(observe.Limiter{Name: "web"}), "alice")
	fams := s.scrape()
	equal(t, promexport.Decisions, series(t, fams, promexport.Decisions, dto.MetricType_COUNTER), []string{
		fmt.Sprintf(dec, false, "web", "api", "allowed", 2),
		fmt.Sprintf(dec, false, "web", "api", "denied", 1),
		fmt.Sprintf(dec, true, "web", "api", "denied", 1),
	})
	equal(t, promexport.NearLimit, series(t, fams, promexport.NearLimit, dto.MetricType_COUNTER), []string{
		"tollgate_limiter=web,tollgate_policy=api = 1",
	})
	if strings.Contains(fmt.Sprint(fams), "alice") {
		t.Fatal("the key appears in the scrape")
	}
}

func TestScrapeShadow(t *testing.T) {
	s := newServer(t, otelmetrics.Options{})
	observetest.Shadow(t, s.m.Observer(observe.Limiter{Name: "web"}), "alice")
	equal(t, promexport.Decisions, series(t, s.scrape(), promexport.Decisions, dto.MetricType_COUNTER), []string{
		fmt.Sprintf(dec, false, "web", "api", "allowed", 2),
		fmt.Sprintf(dec, false, "web", "api", "shadow_denied", 1),
	})
}

// A store outage with the fallback answering: fallback decisions, store errors and
// durations, breaker transitions, and the breaker gauge back at 0.
func TestScrapeStoreFailureAndFallback(t *testing.T) {
	s := newServer(t, otelmetrics.Options{})
	observetest.Outage(t, core.FailFallback, s.m.Observer(observe.Limiter{Name: "web", StoreName: "redis"}), "alice")
	fams := s.scrape()
	equal(t, promexport.Decisions, series(t, fams, promexport.Decisions, dto.MetricType_COUNTER), []string{
		fmt.Sprintf(dec, false, "web", "api", "allowed", 1),
		fmt.Sprintf(dec, false, "web", "api", "fallback", 2),
		fmt.Sprintf(dec, false, "web", "api", "fallback_denied", 1),
	})
	equal(t, promexport.StoreErrors, series(t, fams, promexport.StoreErrors, dto.MetricType_COUNTER), []string{
		"error_type=_OTHER,tollgate_limiter=web,tollgate_store=redis,tollgate_store_operation=take = 2",
	})
	equal(t, promexport.StoreDuration, series(t, fams, promexport.StoreDuration, dto.MetricType_HISTOGRAM), []string{
		"error_type=_OTHER,tollgate_limiter=web,tollgate_store=redis,tollgate_store_operation=take = 2",
		"tollgate_limiter=web,tollgate_store=redis,tollgate_store_operation=take = 1",
	})
	equal(t, promexport.BreakerTransitions, series(t, fams, promexport.BreakerTransitions, dto.MetricType_COUNTER), []string{
		"tollgate_breaker_state=closed,tollgate_limiter=web,tollgate_store=redis = 1",
		"tollgate_breaker_state=open,tollgate_limiter=web,tollgate_store=redis = 1",
	})
	equal(t, promexport.BreakerOpen, series(t, fams, promexport.BreakerOpen, dto.MetricType_GAUGE), []string{
		"tollgate_limiter=web,tollgate_store=redis = 0",
	})
	// The histogram's buckets are otelmetrics.DurationBuckets, in seconds.
	h := fams[promexport.StoreDuration].GetMetric()[0].GetHistogram()
	if n := len(h.GetBucket()); n != len(otelmetrics.DurationBuckets)+1 && n != len(otelmetrics.DurationBuckets) {
		t.Fatalf("%d buckets, want those of DurationBuckets (%d)", n, len(otelmetrics.DurationBuckets))
	}
	if ub := h.GetBucket()[0].GetUpperBound(); ub != otelmetrics.DurationBuckets[0] {
		t.Fatalf("first bucket's upper bound %v, want %v", ub, otelmetrics.DurationBuckets[0])
	}
}

// Under FailClosed the refused requests are decisions with result failed_closed.
func TestScrapeFailClosed(t *testing.T) {
	s := newServer(t, otelmetrics.Options{})
	observetest.Outage(t, core.FailClosed, s.m.Observer(observe.Limiter{Name: "login"}), "alice")
	equal(t, promexport.Decisions, series(t, s.scrape(), promexport.Decisions, dto.MetricType_COUNTER), []string{
		fmt.Sprintf(dec, false, "login", "api", "allowed", 1),
		fmt.Sprintf(dec, false, "login", "api", "failed_closed", 3),
	})
}

// The breaker gauge reads 1 in a scrape taken while the breaker is open.
func TestScrapeBreakerOpen(t *testing.T) {
	s := newServer(t, otelmetrics.Options{})
	st := observetest.NewStore()
	st.SetDown(true)
	c := observetest.NewClock()
	l := observetest.NewLimiter(t, core.Config{Store: st, Now: c.Now, Breaker: core.BreakerConfig{Failures: 2, Cooldown: time.Minute},
		Observer: s.m.Observer(observe.Limiter{Name: "web", Store: st})})
	for range 3 {
		observetest.Take(t, l, "alice", c.Now())
	}
	fams := s.scrape()
	equal(t, promexport.BreakerOpen, series(t, fams, promexport.BreakerOpen, dto.MetricType_GAUGE), []string{
		"tollgate_limiter=web,tollgate_store=observetest = 1",
	})
	equal(t, promexport.Decisions, series(t, fams, promexport.Decisions, dto.MetricType_COUNTER), []string{
		fmt.Sprintf(dec, false, "web", "api", "failed_open", 3),
	})
}

// A lease held: while it is held the scrape shows one active lease (and a second request for
// the key denied); once released after 1.5 s, none active and one hold time of 1.5 s in the
// lease-duration histogram, whose buckets are otelmetrics.LeaseDurationBuckets.
func TestScrapeLeaseHeld(t *testing.T) {
	s := newServer(t, otelmetrics.Options{})
	c := observetest.NewClock()
	cl, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{Store: memstore.New(), Policy: observetest.PolicySlots,
		Config: core.Config{Now: c.Now, Observer: s.m.Observer(observe.Limiter{Name: "jobs"})},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lease, _, err := cl.AcquireKeyAt(ctx, "alice", c.Now())
	if err != nil || lease == nil {
		t.Fatalf("acquire: %v, %v", lease, err)
	}
	if _, res, _ := cl.AcquireKeyAt(ctx, "alice", c.Now()); res.Allowed {
		t.Fatal("a second lease for alice was granted")
	}
	fams := s.scrape()
	equal(t, "while held: "+promexport.ActiveLeases, series(t, fams, promexport.ActiveLeases, dto.MetricType_GAUGE), []string{
		"tollgate_limiter=jobs,tollgate_policy=slots = 1",
	})
	equal(t, "while held: "+promexport.LeasesAcquired, series(t, fams, promexport.LeasesAcquired, dto.MetricType_COUNTER), []string{
		"tollgate_limiter=jobs,tollgate_policy=slots = 1",
	})
	equal(t, "while held: "+promexport.Decisions, series(t, fams, promexport.Decisions, dto.MetricType_COUNTER), []string{
		fmt.Sprintf(dec, false, "jobs", "slots", "allowed", 1),
		fmt.Sprintf(dec, false, "jobs", "slots", "denied", 1),
	})
	if got := series(t, fams, promexport.LeaseDuration, dto.MetricType_HISTOGRAM); got != nil {
		t.Fatalf("while held: %s = %v, want none (no lease released yet)", promexport.LeaseDuration, got)
	}

	c.Advance(1500 * time.Millisecond)
	if err := lease.Release(ctx); err != nil {
		t.Fatal(err)
	}
	fams = s.scrape()
	equal(t, "after release: "+promexport.ActiveLeases, series(t, fams, promexport.ActiveLeases, dto.MetricType_GAUGE), []string{
		"tollgate_limiter=jobs,tollgate_policy=slots = 0",
	})
	equal(t, "after release: "+promexport.LeaseDuration, series(t, fams, promexport.LeaseDuration, dto.MetricType_HISTOGRAM), []string{
		"tollgate_limiter=jobs,tollgate_policy=slots = 1",
	})
	h := fams[promexport.LeaseDuration].GetMetric()[0].GetHistogram()
	if h.GetSampleSum() != 1.5 {
		t.Fatalf("%s sum %v, want 1.5", promexport.LeaseDuration, h.GetSampleSum())
	}
	var bounds []float64
	for _, b := range h.GetBucket() {
		bounds = append(bounds, b.GetUpperBound())
		// Cumulative buckets: the 1.5 s hold is in every bucket from le=2.5 up.
		want := uint64(0)
		if b.GetUpperBound() >= 2.5 {
			want = 1
		}
		if b.GetCumulativeCount() != want {
			t.Fatalf("bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	if !slices.Equal(bounds, otelmetrics.LeaseDurationBuckets) && !slices.Equal(bounds, append(slices.Clone(otelmetrics.LeaseDurationBuckets), math.Inf(1))) {
		t.Fatalf("bucket bounds %v, want %v", bounds, otelmetrics.LeaseDurationBuckets)
	}
}

// Leases under a store outage: FailOpen grants none (only the lease after recovery counts);
// the fallback's lease counts and, released, leaves none active.
func TestScrapeLeaseOutage(t *testing.T) {
	for _, c := range []struct {
		failure core.FailurePolicy
		granted int
	}{{core.FailOpen, 1}, {core.FailFallback, 2}} {
		t.Run(c.failure.String(), func(t *testing.T) {
			s := newServer(t, otelmetrics.Options{})
			observetest.LeaseOutage(t, c.failure, s.m.Observer(observe.Limiter{Name: "jobs", StoreName: "redis"}), "alice")
			fams := s.scrape()
			equal(t, promexport.LeasesAcquired, series(t, fams, promexport.LeasesAcquired, dto.MetricType_COUNTER), []string{
				fmt.Sprintf("tollgate_limiter=jobs,tollgate_policy=slots = %d", c.granted),
			})
			equal(t, promexport.ActiveLeases, series(t, fams, promexport.ActiveLeases, dto.MetricType_GAUGE), []string{
				"tollgate_limiter=jobs,tollgate_policy=slots = 0",
			})
			equal(t, promexport.LeaseDuration, series(t, fams, promexport.LeaseDuration, dto.MetricType_HISTOGRAM), []string{
				fmt.Sprintf("tollgate_limiter=jobs,tollgate_policy=slots = %d", c.granted),
			})
			equal(t, promexport.StoreErrors, series(t, fams, promexport.StoreErrors, dto.MetricType_COUNTER), []string{
				"error_type=_OTHER,tollgate_limiter=jobs,tollgate_store=redis,tollgate_store_operation=acquire = 2",
			})
		})
	}
}

// Reservations on a real limiter (core.Reservations on memstore): the batches reserved and
// their allowance, as the store counted them, and the decisions answered from them locally.
func TestScrapeReservations(t *testing.T) {
	s := newServer(t, otelmetrics.Options{})
	st := memstore.New()
	observetest.Reservations(t, st, s.m.Observer(observe.Limiter{Name: "web", Store: st}), "alice")
	fams := s.scrape()
	equal(t, promexport.Reservations, series(t, fams, promexport.Reservations, dto.MetricType_COUNTER), []string{
		fmt.Sprintf("tollgate_limiter=web,tollgate_policy=batch = %d", observetest.ReservedBatches),
	})
	equal(t, promexport.Reserved, series(t, fams, promexport.Reserved, dto.MetricType_COUNTER), []string{
		fmt.Sprintf("tollgate_limiter=web,tollgate_policy=batch = %d", observetest.ReservedUnits),
	})
	equal(t, promexport.Decisions, series(t, fams, promexport.Decisions, dto.MetricType_COUNTER), []string{
		fmt.Sprintf(dec, false, "web", "batch", "allowed", observetest.ReservedBatches),
		fmt.Sprintf(dec, false, "web", "batch", "denied", 1),
		fmt.Sprintf(decLocal, "web", "batch", "allowed", observetest.ReservedLocal),
		fmt.Sprintf(dec, true, "web", "batch", "denied", 1),
	})
}

// Settlements on a real settling limiter (Limiter.Settle, Refund and Flush; memstore applies
// them at once), and two that fail on a store that went down: by direction and result, in
// number and in allowance.
func TestScrapeSettlements(t *testing.T) {
	t.Parallel() // the failed settlements are retried for about 3 s
	s := newServer(t, otelmetrics.Options{})
	st := memstore.New()
	obs := s.m.Observer(observe.Limiter{Name: "llm", Store: st})
	observetest.Settlements(t, st, obs, "alice")
	observetest.FailedSettlements(t, obs, "bob")
	fams := s.scrape()
	const labels = "tollgate_limiter=llm,tollgate_policy=tokens,tollgate_settlement_direction=%s,tollgate_settlement_result=%s = %d"
	equal(t, promexport.Settlements, series(t, fams, promexport.Settlements, dto.MetricType_COUNTER), []string{
		fmt.Sprintf(labels, "charge", "failed", 1),
		fmt.Sprintf(labels, "charge", "ok", observetest.SettledCharges),
		fmt.Sprintf(labels, "refund", "failed", 1),
		fmt.Sprintf(labels, "refund", "ok", observetest.SettledRefunds),
	})
	equal(t, promexport.Settled, series(t, fams, promexport.Settled, dto.MetricType_COUNTER), []string{
		fmt.Sprintf(labels, "charge", "failed", observetest.FailedCharged),
		fmt.Sprintf(labels, "charge", "ok", observetest.SettledCharged),
		fmt.Sprintf(labels, "refund", "failed", observetest.FailedRefunded),
		fmt.Sprintf(labels, "refund", "ok", observetest.SettledRefunded),
	})
	equal(t, promexport.Decisions, series(t, fams, promexport.Decisions, dto.MetricType_COUNTER), []string{
		fmt.Sprintf(dec, false, "llm", "tokens", "allowed", 4+2),
	})
	equal(t, promexport.StoreErrors, series(t, fams, promexport.StoreErrors, dto.MetricType_COUNTER), []string{
		"error_type=_OTHER,tollgate_limiter=llm,tollgate_store=memory,tollgate_store_operation=adjust = 2",
	})
}

// Every name this package exports appears in a scrape once its situation happened, and the
// scrape carries no other tollgate_ family: the constants are the truth a dashboard can use.
func TestScrapeNames(t *testing.T) {
	s := newServer(t, otelmetrics.Options{})
	obs := s.m.Observer(observe.Limiter{Name: "web", StoreName: "redis"})
	observetest.Denials(t, observetest.NewStore(), obs, "alice")
	observetest.Outage(t, core.FailOpen, obs, "bob")
	observetest.Leases(t, memstore.New(), obs, "carol")
	observetest.Reservations(t, memstore.New(), obs, "dave")
	observetest.Settlements(t, memstore.New(), obs, "erin")
	var got []string
	for name := range s.scrape() {
		got = append(got, name)
	}
	sort.Strings(got)
	want := append([]string(nil), promexport.Names...)
	sort.Strings(want)
	equal(t, "families", got, want)
}

func TestNewRefusesAProvider(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := promexport.New(reg, otelmetrics.Options{MeterProvider: otelmetricsProvider(t)}); err == nil || !strings.HasPrefix(err.Error(), "promexport: ") {
		t.Fatalf("New with a MeterProvider: %v, want a promexport error", err)
	}
	if _, err := promexport.New(reg, otelmetrics.Options{NearLimit: 2}); err == nil || !strings.HasPrefix(err.Error(), "promexport: ") {
		t.Fatalf("New with NearLimit 2: %v, want a promexport error", err)
	}
}
