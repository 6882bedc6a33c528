package tollgateecho_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/tollgate-go/tollgate/adapters/adaptertest"
	tollgateecho "github.com/tollgate-go/tollgate/adapters/echo"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

func newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisablePrintStack: true}))
	return e
}

// TestConformance runs the shared adapter suite: the global guard is e.Use, a route's guard
// is route middleware.
func TestConformance(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{
		New: func(t *testing.T, s adaptertest.Setup) adaptertest.Transport {
			e := newEcho()
			e.Use(guard(s.Global)...)
			for _, rt := range s.Routes {
				work, status, cost := rt.Work, rt.Status, rt.ReportCost
				if status == 0 {
					status = http.StatusOK
				}
				e.Any(adaptertest.ColonPattern(rt.Pattern), func(c echo.Context) error {
					if work != nil {
						work()
					}
					if cost > 0 {
						core.ReportCost(c.Request().Context(), cost)
					}
					return c.Blob(status, "text/plain", []byte(adaptertest.OK))
				}, guard(rt.Guard)...)
			}
			return adaptertest.ServeHTTP(e)
		},
		Route: adaptertest.ColonPattern,
	})
}

func guard(g adaptertest.Guard) []echo.MiddlewareFunc {
	var skip middleware.Skipper
	if g.Skip != nil {
		skip = func(c echo.Context) bool { return g.Skip(c.Request().Method, c.Request().URL.Path) }
	}
	var mws []echo.MiddlewareFunc
	if g.Limiter != nil {
		mws = append(mws, tollgateecho.RateLimiterWithConfig(tollgateecho.RateLimiterConfig{
			Limiter: g.Limiter, Skipper: skip, MissingKeyStatus: g.MissingKeyStatus, Headers: g.Headers,
			SkipFailedRequests: g.SkipFailedRequests, SkipSuccessfulRequests: g.SkipSuccessfulRequests,
		}))
	}
	if g.Concurrency != nil {
		mws = append(mws, tollgateecho.ConcurrencyWithConfig(tollgateecho.ConcurrencyConfig{
			Limiter: g.Concurrency, Skipper: skip, MissingKeyStatus: g.MissingKeyStatus, Headers: g.Headers, Wait: g.Wait,
		}))
	}
	return mws
}

// TestThroughEchoErrorHandling answers denials and key errors through the app's
// HTTPErrorHandler, as a user who returns echo.NewHTTPError does: the rate-limit headers
// stay, and the internal error reaches the error handler but not the client.
func TestThroughEchoErrorHandling(t *testing.T) {
	l, err := core.NewLimiter(core.Config{
		Store: memstore.New(),
		Key:   core.KeyByHeader("X-API-Key"),
		Rules: []core.Rule{{Policy: core.NewFixedWindow("api", 1, time.Minute)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := newEcho()
	var internal []error
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		var he *echo.HTTPError
		if errors.As(err, &he) && he.Internal != nil {
			internal = append(internal, he.Internal)
		}
		e.DefaultHTTPErrorHandler(err, c)
	}
	e.Use(tollgateecho.RateLimiterWithConfig(tollgateecho.RateLimiterConfig{
		Limiter: l,
		DenyHandler: func(c echo.Context, res *core.Result) error {
			return echo.NewHTTPError(http.StatusTooManyRequests, "slow down")
		},
		ErrorHandler: func(c echo.Context, err error) error {
			return tollgateecho.HTTPError(err, http.StatusUnauthorized)
		},
	}))
	e.GET("/", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	send := func(key string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/", nil)
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		w := httptest.NewRecorder()
		e.ServeHTTP(w, req)
		return w
	}
	if w := send("k"); w.Code != http.StatusOK {
		t.Fatalf("first request: %d", w.Code)
	}
	w := send("k")
	if w.Code != http.StatusTooManyRequests || strings.TrimSpace(w.Body.String()) != `{"message":"slow down"}` {
		t.Fatalf("denial through HTTPErrorHandler: %d %q", w.Code, w.Body)
	}
	if w.Header().Get("Retry-After") == "" {
		t.Fatalf("denial lost Retry-After: %v", w.Header())
	}
	if w.Header().Get("RateLimit") == "" {
		t.Fatalf("denial lost RateLimit: %v", w.Header())
	}
	w = send("")
	if w.Code != http.StatusUnauthorized || strings.TrimSpace(w.Body.String()) != `{"message":"Unauthorized"}` {
		t.Fatalf("key error through HTTPErrorHandler: %d %q", w.Code, w.Body)
	}
	if len(internal) != 1 || !errors.Is(internal[0], core.ErrMissingKey) {
		t.Fatalf("HTTPErrorHandler saw internal errors %v, want one ErrMissingKey", internal)
	}
}

func TestToMiddlewareValidates(t *testing.T) {
	if _, err := (tollgateecho.RateLimiterConfig{}).ToMiddleware(); !errors.Is(err, tollgateecho.ErrNoLimiter) {
		t.Fatalf("RateLimiterConfig without a limiter: %v, want ErrNoLimiter", err)
	}
	if _, err := (tollgateecho.ConcurrencyConfig{}).ToMiddleware(); !errors.Is(err, tollgateecho.ErrNoLimiter) {
		t.Fatalf("ConcurrencyConfig without a limiter: %v, want ErrNoLimiter", err)
	}
}
