package bench_test

import (
	"context"
	"net"
	"net/http"
	"testing"

	"github.com/didip/tollbooth/v7"
	tollboothlimiter "github.com/didip/tollbooth/v7/limiter"
	"github.com/go-chi/httprate"
	"github.com/sethvargo/go-limiter/httplimit"
	"github.com/sethvargo/go-limiter/memorystore"
	"github.com/tollgate-go/tollgate/adapters/nethttp"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	ulule "github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/middleware/stdlib"
	ululemem "github.com/ulule/limiter/v3/drivers/store/memory"
)

// okHandler is the application behind every middleware: 200 with a small body.
var okHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("ok\n"))
})

// middleware builds one net/http contender: wrap okHandler so that each client address has
// limit per window.
type middleware struct {
	name  string
	build func(tb testing.TB, limit int64) (h http.Handler, closeFn func())
}

var middlewares = []middleware{
	{name: "bare", build: func(testing.TB, int64) (http.Handler, func()) { return okHandler, func() {} }},
	{name: "tollgate", build: func(tb testing.TB, limit int64) (http.Handler, func()) {
		return nethttp.RateLimit(tollgateLimiter(tb, limit), nethttp.Options{})(okHandler), func() {}
	}},
	{name: "httplimit", build: func(tb testing.TB, limit int64) (http.Handler, func()) {
		s, err := memorystore.New(&memorystore.Config{Tokens: uint64(limit), Interval: window})
		if err != nil {
			tb.Fatal(err)
		}
		mw, err := httplimit.NewMiddleware(s, httplimit.IPKeyFunc())
		if err != nil {
			tb.Fatal(err)
		}
		return mw.Handle(okHandler), func() { _ = s.Close(context.Background()) }
	}},
	{name: "ulule", build: func(tb testing.TB, limit int64) (http.Handler, func()) {
		l := ulule.New(ululemem.NewStore(), ulule.Rate{Period: window, Limit: limit})
		return stdlib.NewMiddleware(l).Handler(okHandler), func() {}
	}},
	{name: "httprate", build: func(tb testing.TB, limit int64) (http.Handler, func()) {
		// The key function httprate's documentation gives for direct clients.
		key := func(r *http.Request) (string, error) {
			host, _, err := net.SplitHostPort(r.RemoteAddr)
			return httprate.CanonicalizeIP(host), err
		}
		return httprate.LimitBy(int(limit), window, key)(okHandler), func() {}
	}},
	{name: "tollbooth", build: func(tb testing.TB, limit int64) (http.Handler, func()) {
		l := tollbooth.NewLimiter(float64(perSecond(limit)), &tollboothlimiter.ExpirableOptions{DefaultExpirationTTL: window})
		// Key by the connection's peer, as the others do (tollbooth's default trusts
		// X-Forwarded-For first).
		l.SetBurst(int(limit)).SetIPLookups([]string{"RemoteAddr"})
		return tollbooth.LimitHandler(l, okHandler), func() {}
	}},
}

// tollgateLimiter is the limiter every Tollgate middleware uses: a fixed window per client IP
// on the in-memory store, with the defaults (denial cache on).
func tollgateLimiter(tb testing.TB, limit int64) *core.Limiter {
	l, err := core.NewLimiter(core.Config{
		Store: memstore.New(),
		Rules: []core.Rule{{Policy: core.NewFixedWindow("bench", limit, window)}},
		Key:   core.KeyByIP(),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// recorder is a ResponseWriter that keeps one header map, cleared per request as net/http's
// server gives each request a fresh one, and remembers the status.
type recorder struct {
	h      http.Header
	status int
}

func (w *recorder) Header() http.Header { return w.h }

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

// answer maps a status to allowed (200), denied (429) or failed.
func answer(status int) int {
	switch status {
	case http.StatusOK:
		return allowed
	case http.StatusTooManyRequests:
		return denied
	}
	return failed
}

// httpWorker returns a worker that serves h with one reusable request whose RemoteAddr is
// the key's address.
func httpWorker(h http.Handler, keys []string) func() worker {
	addrs := make([]string, len(keys))
	for i, k := range keys {
		addrs[i] = addr(k, 40000+i%20000)
	}
	return func() worker {
		r, err := http.NewRequest("GET", "http://example.com/", nil)
		if err != nil {
			panic(err)
		}
		w := &recorder{h: http.Header{}}
		return func(i int) int {
			clear(w.h)
			w.status = 0
			r.RemoteAddr = addrs[i]
			h.ServeHTTP(w, r)
			return answer(w.status)
		}
	}
}

// netHTTPContenders adapts the middlewares to the workload runner.
func netHTTPContenders() []contender {
	cs := make([]contender, len(middlewares))
	for i, m := range middlewares {
		cs[i] = contender{name: m.name, allowOnly: m.name == "bare", build: func(tb testing.TB, limit int64, keys []string) target {
			h, closeFn := m.build(tb, limit)
			return target{newWorker: httpWorker(h, keys), close: closeFn}
		}}
	}
	return cs
}

// BenchmarkNetHTTP is the whole net/http middleware, keyed by client IP, against the bare
// handler ("bare" always allows, so its denied-heavy rows are skipped).
func BenchmarkNetHTTP(b *testing.B) { runMatrix(b, netHTTPContenders()) }
