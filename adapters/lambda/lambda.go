// Package tollgatelambda runs Tollgate's core limiters inside an AWS Lambda function behind
// Amazon API Gateway — REST APIs (proxy integration, payload v1) and HTTP APIs (payload v2) —
// and behind Lambda function URLs. It wraps aws-lambda-go handlers as the HTTP adapters wrap
// http.Handlers:
//
//	limit, err := tollgatelambda.RateLimit(limiter, tollgatelambda.Options{})
//	if err != nil { … } // a nil limiter or a bad option, reported at init, never per request
//	lambda.Start(limit.V1(handle)) // V2 for an HTTP API, URL for a function URL
//
// It behaves as the net/http adapter does and passes the same conformance suite
// (adapters/adaptertest, through API Gateway events): the RateLimit and RateLimit-Policy
// headers on allowed AND denied responses, 429 with Retry-After and an RFC 9457
// problem+json body on a denial, key errors answered 400 or 401 and store failures under
// FailClosed 503, never with internal error text. An allowed request's fields are added to
// the response the handler returns (its header maps are copied, never written in place);
// with two middlewares stacked, the outer one's fields come first, as when it writes them
// before the inner one on an http.ResponseWriter. An error returned by the handler passes
// through untouched (API Gateway answers it with 502); a panic passes through too, after a
// concurrency slot is released.
//
// Keys come from the request context that API Gateway writes, not from headers the client
// controls: [Request.RemoteAddr] is the context's source IP, so a limiter's default key,
// [core.KeyByIP], keys by it and a forged X-Forwarded-For changes nothing. [KeyBySourceIP],
// [KeyByAPIKeyID], [KeyByPrincipal], [KeyByAuthorizer] and [KeyByStage] read the rest of the
// context. [Request.Route] is the REST resource ("/items/{id}") or the HTTP API route key
// ("GET /items/{id}"), so [core.KeyByRoute] keys per API Gateway route.
//
// In Lambda, build the store and the limiters once, outside the handler (they are safe for
// concurrent use and keep their connections and caches across invocations), and run the
// store's startup check there (dynamostore's Store.Verify): a wrong table name stops the cold
// start with a message, and the check opens the connection, so the first request's decision
// does not spend its 100 ms budget on a TLS handshake. Use a shared store (DynamoDB): an
// in-memory store in Lambda is one counter per execution environment, and Lambda starts as
// many as the traffic needs. Lambda freezes an environment between invocations, so work the
// limiter does in the background (releasing a lease whose store call failed) resumes at the
// next invocation; a lease expires after its policy's Lease in any case.
//
// This package is its own module, so that users of Tollgate outside Lambda never have
// aws-lambda-go in their module graph.
package tollgatelambda

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/reply"
	"github.com/tollgate-go/tollgate/internal/adaptercfg"
)

// HandlerV1 is an aws-lambda-go handler for payload v1 events: REST API proxy integrations,
// and HTTP API routes configured with payload format 1.0.
type HandlerV1 = func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)

// HandlerV2 is an aws-lambda-go handler for HTTP API payload v2 events.
type HandlerV2 = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// HandlerURL is an aws-lambda-go handler for Lambda function URL events (buffered mode).
type HandlerURL = func(context.Context, events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error)

// Response is a response the middleware answers with itself (a denial, an error), in terms
// that fit every payload format.
type Response struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Headers are the response's header fields.
	Headers map[string]string
	// Body is the response body (text: it is sent with isBase64Encoded false).
	Body string
}

