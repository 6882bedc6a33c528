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
			app := fiber.New(fiber.Config{DisableStartupMessage: true})
			if c.mw != nil {
				app.Use(c.mw)
			}
			app.Get("/items/:id", func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusOK) })
			h := app.Handler()
			var req fasthttp.Request
			req.Header.SetMethod(fiber.MethodGet)
			req.SetRequestURI("/items/1")
			fctx := &fasthttp.RequestCtx{}
			fctx.Init(&req, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1234}, nil)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				fctx.Response.Reset()
				h(fctx)
			}
			if code := fctx.Response.StatusCode(); code != fiber.StatusOK {
				b.Fatalf("status %d, want 200", code)
			}
		})
	}
}
