package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/observe"
	"github.com/tollgate-go/tollgate/observe/otelmetrics"
	"github.com/tollgate-go/tollgate/observe/promexport"
	"github.com/tollgate-go/tollgate/observe/status"
)

// telemetry is what -admin switches on: Tollgate's metrics for Prometheus and the live status
// page, served on their own listener so that the public one never exposes them.
type telemetry struct {
	reg     *prometheus.Registry
	metrics *otelmetrics.Metrics
	page    *status.Page
}

func newTelemetry() (*telemetry, error) {
	reg := prometheus.NewRegistry()
	metrics, err := promexport.New(reg, otelmetrics.Options{})
	if err != nil {
		return nil, err
	}
	page, err := status.New(status.Options{Title: "tollgate quickstart"}) // keys shown hashed
	if err != nil {
		return nil, err
	}
	return &telemetry{reg: reg, metrics: metrics, page: page}, nil
}

// observe returns the observer of one limiter: logs, plus metrics and the status page when
// telemetry is on (t != nil).
func (t *telemetry) observe(logs core.Observer, name string, s store, failure core.FailurePolicy, policies ...core.Policy) core.Observer {
	if t == nil {
		return logs
	}
	l := observe.Limiter{Name: name, Store: s, Failure: failure, Policies: policies}
	return observe.Tee(logs, t.metrics.Observer(l), t.page.Observer(l))
}

// handler serves GET /metrics and GET /tollgate (?format=json for JSON).
func (t *telemetry) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(t.reg, promhttp.HandlerOpts{}))
	mux.Handle("GET /tollgate", t.page)
	return mux
}

// serveTelemetry starts the operator listener on addr until ctx ends.
func serveTelemetry(ctx context.Context, addr string) (*telemetry, error) {
	t, err := newTelemetry()
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: t.handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	fmt.Printf("metrics on http://%[1]s/metrics, status page on http://%[1]s/tollgate\n", l.Addr())
	return t, nil
}
