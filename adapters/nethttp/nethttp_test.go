package nethttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/adapters/nethttp"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/core/reply"
)

var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "ok")
})

func limiter(t testing.TB, cfg core.Config) *core.Limiter {
	t.Helper()
	if cfg.Store == nil {
		cfg.Store = memstore.New()
	}
	l, err := core.NewLimiter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func serve(h http.Handler, method, target, remote string, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = remote
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestAllowThenDeny(t *testing.T) {
	now := time.Unix(1_800_000_020, 0)
	l := limiter(t, core.Config{
		Rules: []core.Rule{{Policy: core.NewFixedWindow("default", 3, time.Minute)}},
		Now:   func() time.Time { return now },
	})
	h := nethttp.RateLimit(l, nethttp.Options{})(ok)
	for i := 1; i <= 3; i++ {
		w := serve(h, "GET", "/", "192.0.2.1:1234", nil)
		if w.Code != 200 {
			t.Fatalf("request %d: status %d, want 200", i, w.Code)
		}
		if got, want := w.Header().Get("RateLimit-Policy"), `"default";q=3;w=60`; got != want {
			t.Fatalf("request %d: RateLimit-Policy %q, want %q", i, got, want)
		}
		// now is 20 s into its minute: 40 s to the reset.
		if got, want := w.Header().Get("RateLimit"), `"default";r=`+string(rune('0'+3-i))+`;t=40`; got != want {
			t.Fatalf("request %d: RateLimit %q, want %q", i, got, want)
		}
		if w.Header().Get("Retry-After") != "" {
			t.Fatalf("request %d: Retry-After on an allowed response", i)
		}
	}
	w := serve(h, "GET", "/", "192.0.2.1:1234", nil)
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("4th request: status %d, want 429", w.Code)
	}
	if got := w.Header().Get("Retry-After"); got != "40" {
		t.Fatalf("Retry-After %q, want 40", got)
	}
	if got := w.Header().Get("RateLimit"); got != `"default";r=0;t=40` {
		t.Fatalf("denied RateLimit %q", got)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var prob map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &prob); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, w.Body)
	}
	if prob["type"] != reply.ProblemTypeQuotaExceeded || prob["status"] != float64(429) {
		t.Fatalf("problem body %v", prob)
	}
	// Another client is unaffected.
	if w := serve(h, "GET", "/", "192.0.2.2:1234", nil); w.Code != 200 {
		t.Fatalf("other client: %d", w.Code)
	}
	// HEAD denials carry no body.
	if w := serve(h, "HEAD", "/", "192.0.2.1:1234", nil); w.Code != 429 || w.Body.Len() != 0 {
		t.Fatalf("HEAD denial: %d with %d body bytes", w.Code, w.Body.Len())
	}
}

