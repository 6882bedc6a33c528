// Package tollgatefiber turns Tollgate's core limiters into Fiber v2 middleware, in Fiber's
// own idiom: New(config ...Config) with Next, KeyGenerator and LimitReached, as Fiber's
// middleware/limiter has, and NewConcurrency for the concurrency limiter.
//
//	app.Use(tollgatefiber.New(tollgatefiber.Config{Limiter: limiter}))
//	app.Post("/login", tollgatefiber.New(tollgatefiber.Config{Limiter: loginLimiter}), login)
//
// The handlers are native: they read the request from *fiber.Ctx and write headers into
// fasthttp's response, with no net/http adaptor on the way. They behave as the net/http
// adapter (github.com/tollgate-go/tollgate/adapters/nethttp) does and pass the same
// conformance suite (adapters/adaptertest): the RateLimit and RateLimit-Policy headers on
// allowed AND denied responses, 429 with Retry-After and an RFC 9457 problem+json body on a
// denial, key errors answered 400 or 401 and store failures under FailClosed 503, never with
// internal error text. A LimitReached or ErrorHandler may instead return an error (a
// *fiber.Error) to answer through the app's ErrorHandler.
//
// Store calls get c.UserContext(), which is context.Background unless the app sets one with
// c.SetUserContext: fasthttp's RequestCtx is not a request-scoped context (it is recycled
// after the handler returns, and its Done channel is the server's). The limiter applies its
// own per-decision time budget (core.Config.Timeout) on top.
//
// The route pattern Fiber matched (c.Route().Path, "/items/:id") is the request's route for
// key functions and rules ([core.KeyByRoute]) when the middleware is on a route or a group's
// route. In app.Use middleware Fiber has not chosen the final route yet, so the route is ""
// there and KeyByRoute falls back to "METHOD path". The client address is the connection's
// peer: Fiber's ProxyHeader and trusted-proxy settings are not consulted; key with
// [core.KeyByIPBehindProxies] behind a proxy.
//
// Strings a key function gets from the request (path, header values) are copies: fasthttp
// reuses its buffers after the handler returns, while limiters keep keys in their stores and
// denial caches.
//
// This package is its own module, so that a net/http user of Tollgate never has Fiber or
// fasthttp in their module graph.
package tollgatefiber

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/reply"
	"github.com/tollgate-go/tollgate/internal/adaptercfg"
	"github.com/valyala/fasthttp"
)

// Config configures [New]. Zero values are the documented defaults.
type Config struct {
	// Next defines a function to skip this middleware when it returns true.
	//
	// Optional. Default: nil
	Next func(c *fiber.Ctx) bool

	// Limiter decides. Its limits' key functions read the request through [Request].
	//
	// Required. (Fiber's own limiter defaults to 5 requests per minute; a hidden default
	// limit in a library's middleware is a production surprise, so New refuses to build
	// without one.)
	Limiter *core.Limiter

	// KeyGenerator, when set, replaces the limiter's key functions: every limit counts
	// under the key it returns (through core.Limiter.AllowKey, cost 1). An error is a
	// missing key (400 or 401). The key is copied, so it may come from fasthttp's buffers.
	//
	// Optional. Default: nil (the limiter's key functions).
	KeyGenerator func(c *fiber.Ctx) (string, error)

	// LimitReached answers a denied request; the rate-limit headers and Retry-After are
	// already set. Return nil once it has written the response, or an error (such as
	// fiber.ErrTooManyRequests) to answer through the app's ErrorHandler. It gets the
	// result, unlike Fiber's limiter, because the retry time and the violated policies are
	// what a response body wants.
	//
	// Optional. Default: 429 with an application/problem+json body (type quota-exceeded);
	// HEAD requests get no body.
	LimitReached func(c *fiber.Ctx, res *core.Result) error

	// ErrorHandler answers when no decision could be made: a key function error, an invalid
	// key, or a store failure under FailClosed. err is for logs; never show its text to the
	// client (it may carry store details).
	//
	// Optional. Default: the status from [reply.Status] with a problem+json body that
	// carries only the status text.
	ErrorHandler func(c *fiber.Ctx, err error) error

	// MissingKeyStatus is the status for a request without a key (no API key header):
	// 400 or 401.
	//
	// Optional. Default: 400. Other values are refused when the middleware is built.
	MissingKeyStatus int

	// Headers selects the rate-limit headers written.
	//
	// Optional. Default: RateLimit and RateLimit-Policy only.
	Headers reply.HeaderOptions

	// SkipFailedRequests gives back what a request spent when the rest of the chain
	// answered with a status of 400 or more, or returned an error (only successful requests
	// count), as Fiber's limiter does, but fleet-wide: the refund is one store request per
	// limit, in the background (core.Limiter.Refund).
	//
	// Optional. Default: false
	SkipFailedRequests bool

	// SkipSuccessfulRequests gives back what a request spent when the rest of the chain
	// answered below 400 (only failed requests count).
	//
	// Optional. Default: false
	SkipSuccessfulRequests bool
}

