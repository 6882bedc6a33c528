package tollgatefiber_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	tollgatefiber "github.com/tollgate-go/tollgate/adapters/fiber"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// A global limit with app.Use, and a stricter one on a single route, keyed by API key.
func Example() {
	fixed := time.Unix(1_800_000_020, 0) // 20 s into a minute, for stable output
	global, err := core.NewLimiter(core.Config{
		Store: memstore.New(),
		Rules: []core.Rule{{Policy: core.NewFixedWindow("global", 100, time.Minute)}},
		Now:   func() time.Time { return fixed },
	})
	if err != nil {
		panic(err)
	}
	perKey, err := core.NewLimiter(core.Config{
		Store: memstore.New(),
		Key:   core.KeyByHeader("X-API-Key"),
		Rules: []core.Rule{{Policy: core.NewFixedWindow("search", 2, time.Minute)}},
		Now:   func() time.Time { return fixed },
	})
	if err != nil {
		panic(err)
	}

	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(tollgatefiber.New(tollgatefiber.Config{Limiter: global}))
	app.Get("/search", tollgatefiber.New(tollgatefiber.Config{Limiter: perKey, MissingKeyStatus: http.StatusUnauthorized}),
		func(c *fiber.Ctx) error { return c.SendString("results") })

	for _, key := range []string{"alice", "alice", "alice", ""} {
		req := httptest.NewRequest("GET", "/search", nil)
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		res, err := app.Test(req)
		if err != nil {
			panic(err)
		}
		res.Body.Close()
		fmt.Printf("%d %s Retry-After=%q\n", res.StatusCode, strings.Join(res.Header.Values("RateLimit"), ", "), res.Header.Get("Retry-After"))
	}
	// Output:
	// 200 "global";r=99;t=40, "search";r=1;t=40 Retry-After=""
	// 200 "global";r=98;t=40, "search";r=0;t=40 Retry-After=""
	// 429 "global";r=97;t=40, "search";r=0;t=40 Retry-After="40"
	// 401 "global";r=96;t=40 Retry-After=""
}
