// Command quickstart is a small HTTP API protected by Tollgate on the embedded in-memory
// store: no AWS account, no Redis, nothing to install.
//
//	go run ./examples/quickstart            # listens on 127.0.0.1:8080
//
// What it limits:
//
//   - every route: 10 requests per minute per client IP (fixed window);
//   - POST /login: 3 attempts per minute per client IP, on top of the global limit;
//   - /api/: per API key (X-API-Key header), by plan: keys starting "pro-" get 100 per
//     minute, others 5 per minute (token bucket); no key is 401;
//   - GET /slow: at most 2 requests at once per client IP (concurrency lease), each 3 s long.
//
// It prints where it listens and curl commands to see the limits.
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

	"github.com/tollgate-go/tollgate/adapters/nethttp"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	h, err := newHandler(memstore.New(), slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		log.Fatal(err)
	}
	printHelp(os.Stdout, "http://"+l.Addr().String())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
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

// store is what the quickstart needs of a store; examples/dynamodb passes a DynamoDB store.
type store interface {
	core.Store
	core.ConcurrencyStore
}

// newHandler builds the API: a ServeMux with per-route limiters, wrapped in the global one.
func newHandler(s store, logger *slog.Logger) (http.Handler, error) {
	obs := core.SlogObserver(logger)

	// Global: 10 per minute per client IP. Clients connect directly here, so no proxy is
	// trusted: a forged X-Forwarded-For changes nothing.
	global, err := nethttp.New(core.Config{
		Store:    s,
		Limits:   []core.Limit{{Policy: core.NewFixedWindow("global", 10, time.Minute)}},
		Key:      core.KeyByIP(),
		Observer: obs,
	}, nethttp.Options{})
	if err != nil {
		return nil, err
	}

	// POST /login: 3 attempts per minute per IP. Failing closed: if the store is down,
	// logins wait rather than allowing unlimited password guessing.
	login, err := nethttp.New(core.Config{
		Store:    s,
		Limits:   []core.Limit{{Policy: core.NewFixedWindow("login", 3, time.Minute)}},
		Failure:  core.FailClosed,
		Observer: obs,
	}, nethttp.Options{})
	if err != nil {
		return nil, err
	}

	// /api/: per API key, by plan.
	free := core.NewTokenBucket("free", 5, time.Minute, 5)
	pro := core.NewTokenBucket("pro", 100, time.Minute, 20)
	api, err := nethttp.New(core.Config{
		Store: s,
		Key:   core.KeyByHeader("X-API-Key"),
		Limits: []core.Limit{{PolicyFunc: func(_ context.Context, key string) (core.Policy, error) {
			// A real service looks the key's plan up in its database (and returns an error
			// wrapping core.ErrMissingKey for unknown keys, which becomes a 401).
			if strings.HasPrefix(key, "pro-") {
				return pro, nil
			}
			return free, nil
		}}},
		Observer: obs,
	}, nethttp.Options{MissingKeyStatus: http.StatusUnauthorized})
	if err != nil {
		return nil, err
	}

	// GET /slow: 2 at once per IP.
	slowLimiter, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{
		Store:    s,
		Policy:   core.NewConcurrency("slow", 2, 30*time.Second),
		Observer: obs,
	})
	if err != nil {
		return nil, err
	}
	slow := nethttp.Concurrency(slowLimiter, nethttp.ConcurrencyOptions{})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello from tollgate\n")
	})
	mux.Handle("POST /login", login(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "wrong password", http.StatusUnauthorized)
	})))
	mux.Handle("/api/", api(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, "{\"path\":%q}\n", r.URL.Path)
	})))
	mux.Handle("GET /slow", slow(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
			_, _ = io.WriteString(w, "done\n")
		case <-r.Context().Done():
		}
	})))
	return global(mux), nil
}

func printHelp(w io.Writer, base string) {
	fmt.Fprintf(w, `tollgate quickstart listening on %[1]s (in-memory store)

Try it:
  # 10 per minute per IP on every route: the 11th gets 429 with Retry-After
  for i in $(seq 11); do curl -s -o /dev/null -w '%%{http_code}\n' %[1]s/; done
  curl -i %[1]s/          # RateLimit-Policy, RateLimit, Retry-After, problem+json body

  # 3 login attempts per minute
  for i in $(seq 4); do curl -s -o /dev/null -w '%%{http_code}\n' -X POST %[1]s/login; done

  # API plans by key: free-* 5/min, pro-* 100/min; no key is 401
  curl -i -H 'X-API-Key: free-alice' %[1]s/api/items
  curl -i %[1]s/api/items

  # 2 concurrent /slow requests per IP: the third gets 429
  for i in 1 2 3; do curl -s -o /dev/null -w '%%{http_code}\n' %[1]s/slow & done; wait
`, base)
}
