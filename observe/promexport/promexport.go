// Package promexport exports Tollgate's metrics (observe/otelmetrics) to Prometheus: [New]
// registers them with a prometheus.Registerer, and the application serves that registry as it
// already does, with promhttp:
//
//	reg := prometheus.NewRegistry()
//	m, err := promexport.New(reg, otelmetrics.Options{})
//	lim, err := core.NewLimiter(core.Config{..., Observer: m.Observer(observe.Limiter{Name: "api", Store: store})})
//	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// # Why OpenTelemetry's exporter and not a hand-written prometheus.Collector
//
// The metrics are defined once, in otelmetrics, and reach Prometheus through OpenTelemetry's
// Prometheus exporter (go.opentelemetry.io/otel/exporters/prometheus), which is itself a
// prometheus.Collector registered with the application's registry. So a Prometheus user keeps
// their registry and their /metrics handler, and gets names in Prometheus style by the
// OpenTelemetry-to-Prometheus rules that Prometheus 3 applies to OTLP data as well
// (UnderscoreEscapingWithSuffixes): dots become underscores, counters end in _total, the unit
// becomes a suffix. A dashboard therefore works whether the metrics are scraped here or pushed
// over OTLP. A second, hand-written collector would be a second definition of every name and
// label to keep in step.
//
// # Names
//
//	tollgate_rate_limiting_decisions_total{tollgate_limiter, tollgate_policy, tollgate_result, tollgate_cached, tollgate_local[, tollgate_key_bucket]}
//	tollgate_rate_limiting_near_limit_total{tollgate_limiter, tollgate_policy}
//	tollgate_rate_limiting_leases_acquired_total{tollgate_limiter, tollgate_policy}
//	tollgate_rate_limiting_active_leases{tollgate_limiter, tollgate_policy}                    (a gauge: an UpDownCounter)
//	tollgate_rate_limiting_lease_duration_seconds_bucket/_sum/_count{tollgate_limiter, tollgate_policy}
//	tollgate_store_duration_seconds_bucket/_sum/_count{tollgate_limiter, tollgate_store, tollgate_store_operation[, error_type]}
//	tollgate_store_errors_total{tollgate_limiter, tollgate_store, tollgate_store_operation, error_type}
//	tollgate_breaker_transitions_total{tollgate_limiter, tollgate_store, tollgate_breaker_state}
//	tollgate_breaker_open{tollgate_limiter, tollgate_store}
//	tollgate_rate_limiting_reservations_total{tollgate_limiter, tollgate_policy}
//	tollgate_rate_limiting_reserved_total{tollgate_limiter, tollgate_policy}
//	tollgate_rate_limiting_settlements_total{tollgate_limiter, tollgate_policy, tollgate_settlement_direction, tollgate_settlement_result}
//	tollgate_rate_limiting_settled_total{tollgate_limiter, tollgate_policy, tollgate_settlement_direction, tollgate_settlement_result}
//
// otelmetrics documents when each is recorded. The exporter's otel_scope_* labels and its
// target_info metric are left out: a Prometheus user has job and instance for that.
package promexport

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/otlptranslator"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/tollgate-go/tollgate/observe/otelmetrics"
)

// Prometheus names of the metrics, as they appear in a scrape.
const (
	Decisions          = "tollgate_rate_limiting_decisions_total"
	NearLimit          = "tollgate_rate_limiting_near_limit_total"
	LeasesAcquired     = "tollgate_rate_limiting_leases_acquired_total"
	ActiveLeases       = "tollgate_rate_limiting_active_leases"
	LeaseDuration      = "tollgate_rate_limiting_lease_duration_seconds"
	StoreDuration      = "tollgate_store_duration_seconds"
	StoreErrors        = "tollgate_store_errors_total"
	BreakerTransitions = "tollgate_breaker_transitions_total"
	BreakerOpen        = "tollgate_breaker_open"
	Reservations       = "tollgate_rate_limiting_reservations_total"
	Reserved           = "tollgate_rate_limiting_reserved_total"
	Settlements        = "tollgate_rate_limiting_settlements_total"
	Settled            = "tollgate_rate_limiting_settled_total"
)

// New registers Tollgate's metrics with reg (nil: prometheus.DefaultRegisterer, which
// promhttp.Handler serves) and returns them; give each limiter an observer from
// [otelmetrics.Metrics.Observer]. o configures the metrics as in otelmetrics; its
// MeterProvider must be nil, since New builds the provider that feeds reg. Call New once per
// registry: a second call fails to register.
func New(reg prometheus.Registerer, o otelmetrics.Options) (*otelmetrics.Metrics, error) {
	if o.MeterProvider != nil {
		return nil, errors.New("promexport: Options.MeterProvider must be nil: New builds the provider that feeds the registry")
	}
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	exp, err := otelprom.New(
		otelprom.WithRegisterer(reg),
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
		otelprom.WithoutScopeInfo(),
		otelprom.WithoutTargetInfo(),
	)
	if err != nil {
		return nil, fmt.Errorf("promexport: %w", err)
	}
	o.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	m, err := otelmetrics.New(o)
	if err != nil {
		return nil, fmt.Errorf("promexport: %w", err)
	}
	return m, nil
}
