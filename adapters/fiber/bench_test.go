package tollgatefiber_test

import (
	"net"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"
	tollgatefiber "github.com/tollgate-go/tollgate/adapters/fiber"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/valyala/fasthttp"
)

// BenchmarkMiddleware measures the added cost of an allowed request on the memory store,
// against the same Fiber app without middleware and with Fiber's own middleware/limiter on
// its memory storage (limits high enough that every request is allowed). Requests go
// straight into the app's fasthttp handler, as Fiber's own benchmarks do.
//
//	go test -run '^$' -bench Middleware -benchmem ./adapters/fiber/
func BenchmarkMiddleware(b *testing.B) {
	l, err := core.NewLimiter(core.Config{
		Store: memstore.New(),
		Rules: []core.Rule{{Policy: core.NewFixedWindow("bench", 1<<50, time.Hour)}},
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		mw   fiber.Handler
	}{
		{"bare", nil},
		{"tollgate", tollgatefiber.New(tollgatefiber.Config{Limiter: l})},
		{"fiber-limiter", limiter.New(limiter.Config{Max: 1 << 30, Expiration: time.Hour})},
	} {
		b.Run(c.name, func(b *testing.B) {
			fctx := benchApp(b, c.mw)
			if code := fctx.Response.StatusCode(); code != fiber.StatusOK {
				b.Fatalf("status %d, want 200", code)
			}
		})
	}
}

// BenchmarkHeaders measures the middleware on the header shapes a response can take: one
// policy allowed, one policy denied (Retry-After too), two rules, and the legacy fields.
//
//	go test -run '^$' -bench Headers -benchmem ./adapters/fiber/
func BenchmarkHeaders(b *testing.B) {
	one := core.Rule{Policy: core.NewFixedWindow("bench", 1<<50, time.Hour)}
	for _, c := range []struct {
		name   string
		rules  []core.Rule
		legacy bool
	}{
		{"one", []core.Rule{one}, false},
		{"deny", []core.Rule{{Policy: core.NewFixedWindow("bench", 1, time.Hour)}}, false},
		{"two-rules", []core.Rule{one, {Policy: core.NewSlidingWindow("burst", 1<<50, time.Minute)}}, false},
		{"legacy", []core.Rule{one}, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			l, err := core.NewLimiter(core.Config{Store: memstore.New(), Rules: c.rules})
			if err != nil {
				b.Fatal(err)
			}
			cfg := tollgatefiber.Config{Limiter: l}
			cfg.Headers.Legacy = c.legacy
			fctx := benchApp(b, tollgatefiber.New(cfg))
			if len(fctx.Response.Header.Peek("RateLimit")) == 0 {
				b.Fatalf("no RateLimit field: %s", fctx.Response.Header.String())
			}
		})
	}
}

// benchApp runs b.N requests for /items/1 through a Fiber app with mw (none when nil) in
// front of a handler answering 200, straight into its fasthttp handler, and returns the
// request context of the last one.
func benchApp(b *testing.B, mw fiber.Handler) *fasthttp.RequestCtx {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	if mw != nil {
		app.Use(mw)
	}
	app.Get("/items/:id", func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusOK) })
	h := app.Handler()
	var req fasthttp.Request
	req.Header.SetMethod(fiber.MethodGet)
	req.SetRequestURI("/items/1")
	fctx := &fasthttp.RequestCtx{}
	fctx.Init(&req, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1234}, nil)
	b.ReportAllocs()
	for b.Loop() {
		fctx.Response.Reset()
		h(fctx)
	}
	return fctx
}
