package bench_test

import (
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"
	tollgategin "github.com/tollgate-go/tollgate/adapters/gin"
	ulule "github.com/ulule/limiter/v3"
	ululegin "github.com/ulule/limiter/v3/drivers/middleware/gin"
	ululemem "github.com/ulule/limiter/v3/drivers/store/memory"
)

// ginContender builds a Gin engine whose GET / answers 200 "ok" behind mw (nil: bare).
type ginContender struct {
	name  string
	build func(tb testing.TB, limit int64) gin.HandlerFunc
}

// Gin has no limiter of its own; ulule/limiter's Gin driver is the peer.
var ginContenders = []ginContender{
	{name: "bare"},
	{name: "tollgate", build: func(tb testing.TB, limit int64) gin.HandlerFunc {
		return tollgategin.RateLimit(tollgateLimiter(tb, limit), tollgategin.Options{})
	}},
	{name: "ulule", build: func(_ testing.TB, limit int64) gin.HandlerFunc {
		return ululegin.NewMiddleware(ulule.New(ululemem.NewStore(), ulule.Rate{Period: window, Limit: limit}))
	}},
}

func ginApp(mw gin.HandlerFunc) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	if mw != nil {
		e.Use(mw)
	}
	e.GET("/", func(c *gin.Context) { c.String(http.StatusOK, "ok\n") })
	return e
}

// ginTargets adapts ginContenders to the workload runner.
func ginTargets() []contender {
	cs := make([]contender, len(ginContenders))
	for i, c := range ginContenders {
		cs[i] = contender{name: c.name, allowOnly: c.build == nil, build: func(tb testing.TB, limit int64, keys []string) target {
			var mw gin.HandlerFunc
			if c.build != nil {
				mw = c.build(tb, limit)
			}
			return target{newWorker: httpWorker(ginApp(mw), keys), close: func() {}}
		}}
	}
	return cs
}

// BenchmarkGin is each middleware on Gin, keyed by client IP, against bare Gin.
func BenchmarkGin(b *testing.B) { runMatrix(b, ginTargets()) }
