package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tollgate-go/tollgate/examples/internal/demoscript"
)

// TestQuickstart drives the quickstart API over real HTTP, as the README's curl lines do.
func TestQuickstart(t *testing.T) {
	h, err := newHandler(demoscript.NewFrozenStore(), slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func(method, path string, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	for i := 1; i <= 3; i++ {
		if r := get("POST", "/login", nil); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("login attempt %d: %d, want 401 from the handler", i, r.StatusCode)
		}
	}
	if r := get("POST", "/login", nil); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("4th login attempt: %d, want 429", r.StatusCode)
	}
	if r := get("GET", "/api/items", nil); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("API without a key: %d, want 401", r.StatusCode)
	}
	if r := get("GET", "/api/items", map[string]string{"X-API-Key": "free-a"}); r.StatusCode != 200 {
		t.Fatalf("API with a key: %d", r.StatusCode)
	}
	// 4 requests so far count against the global limit of 10 per minute (the logins: /api/
	// is limited per key only).
	for i := 5; i <= 10; i++ {
		if r := get("GET", "/", nil); r.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, r.StatusCode)
		}
	}
	r := get("GET", "/", nil)
	if r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("11th request: %d, want 429", r.StatusCode)
	}
	for _, h := range []string{"Retry-After", "RateLimit", "RateLimit-Policy"} {
		if r.Header.Get(h) == "" {
			t.Errorf("429 without %s", h)
		}
	}
	if !strings.Contains(r.Header.Get("RateLimit-Policy"), `"global";q=10;w=60`) {
		t.Errorf("RateLimit-Policy %q", r.Header.Get("RateLimit-Policy"))
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body["status"] != float64(429) {
		t.Fatalf("problem body: %v %v", body, err)
	}
}

// TestQuickstartScript runs the script the quickstart prints, top to bottom, against the
// running API, and checks that each demo shows its own limit: the statuses it answers and the
// policy its 429 names (problem+json violated-policies).
func TestQuickstartScript(t *testing.T) {
	// The store's clock stands still, so no window boundary falls inside the script.
	h, err := newHandler(demoscript.NewFrozenStore(), slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	var help strings.Builder
	printHelp(&help, srv.URL)
	demoscript.Check(t, help.String(), ".", nil, []demoscript.Want{
		{Title: "POST /login", Codes: "401 401 401 429(login)"},
		{Title: "/api/", Codes: "200 200 200 200 200 429(free) 401"},
		{Title: "GET /slow", Codes: "200 200 429(slow)", Unordered: true},
		{Title: "every route", Codes: "200 200 200 429(global)"},
	})
}

func TestServerTimeouts(t *testing.T) {
	srv := newServer(http.NotFoundHandler())
	if srv.ReadHeaderTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Fatalf("ReadHeaderTimeout %v, IdleTimeout %v; want both set", srv.ReadHeaderTimeout, srv.IdleTimeout)
	}
}

func TestQuickstartSlowConcurrency(t *testing.T) {
	h, err := newHandler(demoscript.NewFrozenStore(), slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	var wg sync.WaitGroup
	codes := make(chan int, 3)
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(srv.URL + "/slow")
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	n := map[int]int{}
	for c := range codes {
		n[c]++
	}
	if n[200] != 2 || n[429] != 1 {
		t.Fatalf("3 concurrent /slow requests: %v, want two 200 and one 429", n)
	}
}
