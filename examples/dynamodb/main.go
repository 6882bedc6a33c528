// Command dynamodb is the quickstart API with its limits shared through Amazon DynamoDB:
// run several instances against one table and they enforce one limit together.
//
//	# against AWS: region and credentials from the standard environment
//	AWS_REGION=eu-west-1 go run ./examples/dynamodb -table tollgate
//
//	# against a local dynalite (npx dynalite --port 8000) or DynamoDB Local: nothing else needed
//	go run ./examples/dynamodb -endpoint http://127.0.0.1:8000 -create-table
//
// With -endpoint (a local server), the region defaults to us-east-1 and, unless
// AWS_ACCESS_KEY_ID or AWS_PROFILE is set, static dummy credentials are used: a local server
// checks that requests are signed, not by whom. Without -endpoint, everything comes from the
// standard AWS environment (the endpoint may also come from AWS_ENDPOINT_URL_DYNAMODB). In
// production create the table once with `tollgate dynamodb-create-table -table tollgate`
// and give the application only the store's IAM permissions (see core/dynamostore).
//
// Before it listens, the example checks the table (it exists, with the store's key schema)
// and exits non-zero with a message naming the table when it is not usable, rather than
// failing every request later.
//
// What it limits (as examples/quickstart, but fleet-wide):
//
//   - every route but /api/: 10 requests per minute per client IP (fixed window); while
//     DynamoDB is unreachable, a local in-memory limit takes over (divided among -instances);
//   - POST /login: 3 attempts per minute per client IP; fails closed (503) when DynamoDB
//     is unreachable, rather than allowing unlimited password guessing;
//   - /api/: per API key (X-API-Key), by plan: "pro-" keys 100 per minute, others 5 per
//     minute (token bucket); no key is 401;
//   - GET /slow: at most 2 requests at once per client IP across the fleet (leases).
//
// It prints a script of curl commands, one demo per limit, and the CLI command that shows
// the global limit's state in the table; every command works when pasted (from the
// repository's root). Flags: -addr (default $TOLLGATE_ADDR, else 127.0.0.1:8080; port 0
// picks a free port), -table, -endpoint, -create-table, -instances.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/tollgate-go/tollgate/adapters/nethttp"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/dynamostore"
	"github.com/tollgate-go/tollgate/core/memstore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "dynamodb:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "dynamodb:", err)
		os.Exit(1)
	}
}

// usageError is a bad command line (exit status 2).
type usageError struct{ error }

// run is main without the process: it serves until ctx is done. ready, when not nil,
// receives the listening address once the help is printed.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready chan<- string) error {
	fs := flag.NewFlagSet("dynamodb", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", defaultAddr("127.0.0.1:8080"), "listen address (default $TOLLGATE_ADDR when set)")
	table := fs.String("table", "tollgate", "DynamoDB table")
	endpoint := fs.String("endpoint", "", "DynamoDB endpoint URL of a local server, e.g. http://127.0.0.1:8000 for dynalite; with it, region us-east-1 and dummy credentials unless the environment names them (default: AWS_ENDPOINT_URL_DYNAMODB or the region's)")
	create := fs.Bool("create-table", false, "create the table first if it does not exist (needs dynamodb:CreateTable)")
	instances := fs.Int("instances", 1, "how many instances share the limits (divides the fallback limits)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}

	store, err := openStore(ctx, *table, *endpoint, *create)
	if err != nil {
		return err
	}
	h, err := newHandler(store, *instances, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	base := "http://" + l.Addr().String()
	printHelp(stdout, base, *table, *endpoint)
	if ready != nil {
		ready <- base
	}
	srv := newServer(h)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
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

// openStore builds the DynamoDB client (with the project's retries and backoff), creates the
// table when asked, checks it, and returns the store on it. endpoint, when set, is a local
// server: see localServerDefaults.
func openStore(ctx context.Context, table, endpoint string, create bool) (*dynamostore.Store, error) {
	o := dynamostore.ClientOptions{Endpoint: endpoint}
	if endpoint != "" {
		o.LoadOptions = localServerDefaults()
	}
	client, err := dynamostore.NewClient(ctx, o)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if create {
		if _, err := dynamostore.CreateTable(cctx, client, dynamostore.TableOptions{Name: table}); err != nil {
			return nil, fmt.Errorf("create table %q: %w", table, err)
		}
	}
	store, err := dynamostore.New(client, dynamostore.Config{Table: table})
	if err != nil {
		return nil, err
	}
	if err := checkTable(cctx, store); err != nil {
		return nil, err
	}
	return store, nil
}

// localServerDefaults are the AWS config defaults for a local server given by -endpoint:
// region us-east-1 unless one is configured, and dummy static credentials unless the
// environment names credentials (AWS_ACCESS_KEY_ID or AWS_PROFILE).
func localServerDefaults() []func(*config.LoadOptions) error {
	opts := []func(*config.LoadOptions) error{config.WithDefaultRegion("us-east-1")}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
		opts = append(opts, config.WithCredentialsProvider(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local", Source: "examples/dynamodb -endpoint"}, nil
		})))
	}
	return opts
}

