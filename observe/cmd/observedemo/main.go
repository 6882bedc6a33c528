// Command observedemo is the quickstart's API (examples/quickstart) with its telemetry
// switched on: Prometheus metrics and the live status page, served on a separate operator
// listener that the public one never exposes.
//
//	go run ./observe/cmd/observedemo                       # API on 127.0.0.1:8080, operator pages on 127.0.0.1:9090
//	go run ./observe/cmd/observedemo -keys raw             # show denied keys as they are
//
// Then:
//
//	for i in $(seq 15); do curl -s -o /dev/null http://127.0.0.1:8080/; done
//	curl -s http://127.0.0.1:9090/metrics | grep ^tollgate_
//	open http://127.0.0.1:9090/tollgate                    # or ?format=json
//
// examples/quickstart offers the same as one flag: go run ./examples/quickstart -admin
// 127.0.0.1:9090 (its TestQuickstartTelemetry drives it).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tollgate-go/tollgate/adapters/nethttp"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/observe"
	"github.com/tollgate-go/tollgate/observe/otelmetrics"
	"github.com/tollgate-go/tollgate/observe/promexport"
	"github.com/tollgate-go/tollgate/observe/status"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "the API's listen address")
	adminAddr := flag.String("admin", "127.0.0.1:9090", "the operator listener: /metrics and /tollgate (keep it private)")
	keys := flag.String("keys", "hashed", "how the status page shows denied keys: hashed, raw or hidden")
	flag.Parse()
	display, err := parseKeys(*keys)
	if err != nil {
		log.Fatal(err)
	}
	app, admin, err := newHandlers(memstore.New(), display)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	errc := make(chan error, 2)
	for _, s := range []struct {
		addr string
		h    http.Handler
	}{{*addr, app}, {*adminAddr, admin}} {
		l, err := net.Listen("tcp", s.addr)
		if err != nil {
			log.Fatal(err)
		}
		srv := &http.Server{Handler: s.h, ReadHeaderTimeout: 5 * time.Second}
		go func() { errc <- srv.Serve(l) }()
		go func() {
			<-ctx.Done()
			shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(shutdown)
		}()
	}
	fmt.Printf("API on http://%s; metrics on http://%s/metrics; status page on http://%s/tollgate\n", *addr, *adminAddr, *adminAddr)
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

func parseKeys(s string) (status.KeyDisplay, error) {
	for _, k := range []status.KeyDisplay{status.KeysHashed, status.KeysRaw, status.KeysHidden} {
		if k.String() == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("observedemo: -keys %q: want hashed, raw or hidden", s)
}

// store is what the API needs of a store.
type store interface {
	core.Store
	core.ConcurrencyStore
}

// newHandlers builds the API (the quickstart's limits) and the operator handler serving
// /metrics and /tollgate, both fed by every limiter's observer.
func newHandlers(s store, keys status.KeyDisplay) (app, admin http.Handler, err error) {
	reg := prometheus.NewRegistry()
	metrics, err := promexport.New(reg, otelmetrics.Options{})
	if err != nil {
		return nil, nil, err
	}
	page, err := status.New(status.Options{Keys: keys, Title: "observedemo"})
	if err != nil {
		return nil, nil, err
	}
	// observer gives one limiter its metrics and its place on the status page.
	observer := func(name string, failure core.FailurePolicy, policies ...core.Policy) core.Observer {
		l := observe.Limiter{Name: name, Store: s, Failure: failure, Policies: policies}
		return observe.Tee(metrics.Observer(l), page.Observer(l))
	}

	globalPolicy := core.NewFixedWindow("global", 10, time.Minute)
	global, err := nethttp.New(core.Config{
		Store:    s,
		Rules:    []core.Rule{{Policy: globalPolicy}},
		Key:      core.KeyByIP(),
		Observer: observer("global", core.FailOpen, globalPolicy),
	}, nethttp.Options{})
	if err != nil {
		return nil, nil, err
	}
	loginPolicy := core.NewFixedWindow("login", 3, time.Minute)
	login, err := nethttp.New(core.Config{
		Store:    s,
		Rules:    []core.Rule{{Policy: loginPolicy}},
		Failure:  core.FailClosed,
		Observer: observer("login", core.FailClosed, loginPolicy),
	}, nethttp.Options{})
	if err != nil {
		return nil, nil, err
	}
	free := core.NewTokenBucket("free", 5, time.Minute, 5)
	pro := core.NewTokenBucket("pro", 100, time.Minute, 20)
	api, err := nethttp.New(core.Config{
		Store: s,
		Key:   core.KeyByHeader("X-API-Key"),
		Rules: []core.Rule{{PolicyFunc: func(_ context.Context, key string) (core.Policy, error) {
			if strings.HasPrefix(key, "pro-") {
				return pro, nil
			}
			return free, nil
		}}},
		Observer: observer("api", core.FailOpen, free, pro),
	}, nethttp.Options{MissingKeyStatus: http.StatusUnauthorized})
	if err != nil {
		return nil, nil, err
	}
	slowPolicy := core.NewConcurrency("slow", 2, 30*time.Second)
	slowLimiter, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{
		Store:  s,
		Policy: slowPolicy,
		Config: core.Config{Observer: observer("slow", core.FailOpen, slowPolicy)},
	})
	if err != nil {
		return nil, nil, err
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

	adminMux := http.NewServeMux()
	adminMux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	adminMux.Handle("GET /tollgate", page)
	return global(mux), adminMux, nil
}
