// Command gin is the quickstart API (examples/quickstart) on Gin, protected by Tollgate on
// the embedded in-memory store.
//
//	go run ./examples/gin            # listens on 127.0.0.1:8082
//
// What it limits:
//
//   - every route but the /api group, with one line (r.Use): 10 requests per minute per
//     client IP (the API is limited per key: many clients may share an address);
//   - POST /login: 3 attempts per minute per client IP, failing closed;
//   - the /api group: per API key (X-API-Key), by plan: "pro-" keys 100 per minute, others 5
//     (token bucket); no key is 401;
//   - GET /slow: at most 2 requests at once per client IP (concurrency lease).
//
// It prints a script of curl commands, one demo per limit, each showing its own 429 (the
// test runs that script and checks every answer). Flags: -addr, the listen address (default
// $TOLLGATE_ADDR, else 127.0.0.1:8082; port 0 picks a free port).
package main

import (
	"context"
	"errors"
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

	"github.com/gin-gonic/gin"
	tollgategin "github.com/tollgate-go/tollgate/adapters/gin"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

func main() {
	addr := flag.String("addr", defaultAddr("127.0.0.1:8082"), "listen address (default $TOLLGATE_ADDR when set)")
	flag.Parse()
	gin.SetMode(gin.ReleaseMode)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	r, err := newRouter(memstore.New(), slog.New(slog.NewTextHandler(os.Stderr, nil)), sleep(3*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	printHelp(os.Stdout, "http://"+l.Addr().String())
	srv := newServer(r)
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// defaultAddr returns $TOLLGATE_ADDR, or def when it is not set.
func defaultAddr(def string) string {
	if a := os.Getenv("TOLLGATE_ADDR"); a != "" {
		return a
	}
	return def
}

// newServer returns the HTTP server of h, with timeouts that keep slow or idle clients from
// holding connections forever: ReadHeaderTimeout bounds how long a client may take to send
// its headers (a slowloris), IdleTimeout how long a keep-alive connection may sit unused.
func newServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
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

// newRouter builds the API; slow is what GET /slow does.
func newRouter(s store, logger *slog.Logger, slow func(context.Context)) (*gin.Engine, error) {
	obs := core.SlogObserver(logger)
	r := gin.New()
	r.Use(gin.Recovery())

	// Global: 10 per minute per client IP, outside the /api group (limited per API key
	// below). Clients connect directly, so no proxy is trusted.
	global, err := tollgategin.New(core.Config{
		Store:    s,
		Rules:    []core.Rule{{Policy: core.NewFixedWindow("global", 10, time.Minute)}},
		Observer: obs,
	}, tollgategin.Options{Skip: func(c *gin.Context) bool { return strings.HasPrefix(c.Request.URL.Path, "/api/") }})
	if err != nil {
		return nil, err
	}
	r.Use(global)

	// POST /login: 3 attempts per minute per IP, failing closed: if the store is down,
	// logins wait rather than allowing unlimited password guessing.
	login, err := tollgategin.New(core.Config{
		Store:    s,
		Rules:    []core.Rule{{Policy: core.NewFixedWindow("login", 3, time.Minute)}},
		Failure:  core.FailClosed,
		Observer: obs,
	}, tollgategin.Options{})
	if err != nil {
		return nil, err
	}
	r.POST("/login", login, func(c *gin.Context) { c.String(http.StatusUnauthorized, "wrong password\n") })

	// The /api group: keyed by API key instead of IP, with a policy per plan.
	free := core.NewTokenBucket("free", 5, time.Minute, 5)
	pro := core.NewTokenBucket("pro", 100, time.Minute, 20)
	api, err := tollgategin.New(core.Config{
		Store: s,
		Key:   core.KeyByHeader("X-API-Key"),
		Rules: []core.Rule{{PolicyFunc: func(_ context.Context, key string) (core.Policy, error) {
			if strings.HasPrefix(key, "pro-") {
				return pro, nil
			}
			return free, nil
		}}},
		Observer: obs,
	}, tollgategin.Options{MissingKeyStatus: http.StatusUnauthorized})
	if err != nil {
		return nil, err
	}
	g := r.Group("/api", api)
	g.GET("/items/:id", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"id": c.Param("id")}) })

	// GET /slow: 2 at once per IP.
	slowLimiter, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{
		Store:  s,
		Policy: core.NewConcurrency("slow", 2, 30*time.Second),
		Config: core.Config{Observer: obs},
	})
	if err != nil {
		return nil, err
	}
	r.GET("/slow", tollgategin.Concurrency(slowLimiter, tollgategin.ConcurrencyOptions{}), func(c *gin.Context) {
		slow(c.Request.Context())
		c.String(http.StatusOK, "done\n")
	})

	r.GET("/", func(c *gin.Context) { c.String(http.StatusOK, "hello from tollgate on gin\n") })
	return r, nil
}

// printHelp prints where the API listens and the demo script, one demo per limit. The demos
// run in this order because every request outside /api counts against the global limit: the
// per-route demos spend 7 of its 10 per minute, and the last demo spends the rest.
func printHelp(w io.Writer, base string) {
	fmt.Fprintf(w, `tollgate gin example listening on %[1]s (in-memory store)

Try the demos in this order: each shows its own limit. Every request outside /api also
counts against the global limit (10 per minute per IP), which the last demo spends.

  # POST /login: 3 attempts per minute per IP: 401 401 401, then a 429 naming "login"
  for i in 1 2 3; do curl -s -o /dev/null -w '%%{http_code}\n' -X POST %[1]s/login; done
  curl -s -w '%%{http_code}\n' -X POST %[1]s/login

  # the /api group: per API key, by plan (free-* 5 per minute, pro-* 100): 200 x5, a 429 naming "free"; no key: 401
  for i in 1 2 3 4 5; do curl -s -o /dev/null -w '%%{http_code}\n' -H 'X-API-Key: free-alice' %[1]s/api/items/$i; done
  curl -s -w '%%{http_code}\n' -H 'X-API-Key: free-alice' %[1]s/api/items/6
  curl -s -w '%%{http_code}\n' %[1]s/api/items/1

  # GET /slow: 2 at once per IP, 3 s each: two 200s and a 429 naming "slow"
  for i in 1 2 3; do curl -s -w '%%{http_code}\n' %[1]s/slow & done; wait

  # every route but /api: 10 per minute per IP, the 7 requests above included: 200 200 200, then a 429 naming "global"
  for i in 1 2 3; do curl -s -o /dev/null -w '%%{http_code}\n' %[1]s/; done
  curl -i %[1]s/          # RateLimit-Policy, RateLimit, Retry-After and the problem+json body
`, base)
}
