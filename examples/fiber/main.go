// Command fiber is the quickstart API (examples/quickstart) on Fiber v2, protected by
// Tollgate's native Fiber handlers on the embedded in-memory store.
//
//	go run ./examples/fiber          # listens on 127.0.0.1:8083
//
// What it limits:
//
//   - every route, with one line (app.Use): 10 requests per minute per client IP;
//   - POST /login: 3 attempts per minute per client IP, failing closed;
//   - the /api group: per API key (X-API-Key), by plan: "pro-" keys 100 per minute, others 5
//     (token bucket); no key is 401;
//   - GET /slow: at most 2 requests at once per client IP (concurrency lease).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	fiberrecover "github.com/gofiber/fiber/v2/middleware/recover"
	tollgatefiber "github.com/tollgate-go/tollgate/adapters/fiber"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8083", "listen address")
	flag.Parse()
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	app, err := newApp(memstore.New(), slog.New(slog.NewTextHandler(os.Stderr, nil)), sleep(3*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	printHelp(os.Stdout, "http://"+l.Addr().String())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = app.ShutdownWithTimeout(5 * time.Second)
	}()
	if err := app.Listener(l); err != nil {
		log.Fatal(err)
	}
}

// sleep is GET /slow's work: d, or less if the client goes away.
func sleep(d time.Duration) func(context.Context) {
	return func(ctx context.Context) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
}

// store is what the example needs of a store: memstore here, a shared store in production.
type store interface {
	core.Store
	core.ConcurrencyStore
}

// newApp builds the API; slow is what GET /slow does.
func newApp(s store, logger *slog.Logger, slow func(context.Context)) (*fiber.App, error) {
	obs := core.SlogObserver(logger)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(fiberrecover.New())

	// Global: 10 per minute per client IP. Clients connect directly, so no proxy is trusted.
	global, err := core.NewLimiter(core.Config{
		Store:    s,
		Limits:   []core.Limit{{Policy: core.NewFixedWindow("global", 10, time.Minute)}},
		Observer: obs,
	})
	if err != nil {
		return nil, err
	}
	app.Use(tollgatefiber.New(tollgatefiber.Config{Limiter: global}))

	// POST /login: 3 attempts per minute per IP, failing closed: if the store is down,
	// logins wait rather than allowing unlimited password guessing.
	login, err := core.NewLimiter(core.Config{
		Store:    s,
		Limits:   []core.Limit{{Policy: core.NewFixedWindow("login", 3, time.Minute)}},
		Failure:  core.FailClosed,
		Observer: obs,
	})
	if err != nil {
		return nil, err
	}
	app.Post("/login", tollgatefiber.New(tollgatefiber.Config{Limiter: login}), func(c *fiber.Ctx) error {
		return c.Status(http.StatusUnauthorized).SendString("wrong password\n")
	})

	// The /api group: keyed by API key instead of IP, with a policy per plan.
	free := core.NewTokenBucket("free", 5, time.Minute, 5)
	pro := core.NewTokenBucket("pro", 100, time.Minute, 20)
	api, err := core.NewLimiter(core.Config{
		Store: s,
		Key:   core.KeyByHeader("X-API-Key"),
		Limits: []core.Limit{{PolicyFunc: func(_ context.Context, key string) (core.Policy, error) {
			if strings.HasPrefix(key, "pro-") {
				return pro, nil
			}
			return free, nil
		}}},
		Observer: obs,
	})
	if err != nil {
		return nil, err
	}
	g := app.Group("/api", tollgatefiber.New(tollgatefiber.Config{Limiter: api, MissingKeyStatus: http.StatusUnauthorized}))
	g.Get("/items/:id", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"id": c.Params("id")}) })

	// GET /slow: 2 at once per IP.
	slowLimiter, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{
		Store:    s,
		Policy:   core.NewConcurrency("slow", 2, 30*time.Second),
		Observer: obs,
	})
	if err != nil {
		return nil, err
	}
	app.Get("/slow", tollgatefiber.NewConcurrency(tollgatefiber.ConcurrencyConfig{Limiter: slowLimiter}), func(c *fiber.Ctx) error {
		slow(c.UserContext())
		return c.SendString("done\n")
	})

	app.Get("/", func(c *fiber.Ctx) error { return c.SendString("hello from tollgate on fiber\n") })
	return app, nil
}

func printHelp(w io.Writer, base string) {
	fmt.Fprintf(w, `tollgate fiber example listening on %[1]s (in-memory store)

Try it:
  for i in $(seq 11); do curl -s -o /dev/null -w '%%{http_code}\n' %[1]s/; done
  curl -i %[1]s/          # RateLimit-Policy, RateLimit, Retry-After, problem+json body
  for i in $(seq 4); do curl -s -o /dev/null -w '%%{http_code}\n' -X POST %[1]s/login; done
  curl -i -H 'X-API-Key: free-alice' %[1]s/api/items/1
  curl -i %[1]s/api/items/1          # 401: no API key
  for i in 1 2 3; do curl -s -o /dev/null -w '%%{http_code}\n' %[1]s/slow & done; wait
`, base)
}