// Options configures the middleware. Zero values are the documented defaults.
type Options struct {
	// Skip returns true for requests that pass without a decision (health checks, say).
	// Optional. Default: none skipped.
	Skip func(r Request) bool
	// DenyHandler returns the response to a denied request; the middleware adds the
	// rate-limit headers and Retry-After to it. Optional. Default: [DenyResponse], 429 with
	// an application/problem+json body (type quota-exceeded); HEAD requests get no body.
	DenyHandler func(ctx context.Context, r Request, res *core.Result) Response
	// ErrorHandler returns the response when no decision could be made: a key function
	// error, an invalid key, or a store failure under FailClosed. err is for logs; never
	// show its text to the client (it may carry store details). Optional. Default: the
	// status from [reply.Status] with a problem+json body that carries only the status
	// text ([ErrorResponse]).
	ErrorHandler func(ctx context.Context, r Request, err error) Response
	// MissingKeyStatus is the status for a request without a key (no API key ID, no
	// authorizer principal): 400 or 401. Optional. Default: 400. Other values are refused
	// when the middleware is built.
	MissingKeyStatus int
	// Headers selects the rate-limit headers written. Optional. Default: RateLimit and
	// RateLimit-Policy only.
	Headers reply.HeaderOptions
	// SkipFailedRequests gives back what a request spent when its handler answered with a
	// status of 400 or more, or returned an error (which API Gateway answers 502), so that
	// only successful requests count. The refund is one store request per limit
	// ([core.Limiter.Refund]), made before the wrapped handler returns: Lambda freezes the
	// execution environment once it has, and a refund left in the background would wait for
	// the next invocation, or be lost. Rate limits only. Optional. Default: false.
	SkipFailedRequests bool
	// SkipSuccessfulRequests gives back what a request spent when its handler answered
	// below 400, so that only failed requests count (login attempts, say). Rate limits only.
	// Optional. Default: false.
	SkipSuccessfulRequests bool
}

// ConcurrencyOptions configures [Concurrency]. Zero values are the documented defaults.
type ConcurrencyOptions struct {
	Options
	// ExtendEvery is how often the lease of a running invocation is extended. Optional.
	// Default: half the policy's Lease. Negative: never (invocations longer than the lease
	// lose their slot to others).
	ExtendEvery time.Duration
	// Wait lets a request wait (bounded) for a slot instead of being denied at once,
	// polling with full-jitter backoff. Optional. Default: no waiting. Waiting is billed
	// Lambda time: keep Max short.
	Wait core.Wait
}

// check validates o; field names the options in errors.
func (o *Options) check(field string) error {
	return adaptercfg.Options("tollgatelambda: "+field, o.MissingKeyStatus, o.SkipFailedRequests, o.SkipSuccessfulRequests)
}

func (o *Options) defaults() {
	o.MissingKeyStatus, _ = adaptercfg.MissingKeyStatus("", o.MissingKeyStatus)
	if o.DenyHandler == nil {
		o.DenyHandler = func(_ context.Context, r Request, res *core.Result) Response { return DenyResponse(r, res) }
	}
	if o.ErrorHandler == nil {
		status := o.MissingKeyStatus
		o.ErrorHandler = func(_ context.Context, r Request, err error) Response {
			return ErrorResponse(r, reply.Status(err, status))
		}
	}
}

// Middleware wraps handlers of every payload format with one limiter: [Middleware.V1],
// [Middleware.V2] and [Middleware.URL]. Build it with [RateLimit], [New] or [Concurrency];
// it is safe for concurrent use.
type Middleware struct {
	o Options
	// admit decides for req; done ends what the request holds (a concurrency lease).
	admit func(ctx context.Context, req Request) (done func(), res core.Result, err error)
	// lim is the rate limiter, when the middleware settles or refunds after the handler
	// (a settling rule, or a skip rule); nil otherwise.
	lim *core.Limiter
	// settles: lim has settling rules, so handlers get a cost report slot.
	settles bool
	// items keeps the limiter's rendered RateLimit-Policy items.
	items reply.PolicyItems
}

func noop() {}

// RateLimit returns middleware that enforces l on every invocation it wraps. It returns an
// error, and no middleware, when l is nil or o is invalid (a MissingKeyStatus other than
// 400 or 401).
func RateLimit(l *core.Limiter, o Options) (*Middleware, error) {
	if l == nil {
		return nil, adaptercfg.NilLimiter("tollgatelambda: RateLimit's limiter")
	}
	if err := o.check("Options"); err != nil {
		return nil, err
	}
	o.defaults()
	m := &Middleware{o: o, admit: func(ctx context.Context, req Request) (func(), core.Result, error) {
		res, err := l.Allow(ctx, req)
		return noop, res, err
	}}
	if m.settles = l.Settles(); m.settles || o.SkipFailedRequests || o.SkipSuccessfulRequests {
		m.lim = l
	}
	return m, nil
}

// New builds a limiter from cfg and returns its middleware. A nil cfg.Store becomes a new
// in-memory store (core/memstore): one count per Lambda execution environment, which is
// rarely what a Lambda function wants; give it a shared store (core/dynamostore).
func New(cfg core.Config, o Options) (*Middleware, error) {
	if err := o.check("Options"); err != nil {
		return nil, err
	}
	l, err := adaptercfg.NewLimiter(cfg)
	if err != nil {
		return nil, err
	}
	return RateLimit(l, o)
}

