package nethttp_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/adapters/nethttp"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// TestTimeoutHandlerOutsideKeepsTheSlot: with http.TimeoutHandler outside the concurrency
// middleware (the documented placement), a request that timed out for its client still holds
// its slot while its handler runs, so a second request is denied until the handler returns.
func TestTimeoutHandlerOutsideKeepsTheSlot(t *testing.T) {
	c, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{
		Store: memstore.New(), Policy: core.NewConcurrency("slow", 1, time.Minute),
		Config: core.Config{Key: core.KeyStatic("all")},
	})
	if err != nil {
		t.Fatal(err)
	}
	release, running, done := make(chan struct{}), make(chan struct{}, 1), make(chan struct{})
	work := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		running <- struct{}{}
		<-release
		close(done)
	})
	h := http.TimeoutHandler(nethttp.Concurrency(c, nethttp.ConcurrencyOptions{})(work), 10*time.Millisecond, "timeout")
	first := httptest.NewRecorder()
	h.ServeHTTP(first, httptest.NewRequest("GET", "/", nil))
	<-running
	if first.Code != http.StatusServiceUnavailable {
		t.Fatalf("first request: %d, want 503 from TimeoutHandler", first.Code)
	}
	second := httptest.NewRecorder()
	h.ServeHTTP(second, httptest.NewRequest("GET", "/", nil))
	if second.Code != http.StatusTooManyRequests {
		t.Fatalf("second request while the first handler still runs: %d, want 429 (the slot is still held)", second.Code)
	}
	close(release)
	<-done
}
