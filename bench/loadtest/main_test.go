package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestLimitAndStats drives the handler over HTTP: each key is admitted Limit times, then 429,
// and /stats reports exactly what was admitted.
func TestLimitAndStats(t *testing.T) {
	h, err := newHandler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func(path, key string) int {
		t.Helper()
		req, err := http.NewRequest("GET", srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, key := range []string{"a", "b"} {
		for i := 1; i <= Limit; i++ {
			if code := get("/api/x", key); code != http.StatusOK {
				t.Fatalf("key %s request %d: status %d, want 200", key, i, code)
			}
		}
		if code := get("/api/x", key); code != http.StatusTooManyRequests {
			t.Fatalf("key %s request %d: status %d, want 429", key, Limit+1, code)
		}
	}
	if code := get("/api/x", ""); code != http.StatusUnauthorized {
		t.Fatalf("no key: status %d, want 401", code)
	}
	resp, err := srv.Client().Get(srv.URL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if want := "a 1000\nb 1000\n"; string(body) != want {
		t.Fatalf("/stats = %q, want %q", body, want)
	}
}
