package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate-go/tollgate/internal/testenv"
)

// TestTwoInstancesShareLimits runs two instances of the example (each with its own store and
// limiters, as two processes would have) on one dynalite table: they enforce the global
// limit of 10 per minute per IP together.
func TestTwoInstancesShareLimits(t *testing.T) {
	ep := testenv.DynamoDBEndpoint(t)
	// The standard AWS environment, as a deployment would set it.
	t.Setenv("AWS_ACCESS_KEY_ID", "tollgate")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "tollgate")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", ep)
	// A fresh table per run; dynalite keeps it in memory until the test command stops it.
	table := testenv.UniqueName("tollgate-example")
	ctx := context.Background()
	var urls []string
	for i := range 2 {
		store, err := openStore(ctx, table, "", i == 0)
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
		h, err := newHandler(store, 2, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	get := func(url string, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if r := get(urls[1]+"/api/items", nil); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("API without a key: %d, want 401", r.StatusCode)
	}
	if r := get(urls[0]+"/api/items", map[string]string{"X-API-Key": "free-alice"}); r.StatusCode != http.StatusOK {
		t.Fatalf("API with a key: %d, want 200", r.StatusCode)
	}
	// 2 requests so far; 8 more alternate between the instances.
	for i := 3; i <= 10; i++ {
		if r := get(urls[i%2]+"/", nil); r.StatusCode != http.StatusOK {
			t.Fatalf("request %d (instance %d): %d, want 200", i, i%2, r.StatusCode)
		}
	}
	for i, url := range urls {
		r := get(url+"/", nil)
		if r.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("instance %d after 10 requests across both: %d, want 429 (the limit is shared)", i, r.StatusCode)
		}
		if r.Header.Get("Retry-After") == "" || !strings.Contains(r.Header.Get("RateLimit-Policy"), `"global";q=10;w=60`) {
			t.Errorf("instance %d: 429 headers %v", i, r.Header)
		}
	}
}
