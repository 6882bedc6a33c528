package bench_test

import (
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"
	echomw "github.com/labstack/echo/v4/middleware"
	tollgateecho "github.com/tollgate-go/tollgate/adapters/echo"
)

// echoContender builds an Echo app whose GET / answers 200 "ok" behind mw (nil: bare).
type echoContender struct {
	name  string
	build func(tb testing.TB, limit int64) echo.MiddlewareFunc
}

var echoContenders = []echoContender{
	{name: "bare"},
	{name: "tollgate", build: func(tb testing.TB, limit int64) echo.MiddlewareFunc {
		return tollgateecho.RateLimiter(tollgateLimiter(tb, limit))
	}},
	{name: "echo", build: func(_ testing.TB, limit int64) echo.MiddlewareFunc {
		// Echo's own limiter with its default identifier (c.RealIP(): the peer address when
		// no proxy header is present).
		return echomw.RateLimiter(echomw.NewRateLimiterMemoryStoreWithConfig(echomw.RateLimiterMemoryStoreConfig{
			Rate: perSecond(limit), Burst: int(limit), ExpiresIn: window,
		}))
	}},
}

func echoApp(mw echo.MiddlewareFunc) *echo.Echo {
	e := echo.New()
	if mw != nil {
		e.Use(mw)
	}
	e.GET("/", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	return e
}

// echoTargets adapts echoContenders to the workload runner.
func echoTargets() []contender {
	cs := make([]contender, len(echoContenders))
	for i, c := range echoContenders {
		cs[i] = contender{name: c.name, allowOnly: c.build == nil, build: func(tb testing.TB, limit int64, keys []string) target {
			var mw echo.MiddlewareFunc
			if c.build != nil {
				mw = c.build(tb, limit)
			}
			return target{newWorker: httpWorker(echoApp(mw), keys), close: func() {}}
		}}
	}
	return cs
}

// BenchmarkEcho is each middleware on Echo v4, keyed by client IP, against bare Echo.
func BenchmarkEcho(b *testing.B) { runMatrix(b, echoTargets()) }
