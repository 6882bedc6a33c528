package promexport_test

import (
	"testing"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

func otelmetricsProvider(t *testing.T) metric.MeterProvider {
	t.Helper()
	return noop.NewMeterProvider()
}
