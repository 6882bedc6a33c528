package tollgateecho_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	tollgateecho "github.com/tollgate-go/tollgate/adapters/echo"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"golang.org/x/time/rate"
)

// BenchmarkMiddleware measures the added cost of an allowed request on the memory store,
// against the same Echo app without middleware and with Echo's own middleware.RateLimiter
// on its memory store (limits high enough that every request is allowed).
//
//	go test -run '^$' -bench Middleware -benchmem ./adapters/echo/
func BenchmarkMiddleware(b *testing.B) {
	l, err := core.NewLimiter(core.Config{
		Store: memstore.New(),
		Rules: []core.Rule{{Policy: core.NewFixedWindow("bench", 1<<50, time.Hour)}},
	})
	if err != nil {
		b.Fatal(err)
	}
	echoStore := middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
		Rate: rate.Limit(1e12), Burst: 1 << 30, ExpiresIn: time.Hour,
	})
	for _, c := range []struct {
		name string
		mw   []echo.MiddlewareFunc
	}{
		{"bare", nil},
		{"tollgate", []echo.MiddlewareFunc{tollgateecho.RateLimiter(l)}},
		{"echo-ratelimiter", []echo.MiddlewareFunc{middleware.RateLimiter(echoStore)}},
	} {
		b.Run(c.name, func(b *testing.B) {
			e := echo.New()
			e.Use(c.mw...)
			e.GET("/items/:id", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
			req := httptest.NewRequest("GET", "/items/1", nil)
			req.RemoteAddr = "192.0.2.1:1234"
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				clear(w.h)
				e.ServeHTTP(w, req)
			}
		})
	}
}

// discard is a ResponseWriter that keeps one header map, as net/http's server does per
// request, so the benchmark measures the middleware rather than a recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}
