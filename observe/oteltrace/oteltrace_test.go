package oteltrace_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/observe"
	"github.com/tollgate-go/tollgate/observe/internal/observetest"
	"github.com/tollgate-go/tollgate/observe/oteltrace"
)

type harness struct {
	rec    *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	tracer *oteltrace.Tracer
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr, err := oteltrace.New(oteltrace.Options{TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{rec: rec, tp: tp, tracer: tr}
}

// request runs fn inside a "request" span and returns that span once ended.
func (h *harness) request(fn func(ctx context.Context)) sdktrace.ReadOnlySpan {
	ctx, span := h.tp.Tracer("test").Start(context.Background(), "request")
	fn(ctx)
	span.End()
	for _, s := range h.rec.Ended() {
		if s.SpanContext().SpanID() == span.SpanContext().SpanID() {
			return s
		}
	}
	return nil
}

func (h *harness) children(parent sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range h.rec.Ended() {
		if s.Parent().SpanID() == parent.SpanContext().SpanID() {
			out = append(out, s)
		}
	}
	return out
}

func attrs(kvs []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

// A slow store call becomes a child span of the request that lasts as long as the call.
func TestStoreCallSpan(t *testing.T) {
	h := newHarness(t)
	s := observetest.NewStore()
	s.Delay = 20 * time.Millisecond
	l := observetest.NewLimiter(t, core.Config{Store: s, Timeout: time.Second,
		Observer: h.tracer.Observer(observe.Limiter{Name: "web", Store: s})})
	req := h.request(func(ctx context.Context) {
		if _, err := l.AllowKeyAt(ctx, "alice", 1, time.Now()); err != nil {
			t.Fatal(err)
		}
	})
	kids := h.children(req)
	if len(kids) != 1 {
		t.Fatalf("%d child spans, want 1", len(kids))
	}
	sp := kids[0]
	if sp.Name() != "tollgate.store take" || sp.SpanKind() != trace.SpanKindClient {
		t.Fatalf("span %q kind %v", sp.Name(), sp.SpanKind())
	}
	if d := sp.EndTime().Sub(sp.StartTime()); d < 20*time.Millisecond || d > time.Second {
		t.Fatalf("span lasts %v, want the call's 20 ms or a little more", d)
	}
	if sp.StartTime().Before(req.StartTime()) {
		t.Fatalf("child starts %v before its parent", req.StartTime().Sub(sp.StartTime()))
	}
	want := map[string]string{"tollgate.limiter": "web", "tollgate.policy": "api", "tollgate.store": "observetest",
		"tollgate.store.operation": "take", "tollgate.result": "allowed", "tollgate.cached": "false"}
	if got := attrs(sp.Attributes()); len(got) != len(want) || strings.Join(mapLines(got), ";") != strings.Join(mapLines(want), ";") {
		t.Fatalf("attributes %v, want %v", got, want)
	}
}

func mapLines(m map[string]string) []string {
	var out []string
	for _, k := range []string{"tollgate.limiter", "tollgate.policy", "tollgate.store", "tollgate.store.operation", "tollgate.result", "tollgate.cached", "error.type"} {
		if v, ok := m[k]; ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// A failed call has status Error with the error type, never the error's text; the failure
// policy's decision is an event on the request span, as is a cached denial.
func TestFailureAndEvents(t *testing.T) {
	h := newHarness(t)
	s := observetest.NewStore()
	obs := h.tracer.Observer(observe.Limiter{Name: "web", Store: s})
	l := observetest.NewLimiter(t, core.Config{Store: s, Observer: obs})
	s.SetDown(true)
	req := h.request(func(ctx context.Context) { _, _ = l.AllowKeyAt(ctx, "alice", 1, time.Now()) })
	kids := h.children(req)
	if len(kids) != 1 || kids[0].Status().Code != codes.Error || kids[0].Status().Description != "_OTHER" {
		t.Fatalf("child spans %v, want one failed call with status Error _OTHER", kids)
	}
	if a := attrs(kids[0].Attributes()); a["error.type"] != "_OTHER" || strings.Contains(kids[0].Status().Description, "down") {
		t.Fatalf("attributes %v, status %v", a, kids[0].Status())
	}
	ev := req.Events()
	if len(ev) != 1 || ev[0].Name != oteltrace.EventDecision || attrs(ev[0].Attributes)["tollgate.result"] != "failed_open" {
		t.Fatalf("request events %+v, want one failed_open decision", ev)
	}

	// A denial cache answer: no store call, an event.
	h.rec.Reset()
	ns := observetest.NewStore()
	nl := observetest.NewLimiter(t, core.Config{Store: ns, Observer: h.tracer.Observer(observe.Limiter{Name: "web", Store: ns})})
	c := observetest.NewClock()
	req = h.request(func(ctx context.Context) {
		for range 4 {
			_, _ = nl.AllowKeyAt(ctx, "alice", 1, c.Now())
		}
	})
	if n := len(h.children(req)); n != 3 {
		t.Fatalf("%d store-call spans, want 3 (2 allowed, 1 denied)", n)
	}
	if ev := req.Events(); len(ev) != 1 || attrs(ev[0].Attributes)["tollgate.cached"] != "true" {
		t.Fatalf("events %+v, want one cached denial", ev)
	}
}

// An in-process store's calls are not timed by the core: its decisions are events on the
// request's span, not spans.
func TestInProcessStoreEvents(t *testing.T) {
	h := newHarness(t)
	ms := memstore.New()
	l := observetest.NewLimiter(t, core.Config{Store: ms, Observer: h.tracer.Observer(observe.Limiter{Name: "web", Store: ms})})
	c := observetest.NewClock()
	req := h.request(func(ctx context.Context) {
		for range 4 {
			_, _ = l.AllowKeyAt(ctx, "alice", 1, c.Now())
		}
	})
	if n := len(h.children(req)); n != 0 {
		t.Fatalf("%d child spans for an in-process store, want none", n)
	}
	var got []string
	for _, ev := range req.Events() {
		a := attrs(ev.Attributes)
		got = append(got, ev.Name+" "+a["tollgate.result"]+" cached="+a["tollgate.cached"])
	}
	want := []string{
		"tollgate.decision allowed cached=false", "tollgate.decision allowed cached=false",
		"tollgate.decision denied cached=false", "tollgate.decision denied cached=true",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n got  %q\n want %q", got, want)
	}
}

// Under FailClosed the refused request's failed call is a span that carries the result; the
// call the open breaker refused reached no store: an event.
func TestFailClosed(t *testing.T) {
	h := newHarness(t)
	s := observetest.NewStore()
	s.SetDown(true)
	l := observetest.NewLimiter(t, core.Config{Store: s, Failure: core.FailClosed,
		Breaker:  core.BreakerConfig{Failures: 1, Cooldown: time.Hour},
		Observer: h.tracer.Observer(observe.Limiter{Name: "login", Store: s})})
	req := h.request(func(ctx context.Context) {
		for range 2 {
			if _, err := l.AllowKeyAt(ctx, "alice", 1, time.Now()); err == nil {
				t.Error("FailClosed allowed during an outage")
			}
		}
	})
	kids := h.children(req)
	if len(kids) != 1 {
		t.Fatalf("%d child spans, want the one failed call", len(kids))
	}
	if a := attrs(kids[0].Attributes()); a["tollgate.result"] != "failed_closed" || a["error.type"] != "_OTHER" || kids[0].Status().Code != codes.Error {
		t.Fatalf("span attributes %v, status %v", a, kids[0].Status())
	}
	ev := req.Events()
	if len(ev) != 1 || attrs(ev[0].Attributes)["tollgate.result"] != "failed_closed" {
		t.Fatalf("request events %+v, want the breaker's refusal as one failed_closed decision", ev)
	}
}

// A concurrency limit's acquires, its release and a failed extend are spans of their
// operation; the failed extend's lasts as long as the call.
func TestLeaseSpans(t *testing.T) {
	h := newHarness(t)
	s := observetest.NewStore()
	cl, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{Store: s, Policy: observetest.PolicySlots,
		Config: core.Config{Observer: h.tracer.Observer(observe.Limiter{Name: "jobs", Store: s})},
	})
	if err != nil {
		t.Fatal(err)
	}
	req := h.request(func(ctx context.Context) {
		lease, _, err := cl.AcquireKeyAt(ctx, "alice", time.Now())
		if err != nil || lease == nil {
			t.Fatalf("acquire: %v, %v", lease, err)
		}
		if _, res, _ := cl.AcquireKeyAt(ctx, "alice", time.Now()); res.Allowed {
			t.Fatal("second acquire allowed")
		}
		s.SetDown(true)
		s.Delay = 5 * time.Millisecond
		if err := lease.Extend(ctx); err == nil {
			t.Fatal("extend on a failing store succeeded")
		}
		s.SetDown(false)
		s.Delay = 0
		if err := lease.Release(ctx); err != nil {
			t.Fatal(err)
		}
	})
	var got []string
	for _, sp := range h.children(req) {
		a := attrs(sp.Attributes())
		got = append(got, sp.Name()+" result="+a["tollgate.result"]+" error="+a["error.type"])
		// The failed extend is timed: its span lasts as long as the slow store took to fail.
		if d := sp.EndTime().Sub(sp.StartTime()); sp.Name() == "tollgate.store extend" && d < 5*time.Millisecond {
			t.Errorf("the failed extend's span lasts %v, want the store's 5 ms at least", d)
		}
	}
	want := []string{
		"tollgate.store acquire result=allowed error=", "tollgate.store acquire result=denied error=",
		"tollgate.store extend result= error=_OTHER", "tollgate.store release result= error=",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("spans:\n got  %q\n want %q", got, want)
	}
}

// With reservations (core.Reservations), the take that reserves a batch is a span carrying
// the batch's size; the decisions answered from the batch made no store call: events, marked
// local.
func TestReservationsLocalDecisionsAreEvents(t *testing.T) {
	h := newHarness(t)
	s := observetest.NewStore()
	c := observetest.NewClock()
	l := observetest.NewLimiter(t, core.Config{Store: s, Now: c.Now,
		Rules:    []core.Rule{{Policy: observetest.PolicyBatch, Reserve: &core.Reservations{MaxBatch: 4, Shrink: 2}}},
		Observer: h.tracer.Observer(observe.Limiter{Name: "web", Store: s})})
	req := h.request(func(ctx context.Context) {
		for range 3 {
			if res, err := l.AllowKeyAt(ctx, "alice", 1, c.Now()); err != nil || !res.Allowed {
				t.Fatalf("take: allowed %v, err %v", res.Allowed, err)
			}
			c.Advance(10 * time.Millisecond)
		}
	})
	var got []string
	for _, sp := range h.children(req) {
		a := attrs(sp.Attributes())
		got = append(got, sp.Name()+" result="+a["tollgate.result"]+" reserved="+a["tollgate.reserved"])
	}
	for _, ev := range req.Events() {
		a := attrs(ev.Attributes)
		got = append(got, ev.Name+" result="+a["tollgate.result"]+" local="+a["tollgate.local"]+" cached="+a["tollgate.cached"])
	}
	want := []string{ // observetest.Reservations' first three takes: batches of 2 and 5
		"tollgate.store take result=allowed reserved=2", "tollgate.store take result=allowed reserved=5",
		"tollgate.decision result=allowed local=true cached=false",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("spans and events:\n got  %q\n want %q", got, want)
	}
}

// Without a recording span in the context nothing is recorded.
func TestUntracedRequest(t *testing.T) {
	h := newHarness(t)
	observetest.Denials(t, observetest.NewStore(), h.tracer.Observer(observe.Limiter{Name: "web"}), "alice")
	if n := len(h.rec.Ended()); n != 0 {
		t.Fatalf("%d spans for an untraced request", n)
	}
}
