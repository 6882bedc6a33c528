package bench_test

import (
	"net"
	"testing"

	"github.com/gofiber/fiber/v2"
	fiberlimiter "github.com/gofiber/fiber/v2/middleware/limiter"
	tollgatefiber "github.com/tollgate-go/tollgate/adapters/fiber"
	"github.com/valyala/fasthttp"
)

// fiberContender builds a Fiber app whose GET / answers 200 "ok" behind mw (nil: bare).
type fiberContender struct {
	name  string
	build func(tb testing.TB, limit int64) fiber.Handler
}

var fiberContenders = []fiberContender{
	{name: "bare"},
	{name: "tollgate", build: func(tb testing.TB, limit int64) fiber.Handler {
		return tollgatefiber.New(tollgatefiber.Config{Limiter: tollgateLimiter(tb, limit)})
	}},
	{name: "fiber", build: func(_ testing.TB, limit int64) fiber.Handler {
		// Fiber's own limiter (fixed window, in-memory storage, keyed by c.IP()).
		return fiberlimiter.New(fiberlimiter.Config{Max: int(limit), Expiration: window})
	}},
}

func fiberApp(mw fiber.Handler) fasthttp.RequestHandler {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	if mw != nil {
		app.Use(mw)
	}
	app.Get("/", func(c *fiber.Ctx) error { return c.SendString("ok\n") })
	return app.Handler()
}

// fiberWorker returns a worker that serves h through one reusable fasthttp.RequestCtx whose
// remote address is the key's, as fasthttp's server would set it.
func fiberWorker(h fasthttp.RequestHandler, keys []string) func() worker {
	addrs := make([]net.Addr, len(keys))
	for i, k := range keys {
		addrs[i] = &net.TCPAddr{IP: net.ParseIP(k), Port: 40000 + i%20000}
	}
	return func() worker {
		var req fasthttp.Request
		req.Header.SetMethod("GET")
		req.SetRequestURI("http://example.com/")
		ctx := new(fasthttp.RequestCtx)
		ctx.Init(&req, nil, nil)
		return func(i int) int {
			ctx.Response.Reset()
			ctx.SetRemoteAddr(addrs[i])
			h(ctx)
			return answer(ctx.Response.StatusCode())
		}
	}
}

// fiberTargets adapts fiberContenders to the workload runner.
func fiberTargets() []contender {
	cs := make([]contender, len(fiberContenders))
	for i, c := range fiberContenders {
		cs[i] = contender{name: c.name, allowOnly: c.build == nil, build: func(tb testing.TB, limit int64, keys []string) target {
			var mw fiber.Handler
			if c.build != nil {
				mw = c.build(tb, limit)
			}
			return target{newWorker: fiberWorker(fiberApp(mw), keys), close: func() {}}
		}}
	}
	return cs
}

// BenchmarkFiber is each middleware on Fiber v2, keyed by client IP, against bare Fiber.
func BenchmarkFiber(b *testing.B) { runMatrix(b, fiberTargets()) }
