package otelmetrics

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/observe"
)

// ScopeName is the instrumentation scope (meter name) of the metrics.
const ScopeName = "github.com/tollgate-go/tollgate/observe/otelmetrics"

// Metric names, as in the package documentation's table.
const (
	MetricDecisions          = "tollgate.rate_limiting.decisions"
	MetricNearLimit          = "tollgate.rate_limiting.near_limit"
	MetricLeasesAcquired     = "tollgate.rate_limiting.leases.acquired"
	MetricActiveLeases       = "tollgate.rate_limiting.active_leases"
	MetricLeaseDuration      = "tollgate.rate_limiting.lease.duration"
	MetricStoreDuration      = "tollgate.store.duration"
	MetricStoreErrors        = "tollgate.store.errors"
	MetricBreakerTransitions = "tollgate.breaker.transitions"
	MetricBreakerOpen        = "tollgate.breaker.open"
	MetricReservations       = "tollgate.rate_limiting.reservations"
	MetricReserved           = "tollgate.rate_limiting.reserved"
	MetricSettlements        = "tollgate.rate_limiting.settlements"
	MetricSettled            = "tollgate.rate_limiting.settled"
)

// Attribute keys, as in the package documentation.
const (
	AttrLimiter             = attribute.Key("tollgate.limiter")
	AttrPolicy              = attribute.Key("tollgate.policy")
	AttrResult              = attribute.Key("tollgate.result")
	AttrCached              = attribute.Key("tollgate.cached")
	AttrKeyBucket           = attribute.Key("tollgate.key.bucket")
	AttrStore               = attribute.Key("tollgate.store")
	AttrStoreOperation      = attribute.Key("tollgate.store.operation")
	AttrErrorType           = attribute.Key("error.type")
	AttrBreakerState        = attribute.Key("tollgate.breaker.state")
	AttrLocal               = attribute.Key("tollgate.local")
	AttrSettlementDirection = attribute.Key("tollgate.settlement.direction")
	AttrSettlementResult    = attribute.Key("tollgate.settlement.result")
)

// DefaultNearLimit is the default near-limit fraction, Envoy ratelimit's near_limit ratio.
const DefaultNearLimit = 0.8

// MaxKeyBuckets bounds Options.KeyBuckets.
const MaxKeyBuckets = 256

// MaxPolicies bounds the policies one limiter's metrics track; decisions under further policy
// names (a PolicyFunc inventing names) are recorded with tollgate.policy "_OTHER".
const MaxPolicies = 256

// DurationBuckets are the explicit bucket boundaries, in seconds, of tollgate.store.duration:
// from 100 µs (a Redis round trip on a LAN) to 1 s (far beyond any sensible time budget).
var DurationBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}

// LeaseDurationBuckets are the explicit bucket boundaries, in seconds, of
// tollgate.rate_limiting.lease.duration: from 5 ms (a fast request holding a slot) to
// 5 minutes (a long job; leases are extended while held).
var LeaseDurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// Options configures [New]. Zero values are the documented defaults.
type Options struct {
	// MeterProvider provides the meter. Optional. Default: otel.GetMeterProvider() (the
	// global provider, a no-op until the application sets one).
	MeterProvider metric.MeterProvider
	// NearLimit is the fraction of a limit that, once spent by an allowed decision, counts it
	// in tollgate.rate_limiting.near_limit. Optional. Default: DefaultNearLimit (0.8).
	// Negative: near-limit is not recorded. Above 1: invalid.
	NearLimit float64
	// KeyBuckets adds tollgate.key.bucket, FNV-1a(key) mod KeyBuckets, to the decisions
	// counter: a bounded, hashed form of the key. Optional. Default: 0, no key attribute.
	// At most MaxKeyBuckets.
	KeyBuckets int
}

