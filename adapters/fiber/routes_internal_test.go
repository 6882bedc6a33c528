package tollgatefiber

import (
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// appCount returns the number of apps whose route tables are kept.
func appCount() int {
	n := 0
	apps.Range(func(any, any) bool { n++; return true })
	return n
}

// TestRouteTablesDieWithTheirApps: the route table of an app is kept while the app lives and
// dropped once it is collected, so building many apps (a test suite, say) does not grow the
// table, and an app in use keeps its table.
func TestRouteTablesDieWithTheirApps(t *testing.T) {
	base := appCount()
	serve := func() *fiber.App {
		l, err := core.NewLimiter(core.Config{Store: memstore.New(), Key: core.KeyByRoute(),
			Rules: []core.Rule{{Policy: core.NewFixedWindow("r", 100, time.Minute)}}})
		if err != nil {
			t.Fatal(err)
		}
		app := fiber.New()
		// A middleware that refers to its own app: the table must not keep it alive through
		// its Use routes' handlers.
		app.Use(func(c *fiber.Ctx) error { _ = app.Config(); return c.Next() })
		app.Use(New(Config{Limiter: l}))
		app.Get("/items/:id", func(c *fiber.Ctx) error { return c.SendString("ok") })
		resp, err := app.Test(httptest.NewRequest("GET", "/items/1", nil))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET: %v %v", resp, err)
		}
		return app
	}
	kept := serve()
	for range 20 {
		serve()
	}
	if n := appCount() - base; n < 1 {
		t.Fatalf("%d route tables kept after serving; want the apps' tables", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for appCount()-base > 1 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if n := appCount() - base; n != 1 {
		t.Errorf("%d route tables kept after the apps were dropped; want 1 (the live app's)", n)
	}
	if v, ok := apps.Load(addrOf(kept)); !ok || v.(*appEntry).w.Value() != kept {
		t.Error("the live app's route table was dropped")
	}
	runtime.KeepAlive(kept)
}
