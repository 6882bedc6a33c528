package nethttp_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/adapters/nethttp"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// A custom DenyHandler writes the denial, from RateLimit and from Concurrency, after the
// rate-limit headers and Retry-After are set; it sees the denied Result.
func TestCustomDenyHandler(t *testing.T) {
	var seen []core.Result
	deny := func(w http.ResponseWriter, r *http.Request, res *core.Result) {
		seen = append(seen, *res)
		if w.Header().Get("Retry-After") == "" || w.Header().Get("RateLimit") == "" {
			t.Errorf("DenyHandler called before the headers were set: %v", w.Header())
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "slow down")
	}
	l := limiter(t, core.Config{Rules: []core.Rule{{Policy: core.NewFixedWindow("custom-deny", 1, time.Minute)}}})
	h := nethttp.RateLimit(l, nethttp.Options{DenyHandler: deny})(ok)
	if w := serve(h, "GET", "/", "192.0.2.1:1", nil); w.Code != 200 || len(seen) != 0 {
		t.Fatalf("first request: %d, DenyHandler calls %d", w.Code, len(seen))
	}
	w := serve(h, "GET", "/", "192.0.2.1:1", nil)
	if w.Code != http.StatusServiceUnavailable || w.Body.String() != "slow down" || len(seen) != 1 || seen[0].Allowed {
		t.Fatalf("denied request: %d %q, DenyHandler calls %d (%+v)", w.Code, w.Body, len(seen), seen)
	}

	c, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{Store: memstore.New(), Policy: core.NewConcurrency("custom-deny-c", 1, time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	nested := true
	var ch http.Handler
	ch = nethttp.Concurrency(c, nethttp.ConcurrencyOptions{Options: nethttp.Options{DenyHandler: deny}})(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			if nested { // a second request while this one holds the only slot
				nested = false
				iw := serve(ch, "GET", "/", "192.0.2.1:1", nil)
				if iw.Code != http.StatusServiceUnavailable || iw.Body.String() != "slow down" {
					t.Errorf("concurrent request: %d %q, want the custom denial", iw.Code, iw.Body)
				}
			}
		}))
	serve(ch, "GET", "/", "192.0.2.1:1", nil)
	if len(seen) != 2 {
		t.Fatalf("DenyHandler calls %d, want 2", len(seen))
	}
}

// Concurrency around a whole mux, given the mux, keys by the route pattern: two items under
// one pattern share the slot.
func TestConcurrencyMuxPatternIsTheRoute(t *testing.T) {
	c, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{Store: memstore.New(),
		Config: core.Config{Key: core.KeyByRoute()},
		Policy: core.NewConcurrency("route-c", 1, time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	var h http.Handler
	codes := map[string]int{}
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "1" { // while item 1 holds the route's slot
			codes["/items/2"] = serve(h, "GET", "/items/2", "192.0.2.1:1", nil).Code
			codes["/other"] = serve(h, "GET", "/other", "192.0.2.1:1", nil).Code
		}
	})
	mux.HandleFunc("GET /other", func(http.ResponseWriter, *http.Request) {})
	h = nethttp.Concurrency(c, nethttp.ConcurrencyOptions{Options: nethttp.Options{Mux: mux}})(mux)
	if code := serve(h, "GET", "/items/1", "192.0.2.1:1", nil).Code; code != 200 {
		t.Fatalf("/items/1: %d", code)
	}
	if codes["/items/2"] != http.StatusTooManyRequests || codes["/other"] != 200 {
		t.Errorf("while /items/1 runs: %v, want /items/2 denied (same pattern), /other allowed", codes)
	}
}