// handlers is what both middlewares share.
type handlers struct {
	next    func(*fiber.Ctx) bool
	deny    func(*fiber.Ctx, *core.Result) error
	fail    func(*fiber.Ctx, error) error
	headers reply.HeaderOptions
	items   *reply.PolicyItems // the limiter's rendered policy items
}

func newHandlers(next func(*fiber.Ctx) bool, deny func(*fiber.Ctx, *core.Result) error, fail func(*fiber.Ctx, error) error, missingKey int, h reply.HeaderOptions) handlers {
	missingKey, _ = adaptercfg.MissingKeyStatus("", missingKey)
	if fail == nil {
		fail = func(c *fiber.Ctx, err error) error { return WriteError(c, reply.Status(err, missingKey)) }
	}
	return handlers{next: next, deny: deny, fail: fail, headers: h, items: new(reply.PolicyItems)}
}

// New returns the rate-limit middleware for the first config. It panics when there is no
// config, its Limiter is nil or its MissingKeyStatus is not 0, 400 or 401, when the
// middleware is built (never on a request), as Fiber's middlewares do with an unusable
// config.
func New(config ...Config) fiber.Handler {
	var cfg Config
	if len(config) > 0 {
		cfg = config[0]
	}
	l := cfg.Limiter
	if l == nil {
		panic(adaptercfg.NilLimiter("tollgatefiber: Config.Limiter").Error())
	}
	if err := adaptercfg.Options("tollgatefiber: Config", cfg.MissingKeyStatus, cfg.SkipFailedRequests, cfg.SkipSuccessfulRequests); err != nil {
		panic(err.Error())
	}
	settle := l.Settles() || cfg.SkipFailedRequests || cfg.SkipSuccessfulRequests
	h := newHandlers(cfg.Next, cfg.LimitReached, cfg.ErrorHandler, cfg.MissingKeyStatus, cfg.Headers)
	keyGen := cfg.KeyGenerator
	return func(c *fiber.Ctx) error {
		if h.next != nil && h.next(c) {
			return c.Next()
		}
		var res core.Result
		var err error
		if keyGen != nil {
			var key string
			if key, err = keyGen(c); err != nil {
				err = keyError(err)
			} else {
				res, err = l.AllowKey(c.UserContext(), strings.Clone(key), 1)
			}
		} else {
			res, err = l.Allow(c.UserContext(), request{c})
		}
		if err != nil {
			return h.fail(c, err)
		}
		writeHeaders(&c.Response().Header, &res, h.headers, h.items)
		if !res.Allowed {
			return deny(c, &res, h.deny)
		}
		if !settle {
			return c.Next()
		}
		return nextAndSettle(c, l, &cfg, &res)
	}
}

// nextAndSettle runs the rest of the chain, then settles the request's real cost or refunds
// it by the skip rules. An error returned by the chain is answered later by the app's
// ErrorHandler, so its status is the error's (a *fiber.Error's code, or 500).
func nextAndSettle(c *fiber.Ctx, l *core.Limiter, cfg *Config, res *core.Result) error {
	var report func() (int64, int)
	if l.Settles() {
		var ctx context.Context
		ctx, report = core.WithCostReport(c.UserContext())
		c.SetUserContext(ctx)
	}
	err := c.Next()
	status := c.Response().StatusCode()
	if err != nil {
		status = fiber.StatusInternalServerError
		var fe *fiber.Error
		if errors.As(err, &fe) {
			status = fe.Code
		}
	}
	ctx := context.WithoutCancel(c.UserContext()) // the Ctx is recycled after the handler
	if adaptercfg.Skipped(cfg.SkipFailedRequests, cfg.SkipSuccessfulRequests, status) {
		l.Refund(ctx, res)
		return err
	}
	if report != nil {
		resp := c.Response()
		out := core.Outcome{Status: status, Written: int64(len(resp.Body())), Header: func(name string) string {
			return string(resp.Header.Peek(name))
		}}
		out.Reported, out.Reports = report()
		// Settle reads the request and the outcome before it returns (the store calls run
		// in the background on copies), so fasthttp's buffers are still valid here.
		l.Settle(ctx, request{c}, res, out)
	}
	return err
}

// keyError makes a KeyGenerator error a missing-key error, as the limiter does for key
// functions.
func keyError(err error) error {
	return &missingKey{err}
}

