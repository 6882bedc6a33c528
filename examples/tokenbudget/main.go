// Command tokenbudget is an LLM-style API proxy that limits each API key to a budget of
// tokens per minute, where a request's cost is only known after the upstream answered: the
// upstream reports the tokens it used in a response header, and Tollgate settles that real
// cost against the estimate it charged when the request arrived.
//
//	go run ./examples/tokenbudget -upstream http://127.0.0.1:9000 -tokens 10000
//	go run ./examples/tokenbudget -fake-upstream   # answers with random token counts itself
//
// How it limits: each request carries an API key (X-API-Key; none is 401). On arrival it is
// admitted against an estimate (-estimate tokens, 256 by default) of the key's budget
// (-tokens per minute, a fixed window); the upstream's X-Usage-Total-Tokens header then
// gives the real cost, and the difference is settled with one store request (none when the
// estimate was right). A response that used more than the estimate may take the key past its
// budget: its following requests are denied (429, Retry-After) until the next minute pays the
// debt back. A failed upstream call (5xx) is refunded: it costs nothing.
//
// The budget can overshoot by at most the requests in flight at once times how far their
// real cost exceeds the estimate (core.Rule.Settle documents the bound); set -estimate near
// your typical request and the overshoot stays small. The store is the in-memory one, which
// settles at once; use a shared store (DynamoDB, Redis, S3) to hold one budget across a
// fleet, where settlements run in the background.
//
// Flags: -addr (default $TOLLGATE_ADDR, else 127.0.0.1:8081), -upstream, -fake-upstream,
// -tokens, -estimate.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"time"

	"github.com/tollgate-go/tollgate/adapters/nethttp"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// UsageHeader is the response header in which the upstream reports the tokens a request used.
const UsageHeader = "X-Usage-Total-Tokens"

// Config is the proxy's configuration.
type Config struct {
	Upstream *url.URL
	Tokens   int64 // per minute per API key
	Estimate int64 // charged on arrival, settled afterwards
	Store    core.Store
	Now      func() time.Time // the limiter's clock (tests freeze it)
}

// NewHandler returns the proxy and its limiter.
func NewHandler(cfg Config) (http.Handler, *core.Limiter, error) {
	if cfg.Upstream == nil {
		return nil, nil, errors.New("tokenbudget: an upstream URL is required")
	}
	if cfg.Estimate < 1 || cfg.Estimate > cfg.Tokens {
		return nil, nil, fmt.Errorf("tokenbudget: estimate %d must be 1 to the budget %d", cfg.Estimate, cfg.Tokens)
	}
	if cfg.Store == nil {
		cfg.Store = memstore.New()
	}
	l, err := core.NewLimiter(core.Config{
		Store: cfg.Store,
		Now:   cfg.Now,
		Key:   core.KeyByHeader("X-API-Key"),
		Rules: []core.Rule{{
			Policy: core.NewFixedWindow("tokens", cfg.Tokens, time.Minute),
			Cost:   func(core.Request) int64 { return cfg.Estimate },
			Settle: func(_ core.Request, out core.Outcome) int64 {
				if out.Status >= 500 {
					return 0 // the upstream failed: nothing was generated
				}
				n, err := strconv.ParseInt(out.Header(UsageHeader), 10, 64)
				if err != nil || n < 0 {
					return cfg.Estimate // no usage reported: the estimate stands
				}
				return n
			},
		}},
	})
	if err != nil {
		return nil, nil, err
	}
	proxy := httputil.NewSingleHostReverseProxy(cfg.Upstream)
	mw := nethttp.RateLimit(l, nethttp.Options{MissingKeyStatus: http.StatusUnauthorized})
	return mw(proxy), l, nil
}

// FakeUpstream answers every request with a random token count between 0 and max, reported in
// UsageHeader, as an LLM API reports its usage.
func FakeUpstream(max int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := rand.Int64N(max + 1)
		w.Header().Set(UsageHeader, strconv.FormatInt(n, 10))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"completion\":\"…\",\"usage\":{\"total_tokens\":%d}}\n", n)
	})
}

func main() {
	addr := flag.String("addr", defaultAddr("127.0.0.1:8081"), "listen address (default $TOLLGATE_ADDR when set)")
	upstream := flag.String("upstream", "", "the upstream API's base URL")
	fake := flag.Bool("fake-upstream", false, "serve a fake upstream in this process (random token counts up to 2 × -estimate)")
	tokens := flag.Int64("tokens", 10000, "token budget per API key per minute")
	estimate := flag.Int64("estimate", 256, "tokens charged when a request arrives, settled afterwards")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *fake {
		fl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		fs := &http.Server{Handler: FakeUpstream(2 * *estimate), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = fs.Serve(fl) }()
		*upstream = "http://" + fl.Addr().String()
	}
	u, err := url.Parse(*upstream)
	if err != nil || u.Host == "" {
		fmt.Fprintln(os.Stderr, "tokenbudget: give -upstream URL or -fake-upstream")
		os.Exit(2)
	}
	h, _, err := NewHandler(Config{Upstream: u, Tokens: *tokens, Estimate: *estimate})
	if err != nil {
		log.Fatal(err)
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	base := "http://" + l.Addr().String()
	fmt.Printf("tokenbudget listening on %s: %d tokens per minute per API key, upstream %s\n", base, *tokens, u)
	fmt.Printf("  # a request for team-a: admitted on the estimate (%d), then settled to the tokens the upstream reports (%s)\n", *estimate, UsageHeader)
	fmt.Printf("  curl -s -i -X POST -H 'X-API-Key: team-a' %s/v1/completions\n", base)
	fmt.Printf("  # no API key: 401\n")
	fmt.Printf("  curl -s -o /dev/null -w '%%{http_code}\\n' -X POST %s/v1/completions\n", base)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
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

func defaultAddr(fallback string) string {
	if a := os.Getenv("TOLLGATE_ADDR"); a != "" {
		return a
	}
	return fallback
}
