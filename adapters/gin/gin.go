// Package tollgategin turns Tollgate's core limiters into Gin middleware: constructors that
// return a gin.HandlerFunc, usable with r.Use for every route, on a group, or on one route.
//
//	r.Use(tollgategin.RateLimit(limiter, tollgategin.Options{}))
//	r.POST("/login", tollgategin.RateLimit(loginLimiter, tollgategin.Options{}), login)
//
// It behaves as the net/http adapter (github.com/tollgate-go/tollgate/adapters/nethttp) does,
// and passes the same conformance suite (adapters/adaptertest): the RateLimit and
// RateLimit-Policy headers on allowed AND denied responses, 429 with Retry-After and an RFC
// 9457 problem+json body on a denial, key errors answered 400 or 401 and store failures under
// FailClosed 503, never with internal error text.
//
// The route pattern Gin matched (c.FullPath(), "/items/:id") is the request's route for key
// functions and rules ([core.KeyByRoute]); Gin knows it before any handler runs, so it is
// there for global middleware too. The client address is http.Request.RemoteAddr: Gin's own
// trusted-proxy settings (ClientIP) are not consulted; key with
// [core.KeyByIPBehindProxies] behind a proxy.
//
// This package is its own module, so that a net/http user of Tollgate never has Gin in their
// module graph.
package tollgategin

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-go/tollgate/adapters/nethttp"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/reply"
	"github.com/tollgate-go/tollgate/internal/adaptercfg"
)

// Options configures the middleware. Zero values are the documented defaults.
type Options struct {
	// Skip returns true for requests that pass without a decision (health checks, say).
	// Optional. Default: none skipped.
	Skip func(c *gin.Context) bool
	// DenyHandler writes the response of a denied request; the rate-limit headers and
	// Retry-After are already set, and the chain is aborted after it returns. Optional.
	// Default: 429 with an application/problem+json body (type quota-exceeded); HEAD
	// requests get no body.
	DenyHandler func(c *gin.Context, res *core.Result)
	// ErrorHandler writes the response when no decision could be made: a key function
	// error, an invalid key, or a store failure under FailClosed. err is for logs (c.Error
	// records it for Gin's error middleware); never show its text to the client. The chain
	// is aborted after it returns. Optional. Default: the status from [reply.Status] with
	// a problem+json body that carries only the status text.
	ErrorHandler func(c *gin.Context, err error)
	// MissingKeyStatus is the status for a request without a key (no API key header):
	// 400 or 401. Optional. Default: 400. Other values are refused when the middleware is
	// built.
	MissingKeyStatus int
	// Headers selects the rate-limit headers written. Optional. Default: RateLimit and
	// RateLimit-Policy only.
	Headers reply.HeaderOptions
	// SkipFailedRequests gives back what a request spent when the rest of the chain
	// answered with a status of 400 or more (only successful requests count);
	// SkipSuccessfulRequests when it answered below 400 (only failed requests count). The
	// refund is one store request per limit, in the background (core.Limiter.Refund).
	// Optional. Default: false.
	SkipFailedRequests, SkipSuccessfulRequests bool
}

// check validates o; field names the options in errors.
func (o *Options) check(field string) error {
	return adaptercfg.Options("tollgategin: "+field, o.MissingKeyStatus, o.SkipFailedRequests, o.SkipSuccessfulRequests)
}

func (o *Options) defaults() {
	o.MissingKeyStatus, _ = adaptercfg.MissingKeyStatus("", o.MissingKeyStatus)
	if o.ErrorHandler == nil {
		status := o.MissingKeyStatus
		o.ErrorHandler = func(c *gin.Context, err error) {
			WriteError(c, reply.Status(err, status))
		}
	}
}

// request adapts *gin.Context to core.Request. A struct holding one pointer converts to an
// interface without allocating.
type request struct{ c *gin.Context }

func (q request) Method() string                    { return q.c.Request.Method }
func (q request) Path() string                      { return q.c.Request.URL.Path }
func (q request) Route() string                     { return q.c.FullPath() }
func (q request) Header(name string) string         { return q.c.Request.Header.Get(name) }
func (q request) HeaderValues(name string) []string { return q.c.Request.Header.Values(name) }
func (q request) RemoteAddr() string                { return q.c.Request.RemoteAddr }

