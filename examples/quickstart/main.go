// Command quickstart is a small HTTP API protected by Tollgate on the embedded in-memory
// store: no AWS account, no Redis, nothing to install.
//
//	go run ./examples/quickstart            # listens on 127.0.0.1:8080
//
// What it limits:
//
//   - every route but /api/: 10 requests per minute per client IP (fixed window);
//   - POST /login: 3 attempts per minute per client IP, on top of the global limit;
//   - /api/: per API key (X-API-Key header), by plan: keys starting "pro-" get 100 per
//     minute, others 5 per minute (token bucket); no key is 401. The API is limited by key,
//     not by IP: many clients may share an address, and a pro key's 100 per minute would
//     never be reachable under a 10-per-minute IP limit;
//   - GET /slow: at most 2 requests at once per client IP (concurrency lease), each 3 s long.
//
// It prints where it listens and a script of curl commands, one demo per limit, each
// showing its own 429 (the test runs that script and checks every answer).
//
// Flags: -addr, the listen address (default $TOLLGATE_ADDR, else 127.0.0.1:8080; port 0
// picks a free port, and the script shows the one picked); -admin ADDR, off by default, also
// serves Tollgate's Prometheus metrics at /metrics and the live status page at /tollgate
// (?format=json for JSON) on a second, private listener (github.com/tollgate-go/tollgate/observe):
//
//	go run ./examples/quickstart -admin 127.0.0.1:9090
//	curl -s http://127.0.0.1:9090/metrics | grep ^tollgate_
//
// Keep that address private (loopback, or behind the application's admin authentication):
// the status page lists the most denied keys (hashed) and the metrics describe the limits.
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
	addr := flag.String("addr", defaultAddr("127.0.0.1:8080"), "listen address (default $TOLLGATE_ADDR when set)")
	admin := flag.String("admin", "", "also serve Prometheus /metrics and the status page /tollgate on this private address (e.g. 127.0.0.1:9090)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	var tel *telemetry
	if *admin != "" {
		if tel, err = serveTelemetry(ctx, *admin); err != nil {
			log.Fatal(err)
		}
	}
	h, err := newHandler(memstore.New(), slog.New(slog.NewTextHandler(os.Stderr, nil)), tel)
	if err != nil {
		log.Fatal(err)
	}
	printHelp(os.Stdout, "http://"+l.Addr().String())
	srv := newServer(h)
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

// store is what the quickstart needs of a store; examples/dynamodb passes a DynamoDB store.
type store interface {
	core.Store
	core.ConcurrencyStore
}

// newHandler builds the API: a ServeMux with per-route limiters, wrapped in the global one.
// With tel (the -admin flag), every limiter also feeds the metrics and the status page.
func newHandler(s store, logger *slog.Logger, tel *telemetry) (http.Handler, error) {
	obs := core.SlogObserver(logger)

	// Global: 10 per minute per client IP, on every route but /api/ (limited per API key
	// below). Clients connect directly here, so no proxy is trusted: a forged
	// X-Forwarded-For changes nothing.
	globalPolicy := core.NewFixedWindow("global", 10, time.Minute)
	global, err := nethttp.New(core.Config{
		Store:    s,
		Rules:    []core.Rule{{Policy: globalPolicy}},
		Key:      core.KeyByIP(),
		Observer: tel.observe(obs, "global", s, core.FailOpen, globalPolicy),
	}, nethttp.Options{Skip: func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }})
	if err != nil {
		return nil, err
	}

	// POST /login: 3 attempts per minute per IP. Failing closed: if the store is down,
	// logins wait rather than allowing unlimited password guessing.
	loginPolicy := core.NewFixedWindow("login", 3, time.Minute)
	login, err := nethttp.New(core.Config{
		Store:    s,
		Rules:    []core.Rule{{Policy: loginPolicy}},
		Failure:  core.FailClosed,
		Observer: tel.observe(obs, "login", s, core.FailClosed, loginPolicy),
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
		Rules: []core.Rule{{PolicyFunc: func(_ context.Context, key string) (core.Policy, error) {
			// A real service looks the key's plan up in its database (and returns an error
			// wrapping core.ErrMissingKey for unknown keys, which becomes a 401).
			if strings.HasPrefix(key, "pro-") {
				return pro, nil
			}
			return free, nil
		}}},
		Observer: tel.observe(obs, "api", s, core.FailOpen, free, pro),
	}, nethttp.Options{MissingKeyStatus: http.StatusUnauthorized})
	if err != nil {
		return nil, err
	}

	// GET /slow: 2 at once per IP.
	slowPolicy := core.NewConcurrency("slow", 2, 30*time.Second)
	slowLimiter, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{
		Store:  s,
		Policy: slowPolicy,
		Config: core.Config{Observer: tel.observe(obs, "slow", s, core.FailOpen, slowPolicy)},
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

// printHelp prints where the API listens and the demo script, one demo per limit. The demos
// run in this order because every request but /api/ counts against the global limit: the
// per-route demos spend 7 of its 10 per minute, and the last demo spends the rest.
func printHelp(w io.Writer, base string) {
	fmt.Fprintf(w, `tollgate quickstart listening on %[1]s (in-memory store)

Try the demos in this order: each shows its own limit. Every request but /api/ also counts
against the global limit (10 per minute per IP), which the last demo spends.

  # POST /login: 3 attempts per minute per IP: 401 401 401, then a 429 naming "login"
  for i in 1 2 3; do curl -s -o /dev/null -w '%%{http_code}\n' -X POST %[1]s/login; done
  curl -s -w '%%{http_code}\n' -X POST %[1]s/login

  # /api/: per API key, by plan (free-* 5 per minute, pro-* 100): 200 x5, a 429 naming "free"; no key: 401
  for i in 1 2 3 4 5; do curl -s -o /dev/null -w '%%{http_code}\n' -H 'X-API-Key: free-alice' %[1]s/api/items; done
  curl -s -w '%%{http_code}\n' -H 'X-API-Key: free-alice' %[1]s/api/items
  curl -s -w '%%{http_code}\n' %[1]s/api/items

  # GET /slow: 2 at once per IP, 3 s each: two 200s and a 429 naming "slow"
  for i in 1 2 3; do curl -s -w '%%{http_code}\n' %[1]s/slow & done; wait

  # every route but /api/: 10 per minute per IP, the 7 requests above included: 200 200 200, then a 429 naming "global"
  for i in 1 2 3; do curl -s -o /dev/null -w '%%{http_code}\n' %[1]s/; done
  curl -i %[1]s/          # RateLimit-Policy, RateLimit, Retry-After and the problem+json body
`, base)
}
