package nethttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/adapters/nethttp"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/backoff"
	"github.com/tollgate-go/tollgate/core/memstore"
)

func TestConcurrencyWaitsForASlot(t *testing.T) {
	c, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{Store: memstore.New(), Policy: core.NewConcurrency("one", 1, time.Minute), Config: core.Config{Key: core.KeyStatic("all")}})
	if err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{}, 2)
	release := make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		if r.URL.Path == "/hold" {
			<-release
		}
	})
	waiting := nethttp.Concurrency(c, nethttp.ConcurrencyOptions{Wait: core.Wait{Max: 30 * time.Second}})(slow)
	impatient := nethttp.Concurrency(c, nethttp.ConcurrencyOptions{})(slow)

	go serve(waiting, "GET", "/hold", "192.0.2.1:1", nil)
	<-entered
	if w := serve(impatient, "GET", "/x", "192.0.2.1:1", nil); w.Code != 429 {
		t.Fatalf("without Wait, a busy slot: %d, want 429", w.Code)
	}
	done := make(chan int)
	go func() { done <- serve(waiting, "GET", "/x", "192.0.2.1:1", nil).Code }()
	close(release) // the holder finishes; the waiter gets the slot
	if code := <-done; code != 200 {
		t.Fatalf("with Wait, after the holder finished: %d, want 200", code)
	}
}

// TestRetryingClientAgainstMiddleware sends a burst of clients, each through backoff's
// retrying transport, at a token-bucket limit of 10/s with a burst of 5. Every request must
// end served, and the server must never have admitted more than the bucket allows by any
// moment: burst + rate × elapsed.
func TestRetryingClientAgainstMiddleware(t *testing.T) {
	const clients, rate, burst = 20, 10, 5
	l, err := core.NewLimiter(core.Config{Store: memstore.New(), Key: core.KeyStatic("all"),
		Rules: []core.Rule{{Policy: core.NewTokenBucket("api", rate, time.Second, burst)}}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var admitted []time.Time
	h := nethttp.RateLimit(l, nethttp.Options{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		admitted = append(admitted, time.Now())
		mu.Unlock()
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	tr := backoff.NewTransport(http.DefaultTransport, backoff.TransportOptions{
		Policy: backoff.Policy{Base: 50 * time.Millisecond, Cap: time.Second, MaxAttempts: 20},
	})
	client := &http.Client{Transport: tr}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	codes := make([]int, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	for i, c := range codes {
		if c != 200 {
			t.Fatalf("client %d ended with %d; the transport should have retried until served", i, c)
		}
	}
	sort.Slice(admitted, func(i, j int) bool { return admitted[i].Before(admitted[j]) })
	for i, at := range admitted {
		// A small allowance for the gap between the decision and the handler's clock read.
		allowed := burst + int(float64(rate)*at.Sub(start).Seconds()+0.5)
		if i+1 > allowed {
			t.Fatalf("admission %d at +%v exceeds burst+rate×t = %d", i+1, at.Sub(start), allowed)
		}
	}
	st := tr.Stats()
	t.Logf("%d clients served in %v: %d attempts, %d retries (the bucket needs at least %.1fs)", clients, elapsed.Round(time.Millisecond), st.Attempts, st.Retries, float64(clients-burst)/rate)
	if st.Retries == 0 {
		t.Fatal("no retries: the limit was never hit, the test proves nothing")
	}
}