type missingKey struct{ err error }

func (e *missingKey) Error() string   { return "tollgatefiber: key generator: " + e.err.Error() }
func (e *missingKey) Unwrap() []error { return []error{core.ErrMissingKey, e.err} }

// deny answers a denial. The default handler (h nil) is called with res itself, which then
// stays on the caller's stack; a custom one gets its own heap copy, since it may keep it.
func deny(c *fiber.Ctx, res *core.Result, h func(*fiber.Ctx, *core.Result) error) error {
	if h == nil {
		return denyProblem(c, res)
	}
	cp := *res
	return h(c, &cp)
}

// denyProblem answers a denial with 429 and its problem+json body, rendered on the stack:
// fasthttp copies a body set with SetBody into its pooled buffer, so a denial allocates
// nothing for it.
func denyProblem(c *fiber.Ctx, res *core.Result) error {
	var buf [256]byte
	return writeProblem(c, http.StatusTooManyRequests, reply.AppendProblemJSON(buf[:0], res))
}

// WriteError answers with an error status and a problem+json body that carries only the
// status text. Use it from custom ErrorHandlers to keep internal error text away from
// clients.
func WriteError(c *fiber.Ctx, status int) error {
	return writeProblem(c, status, reply.ErrorProblemJSON(status))
}

// writeProblem answers with status and a problem+json body, copying body (which may live on
// the caller's stack) into the response.
func writeProblem(c *fiber.Ctx, status int, body []byte) error {
	resp := c.Response()
	resp.Header.SetContentType(reply.ContentTypeProblemJSON)
	resp.SetStatusCode(status)
	if c.Method() == fiber.MethodHead {
		return nil
	}
	resp.SetBody(body)
	return nil
}

// writeHeaders adds the rate-limit fields of res to h, as [reply.Fields] renders them
// (Retry-After replaces), copying each value into fasthttp's own buffers: no allocation.
func writeHeaders(h *fasthttp.ResponseHeader, res *core.Result, o reply.HeaderOptions, items *reply.PolicyItems) {
	var f reply.Fields
	f.Render(res, o, items)
	for i := range f.Len() {
		name, value, replace := f.Field(i)
		if replace {
			h.SetBytesV(name, value)
		} else {
			h.AddBytesV(name, value)
		}
	}
}

// request adapts *fiber.Ctx to core.Request. A struct holding one pointer converts to an
// interface without allocating.
type request struct{ c *fiber.Ctx }

// Request returns the core view of c, for calling a limiter or a key function directly. Use
// it only while the handler runs.
func Request(c *fiber.Ctx) core.Request { return request{c} }

// Method returns a constant string for the standard methods (fasthttp's method bytes are
// reused), and a copy otherwise.
func (q request) Method() string {
	switch m := q.c.Method(); m {
	case fiber.MethodGet:
		return fiber.MethodGet
	case fiber.MethodHead:
		return fiber.MethodHead
	case fiber.MethodPost:
		return fiber.MethodPost
	case fiber.MethodPut:
		return fiber.MethodPut
	case fiber.MethodPatch:
		return fiber.MethodPatch
	case fiber.MethodDelete:
		return fiber.MethodDelete
	case fiber.MethodOptions:
		return fiber.MethodOptions
	default:
		return strings.Clone(m)
	}
}

func (q request) Path() string { return strings.Clone(q.c.Path()) }

// Route returns the pattern of the route that handles the request. Inside a route's own
// middleware (app.Get("/a/:id", mw, h)) that is Fiber's current route. Inside app.Use or a
// group's Use, Fiber reports the middleware's own prefix ("/"), with the request's method, so
// keying by it would put every route in one bucket; there the adapter finds the route Fiber
// will match next (see routes.go). "" when no route matches (a 404): core.KeyByRoute then
// keys by "METHOD path".
func (q request) Route() string {
	r := q.c.Route()
	if ar := routesOf(q.c.App()); ar.isUse(r) {
		return ar.match(q.c)
	}
	return r.Path
}

func (q request) Header(name string) string { return strings.Clone(q.c.Get(name)) }

func (q request) HeaderValues(name string) []string {
	vs := q.c.Request().Header.PeekAll(name)
	if len(vs) == 0 {
		return nil
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// RemoteAddr returns the peer's IP for TCP connections (the port does not matter to keys),
// and the address's text otherwise (a Unix socket's, which key functions reject rather than
// share one bucket).
func (q request) RemoteAddr() string {
	switch a := q.c.Context().RemoteAddr().(type) {
	case *net.TCPAddr:
		return a.IP.String()
	case nil:
		return ""
	default:
		return a.String()
	}
}
