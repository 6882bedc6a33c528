// Package nethttp turns Tollgate's core limiters into net/http middleware: the standard
// func(http.Handler) http.Handler shape, so it wraps a whole ServeMux or a single route's
// handler, and works with any router built on net/http.
//
// The rate-limit middleware ([RateLimit]) asks a [core.Limiter] for a decision before the
// handler runs, writes the RateLimit and RateLimit-Policy headers on allowed AND denied
// responses, and answers a denial with 429, Retry-After and an RFC 9457 problem+json body. The
// concurrency middleware ([Concurrency]) holds a lease while the handler runs, extends it for
// long requests, and releases it on every exit path, panics included.
//
// Go 1.22+ ServeMux patterns are visible to key functions and rules as the request's route
// (core.Request.Route returns http.Request.Pattern), so [core.KeyByRoute] keys
// "GET /items/{id}" once for every item. A middleware that wraps the whole mux runs before the
// mux routes, where the pattern is not yet known: give it the mux ([Options.Mux]) and it asks
// the mux for the pattern first.
//
// Headers are added, not set: when a global limiter wraps the mux and a per-route limiter
// wraps a handler, the response carries both policies (structured-field lists may span
// several field lines). Retry-After is set once, by the limiter that denied.
package nethttp

import (
	"context"
	"net/http"
	"sync"
	"unsafe"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/reply"
	"github.com/tollgate-go/tollgate/internal/adaptercfg"
)

// Options configures the middleware. Zero values are the documented defaults.
type Options struct {
	// Skip returns true for requests that pass without a decision (health checks, say).
	// Optional. Default: none skipped.
	Skip func(r *http.Request) bool
	// DenyHandler writes the response of a denied request; the rate-limit headers and
	// Retry-After are already set. Optional. Default: 429 with an application/problem+json
	// body (type quota-exceeded). HEAD requests get no body.
	DenyHandler func(w http.ResponseWriter, r *http.Request, res *core.Result)
	// ErrorHandler writes the response when no decision could be made: a key function
	// error, an invalid key, or a store failure under FailClosed. err is for logs; never
	// show its text to the client (it may carry store details). Optional. Default: the
	// status from [reply.Status] with a problem+json body that carries only the status
	// text.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
	// MissingKeyStatus is the status for a request without a key (no API key header):
	// 400 or 401. Optional. Default: 400. Other values are refused when the middleware is
	// built.
	MissingKeyStatus int
	// Headers selects the rate-limit headers written. Optional. Default: RateLimit and
	// RateLimit-Policy only.
	Headers reply.HeaderOptions
	// SkipFailedRequests gives back what a request spent when its handler answered with a
	// status of 400 or more, so that only successful requests count (Fiber's limiter has the
	// same option). The refund is one store request per limit, made after the handler
	// returns, in the background (core.Limiter.Refund). Optional. Default: false.
	SkipFailedRequests bool
	// SkipSuccessfulRequests gives back what a request spent when its handler answered
	// below 400, so that only failed requests count (login attempts, say). Optional.
	// Default: false.
	SkipSuccessfulRequests bool
	// Mux is the ServeMux this middleware wraps, when it wraps one (a global limit). A
	// middleware outside the mux runs before the mux has routed, so http.Request.Pattern is
	// still empty and core.KeyByRoute falls back to "METHOD path": one bucket per item ID
	// ("GET /items/1", "GET /items/2", …). With Mux set, the middleware asks the mux for the
	// pattern it will match (one extra route lookup per request) and sets it on the request,
	// so key functions see "GET /items/{id}", as they do in a per-route middleware.
	// Optional. Default: nil.
	Mux *http.ServeMux
}

// check validates o; field names the options in errors.
func (o *Options) check(field string) error {
	return adaptercfg.Options("nethttp: "+field, o.MissingKeyStatus, o.SkipFailedRequests, o.SkipSuccessfulRequests)
}

func (o *Options) defaults() {
	o.MissingKeyStatus, _ = adaptercfg.MissingKeyStatus("", o.MissingKeyStatus)
	if o.DenyHandler == nil {
		o.DenyHandler = DenyProblem
	}
	if o.ErrorHandler == nil {
		status := o.MissingKeyStatus
		o.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			WriteError(w, r, reply.Status(err, status))
		}
	}
}

// request adapts *http.Request to core.Request. A struct holding one pointer converts to an
// interface without allocating.
type request struct{ r *http.Request }

func (q request) Method() string                    { return q.r.Method }
func (q request) Path() string                      { return q.r.URL.Path }
func (q request) Route() string                     { return q.r.Pattern }
func (q request) Header(name string) string         { return q.r.Header.Get(name) }
func (q request) HeaderValues(name string) []string { return q.r.Header.Values(name) }
func (q request) RemoteAddr() string                { return q.r.RemoteAddr }

