package tollgatefiber_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	tollgatefiber "github.com/tollgate-go/tollgate/adapters/fiber"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

type keyRecorder struct {
	mu   sync.Mutex
	keys []string
}

func (k *keyRecorder) Observe(_ context.Context, e core.Event) {
	if e.Kind == core.EventDecision {
		k.mu.Lock()
		k.keys = append(k.keys, e.Key)
		k.mu.Unlock()
	}
}

// TestRouteKeysInUseAndGroups is the fail-loud issue's Fiber case: core.KeyByRoute in app.Use
// and in a group's Use keyed every request by the Use prefix "/", one bucket for the whole
// app. It now keys by the route Fiber matches; a path no route matches keys by "METHOD path".
func TestRouteKeysInUseAndGroups(t *testing.T) {
	rec := &keyRecorder{}
	l, err := core.NewLimiter(core.Config{Store: memstore.New(), Key: core.KeyByRoute(), Observer: rec,
		Rules: []core.Rule{{Policy: core.NewFixedWindow("route", 2, time.Hour)}}})
	if err != nil {
		t.Fatal(err)
	}
	app := newApp()
	app.Use(tollgatefiber.New(tollgatefiber.Config{Limiter: l}))
	ok := func(c *fiber.Ctx) error { return c.SendString("ok") }
	app.Get("/a", ok)
	app.Get("/b", ok)
	app.Get("/items/:id", ok)
	api := app.Group("/api", tollgatefiber.New(tollgatefiber.Config{Limiter: l}))
	api.Get("/users/:id", ok)
	tr := transport(app)
	for _, tc := range []struct {
		path string
		code int
		key  string
	}{
		{"/a", 200, "/a"},
		{"/a", 200, "/a"},
		{"/b", 200, "/b"},
		{"/items/1", 200, "/items/:id"},
		{"/items/2", 200, "/items/:id"},
		{"/items/3", 429, "/items/:id"},
		{"/no-such-route", 404, "GET /no-such-route"},
	} {
		rec.keys = nil
		req := httptest.NewRequest("GET", tc.path, nil)
		req.RemoteAddr = "192.0.2.1:1"
		res, err := tr(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.code || len(rec.keys) != 1 || rec.keys[0] != tc.key {
			t.Fatalf("GET %s: %d keyed %q, want %d keyed %q", tc.path, res.StatusCode, rec.keys, tc.code, tc.key)
		}
	}
	// A group's middleware: both the app's Use and the group's see the group's route.
	rec.keys = nil
	req := httptest.NewRequest("GET", "/api/users/7", nil)
	req.RemoteAddr = "192.0.2.1:1"
	res, err := tr(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || len(rec.keys) != 2 || rec.keys[0] != "/api/users/:id" || rec.keys[1] != "/api/users/:id" {
		t.Fatalf("GET /api/users/7: %d keyed %q, want 200 keyed /api/users/:id twice", res.StatusCode, rec.keys)
	}
}
