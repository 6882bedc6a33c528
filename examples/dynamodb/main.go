// Command dynamodb is the quickstart API with its limits shared through Amazon DynamoDB:
// run several instances against one table and they enforce one limit together.
//
//	# against AWS: region and credentials from the standard environment
//	AWS_REGION=eu-west-1 go run ./examples/dynamodb -table tollgate
//
//	# against a local dynalite (npx dynalite --port 8000), no AWS account
//	AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x \
//	  go run ./examples/dynamodb -endpoint http://127.0.0.1:8000 -create-table
//
// The endpoint may also come from AWS_ENDPOINT_URL_DYNAMODB. In production create the table
// once with `tollgate dynamodb-create-table -table tollgate` and give the application only
// the store's IAM permissions (see core/dynamostore).
//
// What it limits (as examples/quickstart, but fleet-wide):
//
//   - every route: 10 requests per minute per client IP (fixed window); while DynamoDB is
//     unreachable, a local in-memory limit takes over (divided among -instances);
//   - POST /login: 3 attempts per minute per client IP; fails closed (503) when DynamoDB
//     is unreachable, rather than allowing unlimited password guessing;
//   - /api/: per API key (X-API-Key), by plan: "pro-" keys 100 per minute, others 5 per
//     minute (token bucket); no key is 401;
//   - GET /slow: at most 2 requests at once per client IP across the fleet (leases).
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
	"github.com/tollgate-go/tollgate/core/dynamostore"
	"github.com/tollgate-go/tollgate/core/memstore"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	table := flag.String("table", "tollgate", "DynamoDB table")
	endpoint := flag.String("endpoint", "", "DynamoDB endpoint URL, e.g. http://127.0.0.1:8000 for dynalite (default: AWS_ENDPOINT_URL_DYNAMODB or the region's)")
	create := flag.Bool("create-table", false, "create the table first if it does not exist (needs dynamodb:CreateTable)")
	instances := flag.Int("instances", 1, "how many instances share the limits (divides the fallback limits)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	store, err := openStore(ctx, *table, *endpoint, *create)
	if err != nil {
		log.Fatal(err)
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	h, err := newHandler(store, *instances, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		log.Fatal(err)
	}
	printHelp(os.Stdout, "http://"+l.Addr().String(), *table)
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

// openStore builds the DynamoDB client from the standard AWS environment (with the project's
// retries and backoff) and the store on table.
func openStore(ctx context.Context, table, endpoint string, create bool) (*dynamostore.Store, error) {
	client, err := dynamostore.NewClient(ctx, dynamostore.ClientOptions{Endpoint: endpoint})
	if err != nil {
		return nil, err
	}
	if create {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if _, err := dynamostore.CreateTable(cctx, client, dynamostore.TableOptions{Name: table}); err != nil {
			return nil, err
		}
	}
	return dynamostore.New(client, dynamostore.Config{Table: table})
}

// newHandler builds the API on a shared store: a ServeMux with per-route limiters, wrapped in
// the global one. instances divides the fallback limits.
func newHandler(s *dynamostore.Store, instances int, logger *slog.Logger) (http.Handler, error) {
	obs := core.SlogObserver(logger)

	// Global: 10 per minute per client IP. Clients connect directly here, so no proxy is
	// trusted. When DynamoDB is unreachable (beyond the 100 ms per-decision budget, its
	// retries included), each instance enforces its share of the limit locally.
	global, err := nethttp.New(core.Config{
		Store:             s,
		Limits:            []core.Limit{{Policy: core.NewFixedWindow("global", 10, time.Minute)}},
		Key:               core.KeyByIP(),
		Failure:           core.FailFallback,
		Fallback:          memstore.New(),
		FallbackInstances: instances,
		Observer:          obs,
	}, nethttp.Options{})
	if err != nil {
		return nil, err
	}

	// POST /login: 3 attempts per minute per IP, failing closed.
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

	// GET /slow: 2 at once per IP, fleet-wide; a crashed instance's leases expire after 30 s.
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
		_, _ = io.WriteString(w, "hello from tollgate on DynamoDB\n")
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

func printHelp(w io.Writer, base, table string) {
	fmt.Fprintf(w, `tollgate on DynamoDB listening on %[1]s (table %[2]s)

Start a second instance with another -addr: both share the limits below.
  for i in $(seq 11); do curl -s -o /dev/null -w '%%{http_code}\n' %[1]s/; done   # 11th: 429
  for i in $(seq 4); do curl -s -o /dev/null -w '%%{http_code}\n' -X POST %[1]s/login; done
  curl -i -H 'X-API-Key: free-alice' %[1]s/api/items
  for i in 1 2 3; do curl -s -o /dev/null -w '%%{http_code}\n' %[1]s/slow & done; wait
  go run ./cmd/tollgate dynamodb-inspect -table %[2]s -policy global -limit 10 -window 1m 127.0.0.1
`, base, table)
}