// Request returns the core view of r, for calling a limiter or a key function directly.
func Request(r *http.Request) core.Request { return request{r} }

// RateLimit returns middleware that enforces l on every request it wraps. Wrap a mux for a
// global limit, or one route's handler for a per-route limit:
//
//	mux.Handle("POST /login", nethttp.RateLimit(loginLimiter, nethttp.Options{})(loginHandler))
//
// It panics when l is nil or o is invalid (a MissingKeyStatus other than 400 or 401), when
// the middleware is built, never on a request: as http.Handle does with a bad pattern, a
// programmer error is reported at startup. [New] returns the error instead.
func RateLimit(l *core.Limiter, o Options) func(http.Handler) http.Handler {
	if l == nil {
		panic(adaptercfg.NilLimiter("nethttp: RateLimit's limiter").Error())
	}
	if err := o.check("Options"); err != nil {
		panic(err.Error())
	}
	// The default deny handler is called directly, so that a denial's Result stays on the
	// stack; a custom one gets its own heap copy.
	defaultDeny := o.DenyHandler == nil
	settles := l.Settles()
	o.defaults()
	items := new(reply.PolicyItems)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if o.skipped(w, r, next) {
				return
			}
			res, err := l.Allow(r.Context(), request{r})
			if err != nil {
				o.ErrorHandler(w, r, err)
				return
			}
			WriteHeaders(w.Header(), &res, o.Headers, items)
			if !res.Allowed {
				if defaultDeny {
					DenyProblem(w, r, &res)
				} else {
					deny(w, r, res, o.DenyHandler)
				}
				return
			}
			if !settles && !o.SkipFailedRequests && !o.SkipSuccessfulRequests {
				next.ServeHTTP(w, r)
				return
			}
			serveAndSettle(l, &o, w, r, &res, next)
		})
	}
}

// serveAndSettle runs next, recording its status and size, then settles the request's real
// cost or refunds it by the skip rules. The RateLimit fields were written before the handler
// ran: they show the decision on the estimate, and the next response shows the settled
// state. A handler that panics settles nothing (its estimate stands).
func serveAndSettle(l *core.Limiter, o *Options, w http.ResponseWriter, r *http.Request, res *core.Result, next http.Handler) {
	rec := &recorder{ResponseWriter: w}
	var report func() (int64, int)
	if l.Settles() {
		var ctx context.Context
		ctx, report = core.WithCostReport(r.Context())
		r = r.WithContext(ctx)
	}
	next.ServeHTTP(rec, r)
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	if adaptercfg.Skipped(o.SkipFailedRequests, o.SkipSuccessfulRequests, status) {
		l.Refund(r.Context(), res)
		return
	}
	if report != nil {
		out := core.Outcome{Status: status, Written: rec.written, Header: w.Header().Get}
		out.Reported, out.Reports = report()
		l.Settle(r.Context(), request{r}, res, out)
	}
}

// recorder records the status and body size a handler writes. Unwrap lets
// http.ResponseController reach the writer's other interfaces (Flush, deadlines, hijack).
type recorder struct {
	http.ResponseWriter
	status  int
	written int64
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.written += int64(n)
	return n, err
}

// Flush flushes the underlying writer if it can.
func (w *recorder) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

// Unwrap returns the underlying writer.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// skipped serves r with next and reports true when r passes without a decision
// (Options.Skip); otherwise, when Options.Mux is set and has not routed r yet, it sets
// r.Pattern as the mux will when it routes r, so that core.KeyByRoute sees the route.
func (o *Options) skipped(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
	if o.Skip != nil && o.Skip(r) {
		next.ServeHTTP(w, r)
		return true
	}
	if o.Mux != nil && r.Pattern == "" {
		_, r.Pattern = o.Mux.Handler(r)
	}
	return false
}

// deny calls the deny handler with its own copy of the result, so that only denials move a
// Result to the heap.
func deny(w http.ResponseWriter, r *http.Request, res core.Result, h func(http.ResponseWriter, *http.Request, *core.Result)) {
	h(w, r, &res)
}

// New builds a limiter from cfg and returns its middleware. A nil cfg.Store becomes a new
// in-memory store (core/memstore), the embedded default.
func New(cfg core.Config, o Options) (func(http.Handler) http.Handler, error) {
	if err := o.check("Options"); err != nil {
		return nil, err
	}
	l, err := adaptercfg.NewLimiter(cfg)
	if err != nil {
		return nil, err
	}
	return RateLimit(l, o), nil
}

