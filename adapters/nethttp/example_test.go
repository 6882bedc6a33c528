package nethttp_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/tollgate-go/tollgate/adapters/nethttp"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// A global limit of 2 requests per minute per client IP on a ServeMux: the third request is
// answered 429 with Retry-After and the IETF RateLimit fields.
func ExampleNew() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "item", r.PathValue("id"))
	})
	limit, err := nethttp.New(core.Config{ // Store nil: a new in-memory store
		Rules: []core.Rule{{Policy: core.NewFixedWindow("global", 2, time.Minute)}},
		Now:   func() time.Time { return time.Unix(1_800_000_020, 0) }, // 20 s into a minute
	}, nethttp.Options{})
	if err != nil {
		panic(err) // an invalid policy is reported here, never at request time
	}
	handler := limit(mux)
	for i := 1; i <= 3; i++ {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/items/7", nil)
		r.RemoteAddr = "192.0.2.1:1234"
		handler.ServeHTTP(w, r)
		fmt.Printf("%d RateLimit: %s Retry-After: %q\n", w.Code, w.Header().Get("RateLimit"), w.Header().Get("Retry-After"))
	}
	// Output:
	// 200 RateLimit: "global";r=1;t=40 Retry-After: ""
	// 200 RateLimit: "global";r=0;t=40 Retry-After: ""
	// 429 RateLimit: "global";r=0;t=40 Retry-After: "40"
}

// A per-route concurrency limit: at most one report runs at once per client, fleet-wide when
// the store is shared.
func ExampleConcurrency() {
	c, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{
		Store:  memstore.New(),
		Policy: core.NewConcurrency("reports", 1, 30*time.Second),
	})
	if err != nil {
		panic(err)
	}
	report := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "report") })
	mux := http.NewServeMux()
	mux.Handle("GET /report", nethttp.Concurrency(c, nethttp.ConcurrencyOptions{})(report))
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/report", nil))
	fmt.Println(w.Code, w.Header().Get("RateLimit-Policy"))
	// Output:
	// 200 "reports";q=1;qu="concurrent-requests"
}
