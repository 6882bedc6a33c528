package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestTokensPerMinuteWithinBudget drives the proxy with 8 concurrent clients per key against a
// fake upstream answering random token counts (0 to 2 × the estimate), all inside one minute:
// per key, the tokens served (the upstream's reported usage of the requests that got through)
// stay within the budget plus the documented overshoot bound, the budget is really used, and
// once it is spent the key is denied with a Retry-After until the next minute.
func TestTokensPerMinuteWithinBudget(t *testing.T) {
	const (
		budget   = 20000
		estimate = 256
		clients  = 8
		maxCost  = 2 * estimate
	)
	up := httptest.NewServer(FakeUpstream(maxCost))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	minute := time.Now().Truncate(time.Minute)
	var now atomic.Pointer[time.Time]
	now.Store(&minute)
	h, _, err := NewHandler(Config{Upstream: u, Tokens: budget, Estimate: estimate, Now: func() time.Time { return *now.Load() }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, key := range []string{"team-a", "team-b"} {
		var served, ok, denied atomic.Int64
		var wg sync.WaitGroup
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 200 {
					req, _ := http.NewRequest("POST", srv.URL+"/v1/completions", nil)
					req.Header.Set("X-API-Key", key)
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					res.Body.Close()
					switch res.StatusCode {
					case http.StatusOK:
						n, _ := strconv.ParseInt(res.Header.Get(UsageHeader), 10, 64)
						served.Add(n)
						ok.Add(1)
					case http.StatusTooManyRequests:
						denied.Add(1)
						if res.Header.Get("Retry-After") == "" {
							t.Error("a 429 without Retry-After")
						}
					default:
						t.Errorf("status %d", res.StatusCode)
					}
				}
			}()
		}
		wg.Wait()
		bound := int64(budget + clients*(maxCost-estimate))
		t.Logf("tokenbudget: key=%s budget=%d served_tokens=%d bound=%d requests_ok=%d denied=%d", key, budget, served.Load(), bound, ok.Load(), denied.Load())
		if served.Load() > bound {
			t.Fatalf("key %s: %d tokens served in one minute, above the budget %d + overshoot bound = %d", key, served.Load(), budget, bound)
		}
		if served.Load() < budget-int64(clients*maxCost) {
			t.Fatalf("key %s: only %d tokens served of a %d budget: allowance was lost", key, served.Load(), budget)
		}
		if denied.Load() == 0 {
			t.Fatalf("key %s: never denied", key)
		}
	}
	next := minute.Add(time.Minute)
	now.Store(&next)
	req, _ := http.NewRequest("POST", srv.URL+"/v1/completions", nil)
	req.Header.Set("X-API-Key", "team-a")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("the next minute: %d, want 200 (the debt is paid back by the new window)", res.StatusCode)
	}
}

func TestNoKeyIs401AndFailedUpstreamIsRefunded(t *testing.T) {
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(UsageHeader, "999")
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer failing.Close()
	u, _ := url.Parse(failing.URL)
	h, _, err := NewHandler(Config{Upstream: u, Tokens: 1000, Estimate: 500})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/v1/completions", nil))
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("no API key: %d, want 401", w.Code)
	}
	for i := range 5 { // 5 × 500 estimated; every one refunded
		r := httptest.NewRequest("POST", "/v1/completions", nil)
		r.Header.Set("X-API-Key", "k")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusBadGateway {
			t.Fatalf("request %d through a failing upstream: %d, want 502 (refunded, never 429)", i, w.Code)
		}
	}
}
