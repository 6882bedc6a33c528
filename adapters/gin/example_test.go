package tollgategin_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	tollgategin "github.com/tollgate-go/tollgate/adapters/gin"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// A global limit with r.Use, and a stricter one on a single route, keyed by API key.
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

	r := gin.New()
	r.Use(tollgategin.RateLimit(global, tollgategin.Options{}))
	r.GET("/search", tollgategin.RateLimit(perKey, tollgategin.Options{MissingKeyStatus: http.StatusUnauthorized}),
		func(c *gin.Context) { c.String(http.StatusOK, "results") })

	for _, key := range []string{"alice", "alice", "alice", ""} {
		req := httptest.NewRequest("GET", "/search", nil)
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		fmt.Printf("%d %s Retry-After=%q\n", w.Code, strings.Join(w.Header().Values("RateLimit"), ", "), w.Header().Get("Retry-After"))
	}
	// Output:
	// 200 "global";r=99;t=40, "search";r=1;t=40 Retry-After=""
	// 200 "global";r=98;t=40, "search";r=0;t=40 Retry-After=""
	// 429 "global";r=97;t=40, "search";r=0;t=40 Retry-After="40"
	// 401 "global";r=96;t=40 Retry-After=""
}
