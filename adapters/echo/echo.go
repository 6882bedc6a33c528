// Package tollgateecho turns Tollgate's core limiters into Echo v4 middleware, in Echo's own
// idiom: [RateLimiter] and [RateLimiterWithConfig] (with a Skipper, a DenyHandler and an
// ErrorHandler, like Echo's middleware.RateLimiter), and [Concurrency] and
// [ConcurrencyWithConfig].
//
//	e.Use(tollgateecho.RateLimiter(limiter))
//	e.POST("/login", login, tollgateecho.RateLimiter(loginLimiter))
//
// It behaves as the net/http adapter (github.com/tollgate-go/tollgate/adapters/nethttp) does,
// and passes the same conformance suite (adapters/adaptertest): the RateLimit and
// RateLimit-Policy headers on allowed AND denied responses, 429 with Retry-After and an RFC
// 9457 problem+json body on a denial, key errors answered 400 or 401 and store failures under
// FailClosed 503, never with internal error text. A DenyHandler or ErrorHandler may instead
// return an error (echo.NewHTTPError(...)) to answer through the app's HTTPErrorHandler; the
// rate-limit headers are already on the response.
//
// The route pattern Echo matched (c.Path(), "/items/:id") is the request's route for key
// functions and rules ([core.KeyByRoute]); Echo routes before running e.Use middleware, so it
// is there for global middleware too (not for e.Pre middleware). The client address is
// http.Request.RemoteAddr: Echo's IPExtractor and c.RealIP are not consulted; key with
// [core.KeyByIPBehindProxies] behind a proxy.
//
// This package is its own module, so that a net/http user of Tollgate never has Echo in their
// module graph.
package tollgateecho

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/tollgate-go/tollgate/adapters/nethttp"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/reply"
	"github.com/tollgate-go/tollgate/internal/adaptercfg"
)

// RateLimiterConfig configures [RateLimiterWithConfig]. Zero values are the documented
// defaults.
type RateLimiterConfig struct {
	// Skipper returns true for requests that pass without a decision (health checks, say).
	// Optional. Default: middleware.DefaultSkipper (none skipped).
	Skipper middleware.Skipper
	// Limiter decides. Required.
	Limiter *core.Limiter
	// DenyHandler answers a denied request; the rate-limit headers and Retry-After are
	// already set. Return nil once it has written the response, or an error (for instance
	// echo.NewHTTPError(http.StatusTooManyRequests)) to answer through Echo's
	// HTTPErrorHandler. Optional. Default: 429 with an application/problem+json body (type
	// quota-exceeded); HEAD requests get no body.
	DenyHandler func(c echo.Context, res *core.Result) error
	// ErrorHandler answers when no decision could be made: a key function error, an invalid
	// key, or a store failure under FailClosed. err is for logs; never show its text to the
	// client (it may carry store details). Like DenyHandler, it may return an error for
	// Echo's HTTPErrorHandler ([HTTPError] builds one that carries err as Internal).
	// Optional. Default: the status from [reply.Status] with a problem+json body that
	// carries only the status text.
	ErrorHandler func(c echo.Context, err error) error
	// MissingKeyStatus is the status for a request without a key (no API key header):
	// 400 or 401. Optional. Default: 400. Other values are refused.
	MissingKeyStatus int
	// Headers selects the rate-limit headers written. Optional. Default: RateLimit and
	// RateLimit-Policy only.
	Headers reply.HeaderOptions
	// SkipFailedRequests gives back what a request spent when the next handler answered
	// with a status of 400 or more, or returned an error (only successful requests count);
	// SkipSuccessfulRequests when it answered below 400 (only failed requests count). The
	// refund is one store request per limit, in the background (core.Limiter.Refund).
	// Optional. Default: false.
	SkipFailedRequests, SkipSuccessfulRequests bool
}

// handlers is what both middlewares share.
type handlers struct {
	skipper middleware.Skipper
	deny    func(echo.Context, *core.Result) error
	fail    func(echo.Context, error) error
	headers reply.HeaderOptions
	items   *reply.PolicyItems // the limiter's rendered policy items
}

func newHandlers(skip middleware.Skipper, deny func(echo.Context, *core.Result) error, fail func(echo.Context, error) error, missingKey int, h reply.HeaderOptions) handlers {
	if skip == nil {
		skip = middleware.DefaultSkipper
	}
	missingKey, _ = adaptercfg.MissingKeyStatus("", missingKey)
	if fail == nil {
		fail = func(c echo.Context, err error) error { return WriteError(c, reply.Status(err, missingKey)) }
	}
	return handlers{skipper: skip, deny: deny, fail: fail, headers: h, items: new(reply.PolicyItems)}
}

// request adapts echo.Context to core.Request. Requests are pooled: an echo.Context is an
// interface, and a struct holding one would be moved to the heap on every request when it
// becomes a core.Request.
type request struct{ c echo.Context }

func (q *request) Method() string                    { return q.c.Request().Method }
func (q *request) Path() string                      { return q.c.Request().URL.Path }
func (q *request) Route() string                     { return q.c.Path() }
func (q *request) Header(name string) string         { return q.c.Request().Header.Get(name) }
func (q *request) HeaderValues(name string) []string { return q.c.Request().Header.Values(name) }
func (q *request) RemoteAddr() string                { return q.c.Request().RemoteAddr }