func TestForgedForwardedForFromUntrustedPeer(t *testing.T) {
	key, err := core.KeyByIPBehindProxies(core.ProxyConfig{Trusted: []string{"10.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	l := limiter(t, core.Config{Key: key, Rules: []core.Rule{{Policy: core.NewFixedWindow("ip", 1, time.Hour)}}})
	h := nethttp.RateLimit(l, nethttp.Options{})(ok)
	// An attacker connecting directly rotates X-Forwarded-For: still one key, its address.
	if w := serve(h, "GET", "/", "198.51.100.9:5000", map[string]string{"X-Forwarded-For": "1.1.1.1"}); w.Code != 200 {
		t.Fatalf("first: %d", w.Code)
	}
	if w := serve(h, "GET", "/", "198.51.100.9:5000", map[string]string{"X-Forwarded-For": "2.2.2.2"}); w.Code != 429 {
		t.Fatalf("forged X-Forwarded-For from an untrusted peer got its own bucket: %d", w.Code)
	}
	// Behind the trusted proxy, the right-most untrusted hop is the client; the forged
	// left-most hops do not matter.
	hdr := map[string]string{"X-Forwarded-For": "6.6.6.6, 203.0.113.5, 10.1.1.1"}
	if w := serve(h, "GET", "/", "10.0.0.2:443", hdr); w.Code != 200 {
		t.Fatalf("via proxy, first: %d", w.Code)
	}
	hdr["X-Forwarded-For"] = "7.7.7.7, 203.0.113.5, 10.1.1.1"
	if w := serve(h, "GET", "/", "10.0.0.2:443", hdr); w.Code != 429 {
		t.Fatalf("via proxy, the forged left-most hop changed the key: %d", w.Code)
	}
}

func TestServeMuxPatternIsTheRoute(t *testing.T) {
	l := limiter(t, core.Config{Key: core.KeyByRoute(), Rules: []core.Rule{{Policy: core.NewFixedWindow("route", 2, time.Hour)}}})
	mux := http.NewServeMux()
	mux.Handle("GET /items/{id}", ok)
	mux.Handle("GET /other", ok)
	h := nethttp.RateLimit(l, nethttp.Options{})
	// Per-route use: the middleware wraps the handler inside the mux, where Pattern is set.
	mux2 := http.NewServeMux()
	mux2.Handle("GET /items/{id}", h(ok))
	mux2.Handle("GET /other", h(ok))
	for i, path := range []string{"/items/1", "/items/2"} {
		if w := serve(mux2, "GET", path, "192.0.2.1:1", nil); w.Code != 200 {
			t.Fatalf("request %d: %d", i, w.Code)
		}
	}
	if w := serve(mux2, "GET", "/items/3", "192.0.2.1:1", nil); w.Code != 429 {
		t.Fatalf("third item under one route pattern: %d, want 429", w.Code)
	}
	if w := serve(mux2, "GET", "/other", "192.0.2.1:1", nil); w.Code != 200 {
		t.Fatalf("another route shares the limit: %d", w.Code)
	}
}

func TestSkipAndKeyErrors(t *testing.T) {
	l := limiter(t, core.Config{Key: core.KeyByHeader("X-API-Key"), Rules: []core.Rule{{Policy: core.NewFixedWindow("api", 1, time.Hour)}}})
	h := nethttp.RateLimit(l, nethttp.Options{
		Skip:             func(r *http.Request) bool { return r.URL.Path == "/healthz" },
		MissingKeyStatus: http.StatusUnauthorized,
	})(ok)
	if w := serve(h, "GET", "/healthz", "192.0.2.1:1", nil); w.Code != 200 || w.Header().Get("RateLimit") != "" {
		t.Fatalf("skipped request: %d, RateLimit %q", w.Code, w.Header().Get("RateLimit"))
	}
	w := serve(h, "GET", "/", "192.0.2.1:1", nil)
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("missing API key: %d, want 401", w.Code)
	}
	if strings.Contains(w.Body.String(), "core:") {
		t.Fatalf("internal error text reached the client: %s", w.Body)
	}
	long := strings.Repeat("k", 5000)
	if w := serve(h, "GET", "/", "192.0.2.1:1", map[string]string{"X-API-Key": long}); w.Code != http.StatusBadRequest {
		t.Fatalf("over-long key: %d, want 400", w.Code)
	}
}

type brokenStore struct{ calls atomic.Int64 }

func (s *brokenStore) Take(context.Context, string, core.Policy, int64, time.Time) (core.Decision, error) {
	s.calls.Add(1)
	return core.Decision{}, errors.New("dial tcp 10.9.8.7:6379: connection refused (secret-host)")
}

func TestFailurePolicies(t *testing.T) {
	p := core.NewFixedWindow("fp", 1, time.Hour)
	for _, c := range []struct {
		failure core.FailurePolicy
		want    int
	}{{core.FailOpen, 200}, {core.FailClosed, 503}, {core.FailFallback, 200}} {
		t.Run(c.failure.String(), func(t *testing.T) {
			l := limiter(t, core.Config{Store: &brokenStore{}, Failure: c.failure, Fallback: memstore.New(), Rules: []core.Rule{{Policy: p}}})
			w := serve(nethttp.RateLimit(l, nethttp.Options{})(ok), "GET", "/", "192.0.2.1:1", nil)
			if w.Code != c.want {
				t.Fatalf("status %d, want %d", w.Code, c.want)
			}
			if strings.Contains(w.Body.String(), "secret-host") {
				t.Fatalf("store error text reached the client: %s", w.Body)
			}
		})
	}
}

func TestConcurrencyReleasesAfterPanic(t *testing.T) {
	c, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{
		Store:  memstore.New(),
		Policy: core.NewConcurrency("slow", 1, time.Minute),
	})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	entered := make(chan struct{})
	h := nethttp.Concurrency(c, nethttp.ConcurrencyOptions{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("boom")
		}
		entered <- struct{}{}
		<-release
	}))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); serve(h, "GET", "/slow", "192.0.2.1:1", nil) }()
	<-entered
	if w := serve(h, "GET", "/slow", "192.0.2.1:1", nil); w.Code != 429 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("second concurrent request: %d (Retry-After %q), want 429 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	close(release)
	wg.Wait()
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the handler's panic was swallowed")
			}
		}()
		serve(h, "GET", "/panic", "192.0.2.1:1", nil)
	}()
	// The panicking request released its slot: the next one runs (its handler returns at
	// once, since release is closed).
	done := make(chan int)
	go func() { done <- serve(h, "GET", "/x", "192.0.2.1:1", nil).Code }()
	<-entered
	if code := <-done; code != 200 {
		t.Fatalf("after a panic, the next request got %d; the slot leaked", code)
	}
}

func BenchmarkMiddleware(b *testing.B) {
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(200)
	})
	l := limiter(b, core.Config{Rules: []core.Rule{{Policy: core.NewFixedWindow("bench", 1<<50, time.Hour)}}})
	for _, c := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", bare},
		{"tollgate", nethttp.RateLimit(l, nethttp.Options{})(bare)},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = "192.0.2.1:1234"
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				clear(w.h)
				c.h.ServeHTTP(w, r)
			}
		})
	}
}

// discard is a ResponseWriter that keeps one header map, as net/http's server does per
// request, so the benchmark measures the middleware rather than the recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkHeaders measures the middleware on the header shapes a response can take: one
// policy allowed, one policy denied (Retry-After too), two rules, and the legacy fields.
//
//	go test -run '^$' -bench Headers -benchmem ./adapters/nethttp/
func BenchmarkHeaders(b *testing.B) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	one := core.Rule{Policy: core.NewFixedWindow("bench", 1<<50, time.Hour)}
	for _, c := range []struct {
		name string
		cfg  core.Config
		o    nethttp.Options
	}{
		{"one", core.Config{Rules: []core.Rule{one}}, nethttp.Options{}},
		{"deny", core.Config{Rules: []core.Rule{{Policy: core.NewFixedWindow("bench", 1, time.Hour)}}}, nethttp.Options{}},
		{"two-rules", core.Config{Rules: []core.Rule{one, {Policy: core.NewSlidingWindow("burst", 1<<50, time.Minute)}}}, nethttp.Options{}},
		{"legacy", core.Config{Rules: []core.Rule{one}}, nethttp.Options{Headers: reply.HeaderOptions{Legacy: true}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := nethttp.RateLimit(limiter(b, c.cfg), c.o)(ok)
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = "192.0.2.1:1234"
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, r)
			}
			if len(w.h["Ratelimit"]) != 1 {
				b.Fatalf("headers %v", w.h)
			}
		})
	}
}