// checkTable is the startup check: store.Verify fails, naming the table, when the table does
// not exist or has a key schema the store cannot use, so that a typo in -table stops the
// program here instead of failing every request.
func checkTable(ctx context.Context, store *dynamostore.Store) error {
	if err := store.Verify(ctx); err != nil {
		return fmt.Errorf("%w\n(create the table with -create-table, or `go run ./cmd/tollgate dynamodb-create-table -table NAME`)", err)
	}
	return nil
}

// newHandler builds the API on a shared store: a ServeMux with per-route limiters, wrapped in
// the global one. instances divides the fallback limits.
func newHandler(s *dynamostore.Store, instances int, logger *slog.Logger) (http.Handler, error) {
	obs := core.SlogObserver(logger)

	// Global: 10 per minute per client IP, on every route but /api/ (limited per API key
	// below). Clients connect directly here, so no proxy is trusted. When DynamoDB is
	// unreachable (beyond the 100 ms per-decision budget, its retries included), each
	// instance enforces its share of the limit locally.
	global, err := nethttp.New(core.Config{
		Store:             s,
		Rules:             []core.Rule{{Policy: core.NewFixedWindow("global", 10, time.Minute)}},
		Key:               core.KeyByIP(),
		Failure:           core.FailFallback,
		Fallback:          memstore.New(),
		FallbackInstances: instances,
		Observer:          obs,
	}, nethttp.Options{Skip: func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }})
	if err != nil {
		return nil, err
	}

	// POST /login: 3 attempts per minute per IP, failing closed.
	login, err := nethttp.New(core.Config{
		Store:    s,
		Rules:    []core.Rule{{Policy: core.NewFixedWindow("login", 3, time.Minute)}},
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
		Rules: []core.Rule{{PolicyFunc: func(_ context.Context, key string) (core.Policy, error) {
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
		Store:  s,
		Policy: core.NewConcurrency("slow", 2, 30*time.Second),
		Config: core.Config{Observer: obs},
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

// printHelp prints where the API listens, the demo script (as the quickstart's: one demo per
// limit, the global one last), and the CLI command that shows the global limit's state in
// the table, with -endpoint when one was given, so that pasting it reaches the same server.
func printHelp(w io.Writer, base, table, endpoint string) {
	where, conn := "", " -table "+shellQuote(table)
	if endpoint != "" {
		where = " at " + endpoint
		conn = " -endpoint " + shellQuote(endpoint) + conn
	}
	fmt.Fprintf(w, `tollgate on DynamoDB listening on %[1]s (table %[2]s%[3]s)

Start a second instance with another -addr and the same table: both share the limits.
Try the demos in this order: each shows its own limit. Every request but /api/ also counts
against the global limit (10 per minute per IP), which the fourth demo spends.

  # POST /login: 3 attempts per minute per IP: 401 401 401, then a 429 naming "login"
  for i in 1 2 3; do curl -s -o /dev/null -w '%%{http_code}\n' -X POST %[1]s/login; done
  curl -s -w '%%{http_code}\n' -X POST %[1]s/login

  # /api/: per API key, by plan (free-* 5 per minute, pro-* 100): 200 x5, a 429 naming "free"; no key: 401
  for i in 1 2 3 4 5; do curl -s -o /dev/null -w '%%{http_code}\n' -H 'X-API-Key: free-alice' %[1]s/api/items; done
  curl -s -w '%%{http_code}\n' -H 'X-API-Key: free-alice' %[1]s/api/items
  curl -s -w '%%{http_code}\n' %[1]s/api/items

  # GET /slow: 2 at once per IP across the fleet, 3 s each: two 200s and a 429 naming "slow"
  for i in 1 2 3; do curl -s -w '%%{http_code}\n' %[1]s/slow & done; wait

  # every route but /api/: 10 per minute per IP, the 7 requests above included: 200 200 200, then a 429 naming "global"
  for i in 1 2 3; do curl -s -o /dev/null -w '%%{http_code}\n' %[1]s/; done
  curl -i %[1]s/          # RateLimit-Policy, RateLimit, Retry-After and the problem+json body

  # the global limit's state in the table (from the repository's root): used 10 of 10
  go run ./cmd/tollgate dynamodb-inspect%[4]s -policy global -limit 10 -window 1m 127.0.0.1
`, base, table, where, conn)
}

// shellQuote quotes s for a POSIX shell when it holds anything but safe characters.
func shellQuote(s string) string {
	if safeShell.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

var safeShell = regexp.MustCompile(`^[A-Za-z0-9_.:/@%+=,-]+$`)