// Request returns the core view of c, for calling a limiter or a key function directly.
func Request(c *gin.Context) core.Request { return request{c} }

// RateLimit returns middleware that enforces l on every request it handles. l must not be
// nil and o must be valid (a MissingKeyStatus of 0, 400 or 401): RateLimit panics at once
// if not, never on a request; use [New] to build the limiter and get an error instead.
func RateLimit(l *core.Limiter, o Options) gin.HandlerFunc {
	if l == nil {
		panic(adaptercfg.NilLimiter("tollgategin: RateLimit's limiter").Error())
	}
	if err := o.check("Options"); err != nil {
		panic(err.Error())
	}
	o.defaults()
	settles := l.Settles()
	items := new(reply.PolicyItems)
	return func(c *gin.Context) {
		if o.Skip != nil && o.Skip(c) {
			c.Next()
			return
		}
		res, err := l.Allow(c.Request.Context(), request{c})
		if err != nil {
			fail(c, err, o.ErrorHandler)
			return
		}
		nethttp.WriteHeaders(c.Writer.Header(), &res, o.Headers, items)
		if !res.Allowed {
			deny(c, &res, o.DenyHandler)
			return
		}
		if !settles && !o.SkipFailedRequests && !o.SkipSuccessfulRequests {
			c.Next()
			return
		}
		nextAndSettle(c, l, &o, &res)
	}
}

// nextAndSettle runs the rest of the chain, then settles the request's real cost or refunds
// it by the skip rules (see nethttp's Options for what the client sees in the headers).
func nextAndSettle(c *gin.Context, l *core.Limiter, o *Options, res *core.Result) {
	var report func() (int64, int)
	if l.Settles() {
		var ctx context.Context
		ctx, report = core.WithCostReport(c.Request.Context())
		c.Request = c.Request.WithContext(ctx)
	}
	c.Next()
	status := c.Writer.Status()
	if adaptercfg.Skipped(o.SkipFailedRequests, o.SkipSuccessfulRequests, status) {
		l.Refund(c.Request.Context(), res)
		return
	}
	if report != nil {
		out := core.Outcome{Status: status, Written: int64(max(c.Writer.Size(), 0)), Header: c.Writer.Header().Get}
		out.Reported, out.Reports = report()
		l.Settle(c.Request.Context(), request{c}, res, out)
	}
}

// New builds a limiter from cfg and returns its middleware. A nil cfg.Store becomes a new
// in-memory store (core/memstore), the embedded default.
func New(cfg core.Config, o Options) (gin.HandlerFunc, error) {
	if err := o.check("Options"); err != nil {
		return nil, err
	}
	l, err := adaptercfg.NewLimiter(cfg)
	if err != nil {
		return nil, err
	}
	return RateLimit(l, o), nil
}

// deny answers a denial. The default handler (h nil) is called with res itself, which then
// stays on the caller's stack; a custom one gets its own heap copy, since it may keep it.
func deny(c *gin.Context, res *core.Result, h func(*gin.Context, *core.Result)) {
	if h == nil {
		nethttp.DenyProblem(c.Writer, c.Request, res)
	} else {
		cp := *res
		h(c, &cp)
	}
	c.Abort()
}

func fail(c *gin.Context, err error, h func(*gin.Context, error)) {
	_ = c.Error(err) // for logging middleware; gin never renders it by itself
	h(c, err)
	c.Abort()
}

// WriteError aborts with an error status and a problem+json body that carries only the
// status text. Use it from custom ErrorHandlers to keep internal error text away from
// clients.
func WriteError(c *gin.Context, status int) {
	writeProblem(c, status, reply.ErrorProblemJSON(status))
}

func writeProblem(c *gin.Context, status int, body []byte) {
	c.Header("Content-Type", reply.ContentTypeProblemJSON)
	c.AbortWithStatus(status)
	if c.Request.Method != http.MethodHead {
		_, _ = c.Writer.Write(body)
	}
}