// Concurrency returns middleware that lets at most the policy's Limit invocations per key run
// at once, across every function instance sharing c's store. An invocation that gets no slot
// is denied (429, Retry-After, problem+json). The slot is released when the handler returns
// or panics; while it runs, the lease is extended every ExtendEvery, and a function instance
// that dies (a timeout, an out-of-memory kill) loses its slot when the lease expires. It
// returns an error when c is nil or o is invalid.
func Concurrency(c *core.ConcurrencyLimiter, o ConcurrencyOptions) (*Middleware, error) {
	if c == nil {
		return nil, adaptercfg.NilLimiter("tollgatelambda: Concurrency's limiter")
	}
	if err := o.check("ConcurrencyOptions"); err != nil {
		return nil, err
	}
	if o.SkipFailedRequests || o.SkipSuccessfulRequests {
		return nil, errors.New("tollgatelambda: ConcurrencyOptions.SkipFailedRequests and SkipSuccessfulRequests apply to rate limits; a concurrency slot is given back when the handler returns")
	}
	o.defaults()
	every, wait := o.ExtendEvery, o.Wait
	return &Middleware{o: o.Options, admit: func(ctx context.Context, req Request) (func(), core.Result, error) {
		lease, res, err := c.AcquireWait(ctx, req, wait)
		if err != nil || !res.Allowed {
			return noop, res, err
		}
		return lease.Hold(ctx, every), res, nil
	}}, nil
}

// before decides for req. It returns the response to answer with when the request must not
// reach the handler (a denial, an error); otherwise done (to defer) and the result whose
// fields go on the handler's response.
func (m *Middleware) before(ctx context.Context, req Request) (done func(), res core.Result, stop *Response) {
	done, res, err := m.admit(ctx, req)
	if err != nil {
		r := m.o.ErrorHandler(ctx, req, err)
		return noop, res, &r
	}
	if !res.Allowed {
		r := m.o.DenyHandler(ctx, req, &res)
		r.Headers, _ = addHeaders(r.Headers, nil, &res, m.o.Headers, &m.items)
		return noop, res, &r
	}
	return done, res, nil
}

// handlerContext returns the context the handler runs in: with a cost report slot
// ([core.ReportCost]) when the limiter settles.
func (m *Middleware) handlerContext(ctx context.Context) (context.Context, func() (int64, int)) {
	if m.settles {
		return core.WithCostReport(ctx)
	}
	return ctx, nil
}

// after settles the request's real cost, or refunds it by the skip rules, once the handler
// has answered status (502 when it returned an error). It waits for the store: Lambda
// freezes the execution environment when the invocation returns, so an adjustment left in
// the background would wait for the next invocation, or be lost with the environment. A
// handler that panics settles nothing (its estimate stands).
func (m *Middleware) after(ctx context.Context, req Request, res *core.Result, status int, written int64, header func(string) string, report func() (int64, int)) {
	switch {
	case adaptercfg.Skipped(m.o.SkipFailedRequests, m.o.SkipSuccessfulRequests, status):
		m.lim.Refund(ctx, res)
	case m.settles:
		out := core.Outcome{Status: status, Written: written, Header: header}
		out.Reported, out.Reports = report()
		m.lim.Settle(ctx, req, res, out)
	default:
		return
	}
	// Bounded by the settlement's own retry budget (about 3 s) and the invocation's deadline.
	_ = m.lim.Flush(ctx)
}

// outcome returns the status the client gets for a handler's answer and error, and the
// body's size in bytes.
func outcome(status int, body string, base64Encoded bool, err error) (int, int64) {
	if err != nil {
		return http.StatusBadGateway, 0
	}
	if status == 0 {
		status = http.StatusOK
	}
	n := int64(len(body))
	if base64Encoded {
		n = int64(base64.StdEncoding.DecodedLen(len(body)) - strings.Count(body[max(len(body)-2, 0):], "="))
	}
	return status, n
}