var requests = sync.Pool{New: func() any { return new(request) }}

// Request returns the core view of c, for calling a limiter or a key function directly.
func Request(c echo.Context) core.Request { return &request{c} }

// RateLimiter returns middleware that enforces l with the default configuration. It panics
// if l is nil, when the middleware is built (never on a request), as Echo's own middleware
// does with a missing store.
func RateLimiter(l *core.Limiter) echo.MiddlewareFunc {
	return RateLimiterWithConfig(RateLimiterConfig{Limiter: l})
}

// RateLimiterWithConfig returns middleware for cfg. It panics if cfg is invalid, when the
// middleware is built; [RateLimiterConfig.ToMiddleware] returns the error instead.
func RateLimiterWithConfig(cfg RateLimiterConfig) echo.MiddlewareFunc {
	mw, err := cfg.ToMiddleware()
	if err != nil {
		panic(err)
	}
	return mw
}

// ErrNoLimiter is returned by ToMiddleware for a configuration without a limiter.
var ErrNoLimiter = errors.New("tollgateecho: the configuration has no Limiter")

// ToMiddleware validates cfg and returns its middleware.
func (cfg RateLimiterConfig) ToMiddleware() (echo.MiddlewareFunc, error) {
	if cfg.Limiter == nil {
		return nil, ErrNoLimiter
	}
	if err := adaptercfg.Options("tollgateecho: RateLimiterConfig", cfg.MissingKeyStatus, cfg.SkipFailedRequests, cfg.SkipSuccessfulRequests); err != nil {
		return nil, err
	}
	l := cfg.Limiter
	settle := l.Settles() || cfg.SkipFailedRequests || cfg.SkipSuccessfulRequests
	h := newHandlers(cfg.Skipper, cfg.DenyHandler, cfg.ErrorHandler, cfg.MissingKeyStatus, cfg.Headers)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if h.skipper(c) {
				return next(c)
			}
			q := requests.Get().(*request)
			q.c = c
			res, err := l.Allow(c.Request().Context(), q)
			q.c = nil
			requests.Put(q)
			if err != nil {
				return h.fail(c, err)
			}
			nethttp.WriteHeaders(c.Response().Header(), &res, h.headers, h.items)
			if !res.Allowed {
				return deny(c, &res, h.deny)
			}
			if !settle {
				return next(c)
			}
			return nextAndSettle(c, next, l, &cfg, &res)
		}
	}, nil
}

// nextAndSettle runs next, then settles the request's real cost or refunds it by the skip
// rules. An error returned by next is answered later by Echo's HTTPErrorHandler, so its
// status is the error's (an *echo.HTTPError's code, or 500).
func nextAndSettle(c echo.Context, next echo.HandlerFunc, l *core.Limiter, cfg *RateLimiterConfig, res *core.Result) error {
	var report func() (int64, int)
	if l.Settles() {
		var ctx context.Context
		ctx, report = core.WithCostReport(c.Request().Context())
		c.SetRequest(c.Request().WithContext(ctx))
	}
	err := next(c)
	status := c.Response().Status
	if err != nil {
		status = http.StatusInternalServerError
		var he *echo.HTTPError
		if errors.As(err, &he) {
			status = he.Code
		}
	}
	ctx := c.Request().Context()
	if adaptercfg.Skipped(cfg.SkipFailedRequests, cfg.SkipSuccessfulRequests, status) {
		l.Refund(ctx, res)
		return err
	}
	if report != nil {
		out := core.Outcome{Status: status, Written: c.Response().Size, Header: c.Response().Header().Get}
		out.Reported, out.Reports = report()
		l.Settle(ctx, &request{c}, res, out)
	}
	return err
}

// deny answers a denial. The default handler (h nil) is called with res itself, which then
// stays on the caller's stack; a custom one gets its own heap copy, since it may keep it.
func deny(c echo.Context, res *core.Result, h func(echo.Context, *core.Result) error) error {
	if h == nil {
		return denyProblem(c, res)
	}
	cp := *res
	return h(c, &cp)
}

func denyProblem(c echo.Context, res *core.Result) error {
	nethttp.DenyProblem(c.Response(), c.Request(), res)
	return nil
}

// WriteError answers with an error status and a problem+json body that carries only the
// status text. Use it from custom ErrorHandlers to keep internal error text away from
// clients.
func WriteError(c echo.Context, status int) error {
	return writeProblem(c, status, reply.ErrorProblemJSON(status))
}

// HTTPError returns the *echo.HTTPError for a limiter error: the status from
// [reply.Status] (missingKey is 400 or 401), the status text as the message, and err as
// Internal, for logs (Echo's default HTTPErrorHandler shows Internal only in Debug mode).
// Return it from an ErrorHandler to answer through the app's HTTPErrorHandler.
func HTTPError(err error, missingKey int) *echo.HTTPError {
	status := reply.Status(err, missingKey)
	return echo.NewHTTPError(status, http.StatusText(status)).SetInternal(err)
}

func writeProblem(c echo.Context, status int, body []byte) error {
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, reply.ContentTypeProblemJSON)
	w.WriteHeader(status)
	if c.Request().Method == http.MethodHead {
		return nil
	}
	_, err := w.Write(body)
	return err
}
