package tollgateecho

import (
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/tollgate-go/tollgate/adapters/nethttp"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/reply"
	"github.com/tollgate-go/tollgate/internal/adaptercfg"
)

// ConcurrencyConfig configures [ConcurrencyWithConfig]. Zero values are the documented
// defaults; the shared fields mean what they mean in [RateLimiterConfig].
type ConcurrencyConfig struct {
	// Skipper returns true for requests that pass without a lease. Optional. Default:
	// middleware.DefaultSkipper.
	Skipper middleware.Skipper
	// Limiter holds the leases. Required.
	Limiter *core.ConcurrencyLimiter
	// DenyHandler answers a request that got no slot. Optional. Default: 429 problem+json.
	DenyHandler func(c echo.Context, res *core.Result) error
	// ErrorHandler answers when no decision could be made. Optional. Default: the status
	// from [reply.Status] with a problem+json body.
	ErrorHandler func(c echo.Context, err error) error
	// MissingKeyStatus is the status for a request without a key: 400 or 401. Optional.
	// Default: 400.
	MissingKeyStatus int
	// Headers selects the rate-limit headers written. Optional.
	Headers reply.HeaderOptions
	// ExtendEvery is how often the lease of a running request is extended. Optional.
	// Default: half the policy's Lease. Negative: never.
	ExtendEvery time.Duration
	// Wait lets a request wait (bounded) for a slot instead of being denied at once,
	// polling with full-jitter backoff (core.ConcurrencyLimiter.AcquireWait). Optional.
	// Default: no waiting.
	Wait core.Wait
}

// Concurrency returns middleware that lets at most the policy's Limit requests per key run
// at once, with the default configuration. It panics if c is nil, when the middleware is
// built.
func Concurrency(c *core.ConcurrencyLimiter) echo.MiddlewareFunc {
	return ConcurrencyWithConfig(ConcurrencyConfig{Limiter: c})
}

// ConcurrencyWithConfig returns middleware for cfg. It panics if cfg is invalid, when the
// middleware is built; [ConcurrencyConfig.ToMiddleware] returns the error instead.
func ConcurrencyWithConfig(cfg ConcurrencyConfig) echo.MiddlewareFunc {
	mw, err := cfg.ToMiddleware()
	if err != nil {
		panic(err)
	}
	return mw
}

// ToMiddleware validates cfg and returns its middleware. A request that gets no slot is
// denied (429, Retry-After, problem+json). The slot is released when the rest of the chain
// returns or panics (the panic goes on to the Recover middleware, which should be installed
// before this one). While the chain runs, the lease is extended every ExtendEvery.
func (cfg ConcurrencyConfig) ToMiddleware() (echo.MiddlewareFunc, error) {
	if cfg.Limiter == nil {
		return nil, ErrNoLimiter
	}
	if _, err := adaptercfg.MissingKeyStatus("tollgateecho: ConcurrencyConfig.MissingKeyStatus", cfg.MissingKeyStatus); err != nil {
		return nil, err
	}
	cl := cfg.Limiter
	h := newHandlers(cfg.Skipper, cfg.DenyHandler, cfg.ErrorHandler, cfg.MissingKeyStatus, cfg.Headers)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if h.skipper(c) {
				return next(c)
			}
			q := requests.Get().(*request)
			q.c = c
			lease, res, err := cl.AcquireWait(c.Request().Context(), q, cfg.Wait)
			q.c = nil
			requests.Put(q)
			if err != nil {
				return h.fail(c, err)
			}
			nethttp.WriteHeaders(c.Response().Header(), &res, h.headers, h.items)
			if !res.Allowed {
				return deny(c, &res, h.deny)
			}
			// Released on every exit path, panics included; extended while the handler runs.
			defer lease.Hold(c.Request().Context(), cfg.ExtendEvery)()
			return next(c)
		}
	}, nil
}
