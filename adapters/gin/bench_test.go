package tollgategin_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	tollgategin "github.com/tollgate-go/tollgate/adapters/gin"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// BenchmarkMiddleware measures the added cost of an allowed request on the memory store,
// against the same Gin app without the middleware (Gin has no built-in limiter).
//
//	go test -run '^$' -bench Middleware -benchmem ./adapters/gin/
func BenchmarkMiddleware(b *testing.B) {
	l, err := core.NewLimiter(core.Config{
		Store: memstore.New(),
		Rules: []core.Rule{{Policy: core.NewFixedWindow("bench", 1<<50, time.Hour)}},
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		mw   []gin.HandlerFunc
	}{
		{"bare", nil},
		{"tollgate", []gin.HandlerFunc{tollgategin.RateLimit(l, tollgategin.Options{})}},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := gin.New()
			r.Use(c.mw...)
			r.GET("/items/:id", func(c *gin.Context) { c.Status(http.StatusOK) })
			req := httptest.NewRequest("GET", "/items/1", nil)
			req.RemoteAddr = "192.0.2.1:1234"
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				clear(w.h)
				r.ServeHTTP(w, req)
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