// oneValue returns a header value slice holding b as its one string, built in a single
// allocation: the slice's array and the string's bytes live in one object (the string
// points into it, which keeps it alive). Two allocations per header field were a visible
// share of the middleware's cost. len == cap, so an append by later code copies.
func oneValue(b []byte) []string {
	switch {
	case len(b) <= 32:
		v := new(struct {
			s [1]string
			b [32]byte
		})
		n := copy(v.b[:], b)
		v.s[0] = unsafe.String(&v.b[0], n)
		return v.s[:]
	case len(b) <= 48:
		v := new(struct {
			s [1]string
			b [48]byte
		})
		n := copy(v.b[:], b)
		v.s[0] = unsafe.String(&v.b[0], n)
		return v.s[:]
	case len(b) <= 112:
		v := new(struct {
			s [1]string
			b [112]byte
		})
		n := copy(v.b[:], b)
		v.s[0] = unsafe.String(&v.b[0], n)
		return v.s[:]
	}
	return []string{string(b)}
}

// WriteHeaders adds the rate-limit fields of res to h, as [reply.Fields] renders them:
// fields are added, not set, so that stacked limiters all show their policies, and
// Retry-After is set once, by the limiter that denied. Each field costs at most one
// allocation (its value and its one-element slice in one object), and a single policy's
// RateLimit-Policy none (the slice items keeps: a middleware passes the one
// [reply.PolicyItems] of its limiter; nil renders it afresh, one allocation). Adapters for frameworks that expose an
// http.Header (Gin, Echo) use it too.
func WriteHeaders(h http.Header, res *core.Result, o reply.HeaderOptions, items *reply.PolicyItems) {
	var f reply.Fields
	f.Render(res, o, items)
	for i := range f.Len() {
		name, value, replace := f.Field(i)
		key := canonicalKey(name)
		vs := f.Values(i)
		if vs == nil {
			vs = oneValue(value)
		}
		if cur := h[key]; cur != nil && !replace {
			h[key] = append(cur, vs...)
		} else {
			h[key] = vs
		}
	}
}

// canonicalKey returns the http.Header spelling of a field name reply.Fields renders,
// without allocating: their lengths tell them apart (TestWriteHeadersKeys checks every name
// against http.CanonicalHeaderKey, TestWriteHeadersAllocs the allocations), and anything
// else, Retry-After included (already canonical, so that costs no allocation), is
// canonicalised the usual way.
func canonicalKey(name string) string {
	switch len(name) {
	case len(reply.HeaderRateLimitPolicy):
		if name == reply.HeaderRateLimitPolicy {
			return "Ratelimit-Policy"
		}
	case len(reply.HeaderRateLimit):
		if name == reply.HeaderRateLimit {
			return "Ratelimit"
		}
	case len(reply.HeaderXRateLimitRemain):
		if name == reply.HeaderXRateLimitRemain {
			return "X-Ratelimit-Remaining"
		}
	case len(reply.HeaderXRateLimitLimit): // and HeaderXRateLimitReset
		switch name {
		case reply.HeaderXRateLimitLimit:
			return "X-Ratelimit-Limit"
		case reply.HeaderXRateLimitReset:
			return "X-Ratelimit-Reset"
		}
	}
	return http.CanonicalHeaderKey(name)
}

// problemContentType is the Content-Type value of problem responses, shared (len == cap, so
// an append copies; Header.Set replaces the slice rather than writing into it).
var problemContentType = []string{reply.ContentTypeProblemJSON}

// problemBufs recycles the buffers denial bodies are rendered into: a body handed to
// ResponseWriter.Write escapes to the heap, and Write does not retain it (io.Writer), so
// a buffer can serve the next denial.
var problemBufs = sync.Pool{New: func() any { return new([]byte) }}

// DenyProblem answers a denial as the default deny handler does: 429 with an RFC 9457
// application/problem+json body ([reply.ProblemJSON]; none for HEAD). The rate-limit fields
// are not its business: the middleware has written them before. Adapters over net/http
// (Gin, Echo) use it for their default denial too; a custom deny handler may call it to
// fall back to the default.
func DenyProblem(w http.ResponseWriter, r *http.Request, res *core.Result) {
	w.Header()["Content-Type"] = problemContentType[:1:1]
	w.WriteHeader(http.StatusTooManyRequests)
	if r.Method != http.MethodHead {
		bp := problemBufs.Get().(*[]byte)
		*bp = reply.AppendProblemJSON((*bp)[:0], res)
		_, _ = w.Write(*bp)
		problemBufs.Put(bp)
	}
}

// WriteError writes an error status with a problem+json body that carries only the status
// text. Use it from custom ErrorHandlers to keep internal error text away from clients.
func WriteError(w http.ResponseWriter, r *http.Request, status int) {
	w.Header()["Content-Type"] = problemContentType[:1:1]
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(reply.ErrorProblemJSON(status))
	}
}