// Metrics records Tollgate's metrics through one meter. Build it once per process with
// [New] and give each limiter an observer from [Metrics.Observer]. Safe for concurrent use.
type Metrics struct {
	nearLimit  float64 // 0: off
	keyBuckets int

	decisions    metric.Int64ObservableCounter
	nearLimits   metric.Int64ObservableCounter
	reservations metric.Int64ObservableCounter
	reserved     metric.Int64ObservableCounter
	settlements  metric.Int64ObservableCounter
	settled      metric.Int64ObservableCounter
	leases       metric.Int64ObservableCounter
	active       metric.Int64ObservableUpDownCounter
	held         metric.Float64Histogram
	breakerOpen  metric.Int64ObservableGauge
	duration     metric.Float64Histogram
	errors       metric.Int64Counter
	transitions  metric.Int64Counter
	reg          metric.Registration

	mu       sync.Mutex
	limiters []*limiterObserver
}

// New creates the instruments and returns the metrics, or an error for invalid options or
// when the meter refuses an instrument.
func New(o Options) (*Metrics, error) {
	if o.NearLimit > 1 {
		return nil, fmt.Errorf("otelmetrics: NearLimit %v must be at most 1", o.NearLimit)
	}
	if o.KeyBuckets < 0 || o.KeyBuckets > MaxKeyBuckets {
		return nil, fmt.Errorf("otelmetrics: KeyBuckets %d must be 0 to %d", o.KeyBuckets, MaxKeyBuckets)
	}
	mp := o.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := &Metrics{nearLimit: o.NearLimit, keyBuckets: o.KeyBuckets}
	switch {
	case m.nearLimit == 0:
		m.nearLimit = DefaultNearLimit
	case m.nearLimit < 0:
		m.nearLimit = 0
	}
	meter := mp.Meter(ScopeName)
	var errs []error
	var err error
	m.decisions, err = meter.Int64ObservableCounter(MetricDecisions, metric.WithUnit("{decision}"),
		metric.WithDescription("Decisions made by Tollgate limiters, by policy and result."))
	errs = append(errs, err)
	m.nearLimits, err = meter.Int64ObservableCounter(MetricNearLimit, metric.WithUnit("{decision}"),
		metric.WithDescription("Allowed decisions that left at least the near-limit fraction of the limit spent."))
	errs = append(errs, err)
	m.reservations, err = meter.Int64ObservableCounter(MetricReservations, metric.WithUnit("{reservation}"),
		metric.WithDescription("Batches of allowance reserved from the store (limits with reservations), each answering later decisions locally."))
	errs = append(errs, err)
	m.reserved, err = meter.Int64ObservableCounter(MetricReserved, metric.WithUnit("{cost}"),
		metric.WithDescription("Allowance reserved from the store in batches, in the policy's cost units."))
	errs = append(errs, err)
	m.settlements, err = meter.Int64ObservableCounter(MetricSettlements, metric.WithUnit("{settlement}"),
		metric.WithDescription("Settlements of a request's real cost after its response, and refunds, by direction and result."))
	errs = append(errs, err)
	m.settled, err = meter.Int64ObservableCounter(MetricSettled, metric.WithUnit("{cost}"),
		metric.WithDescription("Allowance charged or refunded by settlements, in the policy's cost units."))
	errs = append(errs, err)
	m.leases, err = meter.Int64ObservableCounter(MetricLeasesAcquired, metric.WithUnit("{lease}"),
		metric.WithDescription("Concurrency leases granted."))
	errs = append(errs, err)
	m.active, err = meter.Int64ObservableUpDownCounter(MetricActiveLeases, metric.WithUnit("{lease}"),
		metric.WithDescription("Concurrency leases granted and not yet released."))
	errs = append(errs, err)
	m.held, err = meter.Float64Histogram(MetricLeaseDuration, metric.WithUnit("s"),
		metric.WithDescription("How long concurrency leases were held, from grant to release."),
		metric.WithExplicitBucketBoundaries(LeaseDurationBuckets...))
	errs = append(errs, err)
	m.breakerOpen, err = meter.Int64ObservableGauge(MetricBreakerOpen, metric.WithUnit("{breaker}"),
		metric.WithDescription("1 while the limiter's circuit breaker is open (the store is not called), 0 while it is closed."))
	errs = append(errs, err)
	m.duration, err = meter.Float64Histogram(MetricStoreDuration, metric.WithUnit("s"),
		metric.WithDescription("Duration of the limiter's store calls."),
		metric.WithExplicitBucketBoundaries(DurationBuckets...))
	errs = append(errs, err)
	m.errors, err = meter.Int64Counter(MetricStoreErrors, metric.WithUnit("{error}"),
		metric.WithDescription("Store calls that failed or exceeded the time budget."))
	errs = append(errs, err)
	m.transitions, err = meter.Int64Counter(MetricBreakerTransitions, metric.WithUnit("{transition}"),
		metric.WithDescription("Circuit breaker transitions, by the state moved to."))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("otelmetrics: %w", err)
	}
	m.reg, err = meter.RegisterCallback(m.collect, m.decisions, m.nearLimits, m.leases, m.active, m.breakerOpen,
		m.reservations, m.reserved, m.settlements, m.settled)
	if err != nil {
		return nil, fmt.Errorf("otelmetrics: %w", err)
	}
	return m, nil
}

