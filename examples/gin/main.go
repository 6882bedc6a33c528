// Command gin is the quickstart API (examples/quickstart) on Gin, protected by Tollgate on
// the embedded in-memory store.
//
//	go run ./examples/gin            # listens on 127.0.0.1:8082
//
// What it limits:
//
//   - every route, with one line (r.Use): 10 requests per minute per client IP;
//   - POST /login: 3 attempts per minute per client IP, failing closed;
//   - the /api group: per API key (X-API-Key), by plan: "pro-" keys 100 per minute, others 5
//     (token bucket); no key is 401;
//   - GET /slow: at most 2 requests at once per client IP (concurrency lease).
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
	addr := flag.String("addr", "127.0.0.1:8082", "listen address")
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
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
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

	// Global: 10 per minute per client IP. Clients connect directly, so no proxy is trusted.
	global, err := tollgategin.New(core.Config{
		Store:    s,
		Limits:   []core.Limit{{Policy: core.NewFixedWindow("global", 10, time.Minute)}},
		Observer: obs,
	}, tollgategin.Options{})
	if err != nil {
		return nil, err
	}
	r.Use(global)

	// POST /login: 3 attempts per minute per IP, failing closed: if the store is down,
	// logins wait rather than allowing unlimited password guessing.
	login, err := tollgategin.New(core.Config{
		Store:    s,
		Limits:   []core.Limit{{Policy: core.NewFixedWindow("login", 3, time.Minute)}},
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
		Limits: []core.Limit{{PolicyFunc: func(_ context.Context, key string) (core.Policy, error) {
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
		Store:    s,
		Policy:   core.NewConcurrency("slow", 2, 30*time.Second),
		Observer: obs,
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

func printHelp(w io.Writer, base string) {
	fmt.Fprintf(w, `tollgate gin example listening on %[1]s (in-memory store)

Try it:
  for i in $(seq 11); do curl -s -o /dev/null -w '%%{http_code}\n' %[1]s/; done
  curl -i %[1]s/          # RateLimit-Policy, RateLimit, Retry-After, problem+json body
  for i in $(seq 4); do curl -s -o /dev/null -w '%%{http_code}\n' -X POST %[1]s/login; done
  curl -i -H 'X-API-Key: free-alice' %[1]s/api/items/1
  curl -i %[1]s/api/items/1          # 401: no API key
  for i in 1 2 3; do curl -s -o /dev/null -w '%%{http_code}\n' %[1]s/slow & done; wait
`, base)
}