// V1 wraps a payload v1 handler (REST API proxy integration).
func (m *Middleware) V1(next HandlerV1) HandlerV1 {
	return func(ctx context.Context, e events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return serve(m, ctx, e, v1Request{&e}, next,
			func(r *Response) events.APIGatewayProxyResponse {
				return events.APIGatewayProxyResponse{StatusCode: r.StatusCode, Headers: r.Headers, Body: r.Body}
			},
			func(r *events.APIGatewayProxyResponse) response {
				return response{r.StatusCode, r.Body, r.IsBase64Encoded, &r.Headers, &r.MultiValueHeaders}
			})
	}
}

// V2 wraps an HTTP API payload v2 handler. Payload v2 responses have no multi-value headers:
// a repeated field is one comma-separated value.
func (m *Middleware) V2(next HandlerV2) HandlerV2 {
	return func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return serve(m, ctx, e, v2Request{&e}, next,
			func(r *Response) events.APIGatewayV2HTTPResponse {
				return events.APIGatewayV2HTTPResponse{StatusCode: r.StatusCode, Headers: r.Headers, Body: r.Body}
			},
			func(r *events.APIGatewayV2HTTPResponse) response {
				return response{r.StatusCode, r.Body, r.IsBase64Encoded, &r.Headers, nil}
			})
	}
}

// URL wraps a Lambda function URL handler (buffered invoke mode). Like payload v2, function
// URL responses have no multi-value headers.
func (m *Middleware) URL(next HandlerURL) HandlerURL {
	return func(ctx context.Context, e events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
		return serve(m, ctx, e, urlRequest{&e}, next,
			func(r *Response) events.LambdaFunctionURLResponse {
				return events.LambdaFunctionURLResponse{StatusCode: r.StatusCode, Headers: r.Headers, Body: r.Body}
			},
			func(r *events.LambdaFunctionURLResponse) response {
				return response{r.StatusCode, r.Body, r.IsBase64Encoded, &r.Headers, nil}
			})
	}
}

// response is the view serve needs of a payload's response: what settling reads, and the
// header maps the rate-limit fields go in (multi nil where the payload has none).
type response struct {
	status  int
	body    string
	base64  bool
	headers *map[string]string
	multi   *map[string][]string
}

// serve is the one request path of V1, V2 and URL (E is the payload's event, R its response):
// the skip rule, the decision (answering a denial or an error with stop's response), the
// handler with the lease held and its cost report slot, settling, and the rate-limit fields
// on the handler's response. Released on every exit path, panics included.
func serve[E, R any](m *Middleware, ctx context.Context, e E, req Request, next func(context.Context, E) (R, error),
	stopped func(*Response) R, view func(*R) response) (R, error) {
	if m.o.Skip != nil && m.o.Skip(req) {
		return next(ctx, e)
	}
	done, res, stop := m.before(ctx, req)
	if stop != nil {
		return stopped(stop), nil
	}
	defer done()
	hctx, report := m.handlerContext(ctx)
	resp, err := next(hctx, e)
	v := view(&resp)
	if m.lim != nil {
		status, n := outcome(v.status, v.body, v.base64, err)
		var mv map[string][]string
		if v.multi != nil {
			mv = *v.multi
		}
		m.after(ctx, req, &res, status, n, func(name string) string { return firstValue(mv, *v.headers, name) }, report)
	}
	if v.multi != nil {
		*v.headers, *v.multi = addHeaders(*v.headers, *v.multi, &res, m.o.Headers, &m.items)
	} else {
		*v.headers, _ = addHeaders(*v.headers, nil, &res, m.o.Headers, &m.items)
	}
	return resp, err
}

// DenyResponse is the default response to a denied request: 429 with the RFC 9457
// application/problem+json body of [reply.ProblemJSON] (no body for HEAD). The middleware adds
// the rate-limit headers and Retry-After.
func DenyResponse(r Request, res *core.Result) Response {
	out := Response{StatusCode: http.StatusTooManyRequests, Headers: map[string]string{reply.HeaderContentType: reply.ContentTypeProblemJSON}}
	if r.Method() != http.MethodHead {
		out.Body = string(reply.ProblemJSON(res))
	}
	return out
}

// ErrorResponse is an error status with a problem+json body that carries only the status
// text (no body for HEAD). Use it from custom ErrorHandlers to keep internal error text away
// from clients.
func ErrorResponse(r Request, status int) Response {
	out := Response{StatusCode: status, Headers: map[string]string{reply.HeaderContentType: reply.ContentTypeProblemJSON}}
	if r.Method() != http.MethodHead {
		out.Body = string(reply.ErrorProblemJSON(status))
	}
	return out
}