// Observer returns the observer of one limiter, described by l (its Name becomes the
// tollgate.limiter attribute). Give each limiter its own: the breaker gauge is per observer.
// Two observers with the same name report the same series, added together. When l.Store runs
// in process (core/memstore), tollgate.store.duration is not recorded: its calls take less
// time than a histogram record.
func (m *Metrics) Observer(l observe.Limiter) core.Observer {
	l = l.Normalize()
	o := &limiterObserver{m: m, name: l.Name, store: l.StoreName, durations: !l.InProcess()}
	o.limiterSet = attribute.NewSet(AttrLimiter.String(l.Name), AttrStore.String(l.StoreName))
	for op := range numOps {
		for et, name := range errorTypes {
			kv := []attribute.KeyValue{AttrLimiter.String(l.Name), AttrStore.String(l.StoreName),
				AttrStoreOperation.String(core.Op(op).String())}
			if name != "" {
				kv = append(kv, AttrErrorType.String(name))
			}
			set := attribute.NewSet(kv...)
			o.durationOpts[op][et] = []metric.RecordOption{metric.WithAttributeSet(set)}
			o.errorOpts[op][et] = []metric.AddOption{metric.WithAttributeSet(set)}
		}
	}
	for i, state := range []string{"closed", "open"} {
		o.transitionOpts[i] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(
			AttrLimiter.String(l.Name), AttrStore.String(l.StoreName), AttrBreakerState.String(state)))}
	}
	m.mu.Lock()
	m.limiters = append(m.limiters, o)
	m.mu.Unlock()
	return o
}

// Close stops reporting: the callback that reads the counts is unregistered. Observers keep
// working (they count into memory nobody reads).
func (m *Metrics) Close() error {
	if err := m.reg.Unregister(); err != nil {
		return fmt.Errorf("otelmetrics: %w", err)
	}
	return nil
}

// collect reports every limiter's counts to OpenTelemetry.
func (m *Metrics) collect(_ context.Context, obs metric.Observer) error {
	m.mu.Lock()
	limiters := append([]*limiterObserver(nil), m.limiters...)
	m.mu.Unlock()
	for _, o := range limiters {
		var open int64
		if o.open.Load() {
			open = 1
		}
		obs.ObserveInt64(m.breakerOpen, open, metric.WithAttributeSet(o.limiterSet))
		ps := o.policies.Load()
		if ps == nil {
			continue
		}
		for _, pc := range *ps {
			pc.collect(m, obs)
		}
	}
	return nil
}
