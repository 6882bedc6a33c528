// Package oteltrace adds Tollgate's store calls to OpenTelemetry traces, built on
// core.Observer: each store call a limiter makes while serving a traced request becomes a span,
// a child of the request's span, and each decision made without a store call (the denial
// cache, a reserved batch, the failure policy, an in-process store) becomes an event on the
// request's span.
//
//	tr, err := oteltrace.New(oteltrace.Options{}) // the global TracerProvider
//	lim, err := core.NewLimiter(core.Config{..., Observer: tr.Observer(observe.Limiter{Name: "api", Store: store})})
//
// The request's span comes from the context the limiter is called with (adapters pass the
// request's context; give Lease.Release the request's context too), so an HTTP server
// instrumented with otelhttp gets the store calls inside its server spans. A request that is
// not traced (no recording span in its context) costs one context lookup.
//
// Spans are recorded after the fact: the observer learns of a store call when it returns, so
// the span is started at the call's start (the end minus the call's duration, core.Event's
// Latency) and ended at once. Span name: "tollgate.store <operation>" (take, acquire,
// release, extend: core.Op); kind Client; attributes tollgate.limiter, tollgate.policy,
// tollgate.store, tollgate.store.operation, and tollgate.result and tollgate.cached for
// decisions; a failed call has status Error with error.type as its description (never the
// error's text, which may carry keys). Keys are never recorded. The core reports an extend
// only when it fails: successful extends have no span.
//
// A take that reserved a batch of allowance (core.Reservations) carries tollgate.reserved,
// the batch's size.
//
// Decisions made without a store call become an event named "tollgate.decision" on the
// request's span, with tollgate.limiter, tollgate.policy, tollgate.result, tollgate.cached
// (the denial cache answered) and tollgate.local (a reserved batch answered: core.Event's
// Local).
// Decisions of a store that runs in process (core/memstore, recognised through
// observe.Limiter.Store) are events too: the core does not time their calls, which take less
// time than a span.
package oteltrace

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/observe"
)

// ScopeName is the instrumentation scope (tracer name) of the spans.
const ScopeName = "github.com/tollgate-go/tollgate/observe/oteltrace"

// EventDecision is the name of the span event of a decision made without a store call.
const EventDecision = "tollgate.decision"

// Options configures [New]. Zero values are the documented defaults.
type Options struct {
	// TracerProvider provides the tracer. Optional. Default: otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// Now is the clock spans end at. Optional. Default: time.Now. (The limiter's own clock
	// may be a fake; spans need the real time of the call.)
	Now func() time.Time
}

// Tracer makes the spans. Build it once with [New]; safe for concurrent use.
type Tracer struct {
	tracer trace.Tracer
	now    func() time.Time
}

// New returns a tracer.
func New(o Options) (*Tracer, error) {
	tp := o.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	t := &Tracer{tracer: tp.Tracer(ScopeName), now: o.Now}
	if t.now == nil {
		t.now = time.Now
	}
	return t, nil
}

// Observer returns the observer of one limiter, described by l. Set l.Store, so that the calls
// of an in-process store are recorded as events rather than as spans without a duration.
func (t *Tracer) Observer(l observe.Limiter) core.Observer {
	l = l.Normalize()
	return &observer{t: t, limiter: l.Name, store: l.StoreName, inProcess: l.InProcess()}
}

type observer struct {
	t         *Tracer
	limiter   string
	store     string
	inProcess bool
}

func (o *observer) Observe(ctx context.Context, e core.Event) {
	switch e.Kind {
	case core.EventDecision, core.EventStoreError, core.EventLeaseReleased:
	default:
		return
	}
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return
	}
	out, decision := observe.Classify(&e)
	if !observe.StoreCalled(&e) || o.inProcess {
		if decision {
			parent.AddEvent(EventDecision, trace.WithAttributes(
				attribute.String("tollgate.limiter", o.limiter),
				attribute.String("tollgate.policy", e.Decision.Policy.Name),
				attribute.String("tollgate.result", out.String()),
				attribute.Bool("tollgate.cached", e.Cached),
				attribute.Bool("tollgate.local", e.Local)))
		}
		return
	}
	op := e.Op.String()
	end := o.t.now()
	attrs := []attribute.KeyValue{
		attribute.String("tollgate.limiter", o.limiter),
		attribute.String("tollgate.policy", e.Decision.Policy.Name),
		attribute.String("tollgate.store", o.store),
		attribute.String("tollgate.store.operation", op),
	}
	if decision {
		attrs = append(attrs, attribute.String("tollgate.result", out.String()), attribute.Bool("tollgate.cached", false))
		if e.Reserved > 0 {
			attrs = append(attrs, attribute.Int64("tollgate.reserved", e.Reserved))
		}
	}
	_, span := o.t.tracer.Start(ctx, "tollgate.store "+op,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(end.Add(-e.Latency)), trace.WithAttributes(attrs...))
	if e.Kind == core.EventStoreError {
		et := observe.ErrorType(&e)
		span.SetAttributes(attribute.String("error.type", et))
		span.SetStatus(codes.Error, et)
	}
	span.End(trace.WithTimestamp(end))
}
