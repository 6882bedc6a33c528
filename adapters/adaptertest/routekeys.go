package adaptertest

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
)

type keyLog struct {
	mu   sync.Mutex
	keys []string
}

func (k *keyLog) Observe(_ context.Context, e core.Event) {
	if e.Kind == core.EventDecision {
		k.mu.Lock()
		k.keys = append(k.keys, e.Key)
		k.mu.Unlock()
	}
}

func (k *keyLog) take() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := k.keys
	k.keys = nil
	return out
}

// testGlobalRouteKeys: core.KeyByRoute in the app-wide middleware (a wrapped mux, r.Use,
// e.Use, app.Use) keys by the route the router matches, as a per-route middleware does, not by
// the raw path (one bucket per item ID) nor by the middleware's own prefix (one bucket for
// the whole app). A path no route matches keys by "METHOD path".
func testGlobalRouteKeys(t *testing.T, h Harness) {
	log := &keyLog{}
	l := newLimiter(t, core.Config{Key: core.KeyByRoute(), Observer: log,
		Rules: []core.Rule{{Policy: core.NewFixedWindow("route", 2, time.Hour)}}})
	tr := h.New(t, Setup{
		Global: Guard{Limiter: l},
		Routes: []Route{{Pattern: "/items/{id}"}, {Pattern: "/users/{id}"}},
	})
	items, users := h.Route("/items/{id}"), h.Route("/users/{id}")
	for i, tc := range []struct {
		path string
		code int
		key  string
	}{
		{"/items/1", http.StatusOK, items},
		{"/items/2", http.StatusOK, items},
		{"/items/3", http.StatusTooManyRequests, items}, // one bucket for the route
		{"/users/1", http.StatusOK, users},
	} {
		r := do(t, tr, "GET", tc.path, "192.0.2.60:1", nil)
		got := log.take()
		if r.code != tc.code || !slices.Equal(got, []string{tc.key}) {
			t.Fatalf("request %d GET %s: %d keyed %q, want %d keyed %q", i+1, tc.path, r.code, got, tc.code, tc.key)
		}
	}
}
