package tollgatefiber

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/reply"
	"github.com/tollgate-go/tollgate/internal/adaptercfg"
)

// ConcurrencyConfig configures [NewConcurrency]. Zero values are the documented defaults;
// the shared fields mean what they mean in [Config].
type ConcurrencyConfig struct {
	// Next defines a function to skip this middleware when it returns true.
	//
	// Optional. Default: nil
	Next func(c *fiber.Ctx) bool

	// Limiter holds the leases.
	//
	// Required.
	Limiter *core.ConcurrencyLimiter

	// LimitReached answers a request that got no slot.
	//
	// Optional. Default: 429 with an application/problem+json body.
	LimitReached func(c *fiber.Ctx, res *core.Result) error

	// ErrorHandler answers when no decision could be made.
	//
	// Optional. Default: the status from [reply.Status] with a problem+json body.
	ErrorHandler func(c *fiber.Ctx, err error) error

	// MissingKeyStatus is the status for a request without a key: 400 or 401.
	//
	// Optional. Default: 400.
	MissingKeyStatus int

	// Headers selects the rate-limit headers written.
	//
	// Optional. Default: RateLimit and RateLimit-Policy only.
	Headers reply.HeaderOptions

	// ExtendEvery is how often the lease of a running request is extended.
	//
	// Optional. Default: half the policy's Lease. Negative: never.
	ExtendEvery time.Duration

	// Wait lets a request wait (bounded) for a slot instead of being denied at once,
	// polling with full-jitter backoff (core.ConcurrencyLimiter.AcquireWait).
	//
	// Optional. Default: no waiting.
	Wait core.Wait
}

// NewConcurrency returns middleware that lets at most the policy's Limit requests per key
// run at once, across every instance sharing the limiter's store. A request that gets no
// slot is denied (429, Retry-After, problem+json). The slot is released when the rest of the
// chain returns or panics (the panic goes on to the recover middleware, which should be
// installed before this one). While the chain runs, the lease is extended every
// ExtendEvery. It panics if the config has no Limiter, when the middleware is built (never on
// a request), as Fiber's middlewares do with an unusable config.
func NewConcurrency(config ...ConcurrencyConfig) fiber.Handler {
	var cfg ConcurrencyConfig
	if len(config) > 0 {
		cfg = config[0]
	}
	if cfg.Limiter == nil {
		panic(adaptercfg.NilLimiter("tollgatefiber: ConcurrencyConfig.Limiter").Error())
	}
	if _, err := adaptercfg.MissingKeyStatus("tollgatefiber: ConcurrencyConfig.MissingKeyStatus", cfg.MissingKeyStatus); err != nil {
		panic(err.Error())
	}
	cl := cfg.Limiter
	h := newHandlers(cfg.Next, cfg.LimitReached, cfg.ErrorHandler, cfg.MissingKeyStatus, cfg.Headers)
	return func(c *fiber.Ctx) error {
		if h.next != nil && h.next(c) {
			return c.Next()
		}
		uctx := c.UserContext()
		lease, res, err := cl.AcquireWait(uctx, request{c}, cfg.Wait)
		if err != nil {
			return h.fail(c, err)
		}
		writeHeaders(&c.Response().Header, &res, h.headers, h.items)
		if !res.Allowed {
			return deny(c, &res, h.deny)
		}
		// Released on every exit path, panics included; extended while the handler runs.
		defer lease.Hold(uctx, cfg.ExtendEvery)()
		return c.Next()
	}
}
