// Package observe is what Tollgate's telemetry packages share: the description of a limiter
// they watch ([Limiter]), how to read a [core.Event] (its outcome, [Classify]; whether it
// reports a store call, [StoreCalled]; the settlement or refund it reports,
// [ClassifySettlement]; its error type, [ErrorType]), and [Tee], which hands one limiter's
// events to several observers.
//
// The telemetry itself lives in the sub-packages, each built only on [core.Observer], so the
// root Tollgate module never depends on a telemetry library:
//
//   - observe/otelmetrics: OpenTelemetry metrics (decisions by policy and result, near-limit,
//     store duration and errors, circuit breaker, concurrency leases and their hold time,
//     reservations and settlements);
//   - observe/promexport: the same metrics for Prometheus scrapers, through OpenTelemetry's
//     Prometheus exporter;
//   - observe/oteltrace: a span per store call, a child of the request's span;
//   - observe/status: a live status page (HTML and JSON) an operator mounts.
//
// This module carries its own go.mod (github.com/tollgate-go/tollgate/observe), so an
// application that does not import it gets no OpenTelemetry or Prometheus dependency.
package observe
