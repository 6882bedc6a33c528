// Command loadtest is the load-test server of bench/run: Tollgate's net/http middleware on the
// in-memory store with a limit high enough for a load generator to measure throughput, and a
// count of what was admitted, so the run can check that each key was admitted exactly its
// limit per window.
//
//	go run ./bench/loadtest [listen-address]   # default 127.0.0.1:0; prints the URL
//
// It has no flags on purpose: the limit is fixed, so every run measures the same thing.
//
//   - GET /api/...: 1,000 requests per minute per X-API-Key (fixed window), no key is 401;
//     each admitted request is counted under its key;
//   - GET /stats: "key admitted" lines, one per key, sorted (not limited).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-go/tollgate/adapters/nethttp"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// Limit is the number of requests admitted per key per minute.
const Limit = 1000

func main() {
	addr := "127.0.0.1:0"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	h, err := newHandler()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("loadtest listening on http://%s (limit %d per minute per X-API-Key)\n", l.Addr(), Limit)
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

// counts holds the admitted requests per key.
type counts struct{ m sync.Map } // key → *atomic.Int64

func (c *counts) add(key string) {
	v, ok := c.m.Load(key)
	if !ok {
		v, _ = c.m.LoadOrStore(key, new(atomic.Int64))
	}
	v.(*atomic.Int64).Add(1)
}

func (c *counts) write(w io.Writer) {
	var lines []string
	c.m.Range(func(k, v any) bool {
		lines = append(lines, fmt.Sprintf("%s %d\n", k, v.(*atomic.Int64).Load()))
		return true
	})
	sort.Strings(lines)
	for _, l := range lines {
		_, _ = io.WriteString(w, l)
	}
}

func newHandler() (http.Handler, error) {
	var admitted counts
	limit, err := nethttp.New(core.Config{
		Store: memstore.New(),
		Rules: []core.Rule{{Policy: core.NewFixedWindow("api", Limit, time.Minute)}},
		Key:   core.KeyByHeader("X-API-Key"),
	}, nethttp.Options{MissingKeyStatus: http.StatusUnauthorized})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /api/", limit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		admitted.add(r.Header.Get("X-API-Key"))
		_, _ = io.WriteString(w, "ok\n")
	})))
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		admitted.write(w)
	})
	return mux, nil
}
