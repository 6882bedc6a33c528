package oteltrace_test

import (
	"context"
	"fmt"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/observe"
	"github.com/tollgate-go/tollgate/observe/oteltrace"
)

// remoteStore stands in for a store that does I/O (Redis, DynamoDB, S3): the memory store
// behind an interface that hides storekit.InProcess, so the core times its calls.
type remoteStore struct{ core.Store }

// The limiter is called with the request's context; its store calls become child spans, and
// the denial cache's answer (no store call) an event on the request's span.
func Example() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tr, err := oteltrace.New(oteltrace.Options{TracerProvider: tp})
	if err != nil {
		panic(err)
	}
	store := remoteStore{memstore.New()}
	lim, err := core.NewLimiter(core.Config{
		Store:    store,
		Rules:    []core.Rule{{Policy: core.NewFixedWindow("api", 1, time.Minute)}},
		Observer: tr.Observer(observe.Limiter{Name: "api", Store: store}),
	})
	if err != nil {
		panic(err)
	}
	ctx, span := tp.Tracer("app").Start(context.Background(), "GET /items")
	for range 3 {
		_, _ = lim.AllowKey(ctx, "192.0.2.1", 1)
	}
	span.End()

	for _, s := range rec.Ended() {
		fmt.Println(s.Name())
		for _, e := range s.Events() {
			fmt.Println("  event", e.Name)
		}
	}
	// Output:
	// tollgate.store take
	// tollgate.store take
	// GET /items
	//   event tollgate.decision
}
