package tollgateecho_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	tollgateecho "github.com/tollgate-go/tollgate/adapters/echo"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// A global limit with e.Use, and a stricter one on a single route, keyed by API key.
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

	e := echo.New()
	e.Use(tollgateecho.RateLimiter(global))
	e.GET("/search", func(c echo.Context) error { return c.String(http.StatusOK, "results") },
		tollgateecho.RateLimiterWithConfig(tollgateecho.RateLimiterConfig{Limiter: perKey, MissingKeyStatus: http.StatusUnauthorized}))

	for _, key := range []string{"alice", "alice", "alice", ""} {
		req := httptest.NewRequest("GET", "/search", nil)
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		w := httptest.NewRecorder()
		e.ServeHTTP(w, req)
		fmt.Printf("%d %s Retry-After=%q\n", w.Code, strings.Join(w.Header().Values("RateLimit"), ", "), w.Header().Get("Retry-After"))
	}
	// Output:
	// 200 "global";r=99;t=40, "search";r=1;t=40 Retry-After=""
	// 200 "global";r=98;t=40, "search";r=0;t=40 Retry-After=""
	// 429 "global";r=97;t=40, "search";r=0;t=40 Retry-After="40"
	// 401 "global";r=96;t=40 Retry-After=""
}
