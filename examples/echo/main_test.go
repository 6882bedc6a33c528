package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/examples/internal/demoscript"
)

// gate is GET /slow's work in tests: each request says it entered, then waits for release.
type gate struct {
	entered chan struct{}
	release chan struct{}
}

func newGate() *gate { return &gate{entered: make(chan struct{}, 8), release: make(chan struct{})} }

func (g *gate) work(ctx context.Context) {
	g.entered <- struct{}{}
	select {
	case <-g.release:
	case <-ctx.Done():
	}
}

// serve starts the example's router on a real HTTP server.
func serve(t *testing.T, slow func(context.Context)) string {
	t.Helper()
	// The store's clock stands still, so no window boundary falls inside a test.
	return serveOn(t, demoscript.NewFrozenStore(), slow)
}

// serveOn is serve on the store s.
func serveOn(t *testing.T, s store, slow func(context.Context)) string {
	t.Helper()
	r, err := newRouter(s, slog.New(slog.NewTextHandler(io.Discard, nil)), slow)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv.URL
}

func send(t *testing.T, method, url string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestExample drives the API over HTTP, as the curl lines in its help do.
func TestExample(t *testing.T) {
	base := serve(t, newGate().work)
	for i := 1; i <= 3; i++ {
		if r, _ := send(t, "POST", base+"/login", nil); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("login attempt %d: %d, want 401 from the handler", i, r.StatusCode)
		}
	}
	r, body := send(t, "POST", base+"/login", nil)
	if r.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "too many login attempts") || r.Header.Get("Retry-After") == "" {
		t.Fatalf("4th login attempt: %d %q (Retry-After %q), want 429 through HTTPErrorHandler", r.StatusCode, body, r.Header.Get("Retry-After"))
	}
	if r, _ := send(t, "GET", base+"/api/items/1", nil); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("API without a key: %d, want 401", r.StatusCode)
	}
	r, body = send(t, "GET", base+"/api/items/7", map[string]string{"X-API-Key": "free-a"})
	if r.StatusCode != http.StatusOK || !strings.Contains(body, `"7"`) {
		t.Fatalf("API with a key: %d %q", r.StatusCode, body)
	}
	if got := r.Header.Values("RateLimit-Policy"); len(got) != 1 || got[0] != `"free";q=5;w=60` {
		t.Fatalf("API RateLimit-Policy %q, want the plan's only (the global limit skips /api)", got)
	}
	// 4 requests so far count against the global limit of 10 per minute per IP (the logins;
	// the API calls do not).
	for i := 5; i <= 10; i++ {
		if r, _ := send(t, "GET", base+"/", nil); r.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %d", i, r.StatusCode)
		}
	}
	r, body = send(t, "GET", base+"/", nil)
	if r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("11th request: %d, want 429", r.StatusCode)
	}
	if r.Header.Get("Retry-After") == "" || r.Header.Get("RateLimit") == "" {
		t.Errorf("429 without Retry-After or RateLimit: %v", r.Header)
	}
	if got := r.Header.Get("RateLimit-Policy"); got != `"global";q=10;w=60` {
		t.Errorf("RateLimit-Policy %q", got)
	}
	var problem map[string]any
	if err := json.Unmarshal([]byte(body), &problem); err != nil || problem["status"] != float64(429) {
		t.Fatalf("problem body %q: %v", body, err)
	}
}

// TestExampleScript runs the script the example prints, top to bottom, against the running
// API, and checks that each demo shows its own limit: the statuses it answers and the policy
// its 429 names (violated-policies).
func TestExampleScript(t *testing.T) {
	// The store's clock stands still, so no window boundary falls inside the script.
	base := serveOn(t, demoscript.NewFrozenStore(), sleep(3*time.Second))
	var help strings.Builder
	printHelp(&help, base)
	demoscript.Check(t, help.String(), ".", nil, []demoscript.Want{
		{Title: "POST /login", Codes: "401 401 401 429(login)"},
		{Title: "the /api group", Codes: "200 200 200 200 200 429(free) 401"},
		{Title: "GET /slow", Codes: "200 200 429(slow)", Unordered: true},
		{Title: "every route", Codes: "200 200 200 429(global)"},
	})
}

// TestExampleSlow runs two slow requests at once; a third is refused until they end.
func TestExampleSlow(t *testing.T) {
	g := newGate()
	base := serve(t, g.work)
	done := make(chan int, 2)
	for i := 0; i < 2; i++ {
		go func() {
			resp, err := http.Get(base + "/slow")
			if err != nil {
				done <- -1
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
	}
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for i := 0; i < 2; i++ {
		select {
		case <-g.entered:
		case <-timeout.C:
			t.Fatalf("%d of 2 slow requests started", i)
		}
	}
	if r, _ := send(t, "GET", base+"/slow", nil); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third concurrent /slow: %d, want 429", r.StatusCode)
	}
	close(g.release)
	for i := 0; i < 2; i++ {
		if code := <-done; code != http.StatusOK {
			t.Fatalf("slow request: %d, want 200", code)
		}
	}
	if r, _ := send(t, "GET", base+"/slow", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("/slow after the others ended: %d, want 200", r.StatusCode)
	}
}

func TestServerTimeouts(t *testing.T) {
	srv := newServer(http.NotFoundHandler())
	if srv.ReadHeaderTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Fatalf("ReadHeaderTimeout %v, IdleTimeout %v; want both set", srv.ReadHeaderTimeout, srv.IdleTimeout)
	}
}
