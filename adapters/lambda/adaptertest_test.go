package tollgatelambda_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/tollgate-go/tollgate/adapters/adaptertest"
	tollgatelambda "github.com/tollgate-go/tollgate/adapters/lambda"
	"github.com/tollgate-go/tollgate/core"
)

// flavor is one payload format, seen by the conformance harness: how API Gateway (or the
// function URL service) turns an HTTP request into the event E, and the handler's response R
// back into an HTTP response.
type flavor[E, R any] struct {
	// wrap is the middleware method for E ((*Middleware).V1, V2 or URL).
	wrap func(m *tollgatelambda.Middleware, h func(context.Context, E) (R, error)) func(context.Context, E) (R, error)
	// event builds the event API Gateway sends for r, which matched the route pattern.
	event func(r *http.Request, sourceIP, pattern string) E
	// routeOf is what the adapter reports as the route of a request matched by pattern; it
	// is also what the harness dispatches on (as API Gateway invokes one integration per
	// route). "" for function URLs, which have no router: there the function routes by
	// path itself.
	routeOf func(pattern string) string
	// route reads the dispatch key from an event.
	route func(e *E) string
	// ok is the handler's answer (status, body OK); toHTTP turns a response into what the
	// client receives.
	ok     func(status int) R
	toHTTP func(R) *http.Response
}

type routeKey struct{}

// harness returns the conformance suite's harness for payload f. The global guard wraps a
// dispatcher, each route's guard wraps that route's handler (as one function per route, or
// one function that routes, would).
func harness[E, R any](f flavor[E, R]) adaptertest.Harness {
	return adaptertest.Harness{
		New: func(t *testing.T, s adaptertest.Setup) adaptertest.Transport {
			mux := http.NewServeMux()
			routes := map[string]func(context.Context, E) (R, error){}
			for _, rt := range s.Routes {
				mux.Handle(rt.Pattern, http.NotFoundHandler())
				work, status, cost := rt.Work, rt.Status, rt.ReportCost
				if status == 0 {
					status = http.StatusOK
				}
				h := func(ctx context.Context, _ E) (R, error) {
					if work != nil {
						work()
					}
					if cost > 0 {
						core.ReportCost(ctx, cost)
					}
					return f.ok(status), nil
				}
				routes[rt.Pattern] = guard(t, f, rt.Guard, h)
			}
			dispatch := func(ctx context.Context, e E) (R, error) {
				p, _ := ctx.Value(routeKey{}).(string)
				if f.routeOf("x") != "" {
					// API Gateway: the event says which route matched; check it does.
					if got := f.route(&e); got != f.routeOf(p) {
						t.Errorf("the event's route %q, want %q", got, f.routeOf(p))
					}
				}
				return routes[p](ctx, e)
			}
			app := guard(t, f, s.Global, dispatch)
			return func(r *http.Request) (resp *http.Response, err error) {
				_, pattern := mux.Handler(r)
				if pattern == "" {
					return &http.Response{StatusCode: http.StatusNotFound, Header: http.Header{}, Body: http.NoBody}, nil
				}
				ip, _, err := net.SplitHostPort(r.RemoteAddr)
				if err != nil {
					ip = r.RemoteAddr
				}
				defer func() {
					// The Lambda runtime turns a handler panic into a function error, which
					// API Gateway answers with 5xx; the suite expects 500.
					if v := recover(); v != nil {
						resp, err = &http.Response{StatusCode: http.StatusInternalServerError, Header: http.Header{}, Body: http.NoBody}, nil
					}
				}()
				out, err := app(context.WithValue(r.Context(), routeKey{}, pattern), f.event(r, ip, pattern))
				if err != nil {
					return nil, err
				}
				return f.toHTTP(out), nil
			}
		},
		Route: f.routeOf,
	}
}

// guard returns h wrapped in the middleware of g (h itself for an empty guard).
func guard[E, R any](t *testing.T, f flavor[E, R], g adaptertest.Guard, h func(context.Context, E) (R, error)) func(context.Context, E) (R, error) {
	t.Helper()
	o := tollgatelambda.Options{MissingKeyStatus: g.MissingKeyStatus, Headers: g.Headers,
		SkipFailedRequests: g.SkipFailedRequests, SkipSuccessfulRequests: g.SkipSuccessfulRequests}
	if g.Skip != nil {
		o.Skip = func(r tollgatelambda.Request) bool { return g.Skip(r.Method(), r.Path()) }
	}
	if g.Concurrency != nil {
		co := o
		co.SkipFailedRequests, co.SkipSuccessfulRequests = false, false // rate limits only
		m, err := tollgatelambda.Concurrency(g.Concurrency, tollgatelambda.ConcurrencyOptions{Options: co, Wait: g.Wait})
		if err != nil {
			t.Fatal(err)
		}
		h = f.wrap(m, h)
	}
	if g.Limiter != nil {
		m, err := tollgatelambda.RateLimit(g.Limiter, o)
		if err != nil {
			t.Fatal(err)
		}
		h = f.wrap(m, h)
	}
	return h
}

func httpResponse(status int, h map[string]string, mv map[string][]string, body string) *http.Response {
	hdr := http.Header{}
	for k, v := range h {
		hdr.Add(k, v)
	}
	for k, vs := range mv {
		for _, v := range vs {
			hdr.Add(k, v)
		}
	}
	return &http.Response{StatusCode: status, Header: hdr, Body: io.NopCloser(strings.NewReader(body))}
}

// v1 is payload v1 as a REST API sends it: headers in both maps, as the client spelled them.
var v1 = flavor[events.APIGatewayProxyRequest, events.APIGatewayProxyResponse]{
	wrap: (*tollgatelambda.Middleware).V1,
	event: func(r *http.Request, ip, pattern string) events.APIGatewayProxyRequest {
		e := events.APIGatewayProxyRequest{
			Resource: pattern, Path: r.URL.Path, HTTPMethod: r.Method,
			Headers: map[string]string{}, MultiValueHeaders: map[string][]string{},
			RequestContext: events.APIGatewayProxyRequestContext{
				Stage: "test", ResourcePath: pattern, HTTPMethod: r.Method,
				Identity: events.APIGatewayRequestIdentity{SourceIP: ip},
			},
		}
		for k, vs := range r.Header {
			e.Headers[k] = vs[len(vs)-1]
			e.MultiValueHeaders[k] = vs
		}
		return e
	},
	routeOf: func(p string) string { return p },
	route:   func(e *events.APIGatewayProxyRequest) string { return e.Resource },
	ok: func(status int) events.APIGatewayProxyResponse {
		return events.APIGatewayProxyResponse{StatusCode: status, Headers: map[string]string{"Content-Type": "text/plain"}, Body: adaptertest.OK}
	},
	toHTTP: func(r events.APIGatewayProxyResponse) *http.Response {
		return httpResponse(r.StatusCode, r.Headers, r.MultiValueHeaders, r.Body)
	},
}

// v2Headers is how an HTTP API or a function URL passes headers: lower-case names, a
// repeated field's values joined with commas.
func v2Headers(r *http.Request) map[string]string {
	h := map[string]string{}
	for k, vs := range r.Header {
		h[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	return h
}

// v2 is an HTTP API whose routes are "ANY /pattern".
var v2 = flavor[events.APIGatewayV2HTTPRequest, events.APIGatewayV2HTTPResponse]{
	wrap: (*tollgatelambda.Middleware).V2,
	event: func(r *http.Request, ip, pattern string) events.APIGatewayV2HTTPRequest {
		return events.APIGatewayV2HTTPRequest{
			Version: "2.0", RouteKey: "ANY " + pattern, RawPath: r.URL.Path, Headers: v2Headers(r),
			RequestContext: events.APIGatewayV2HTTPRequestContext{
				RouteKey: "ANY " + pattern, Stage: "$default",
				HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: r.Method, Path: r.URL.Path, SourceIP: ip},
			},
		}
	},
	routeOf: func(p string) string { return "ANY " + p },
	route:   func(e *events.APIGatewayV2HTTPRequest) string { return e.RouteKey },
	ok: func(status int) events.APIGatewayV2HTTPResponse {
		return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: map[string]string{"content-type": "text/plain"}, Body: adaptertest.OK}
	},
	toHTTP: func(r events.APIGatewayV2HTTPResponse) *http.Response {
		return httpResponse(r.StatusCode, r.Headers, nil, r.Body)
	},
}

var functionURL = flavor[events.LambdaFunctionURLRequest, events.LambdaFunctionURLResponse]{
	wrap: (*tollgatelambda.Middleware).URL,
	event: func(r *http.Request, ip, _ string) events.LambdaFunctionURLRequest {
		return events.LambdaFunctionURLRequest{
			Version: "2.0", RawPath: r.URL.Path, Headers: v2Headers(r),
			RequestContext: events.LambdaFunctionURLRequestContext{
				HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: r.Method, Path: r.URL.Path, SourceIP: ip},
			},
		}
	},
	routeOf: func(string) string { return "" },
	route:   func(*events.LambdaFunctionURLRequest) string { return "" },
	ok: func(status int) events.LambdaFunctionURLResponse {
		return events.LambdaFunctionURLResponse{StatusCode: status, Headers: map[string]string{"content-type": "text/plain"}, Body: adaptertest.OK}
	},
	toHTTP: func(r events.LambdaFunctionURLResponse) *http.Response {
		return httpResponse(r.StatusCode, r.Headers, nil, r.Body)
	},
}

// TestConformance runs the shared adapter suite through API Gateway events: payload v1 (REST
// API), payload v2 (HTTP API), and function URLs. Function URLs have no router, so the two
// cases about route patterns do not apply to them (core.KeyByRoute falls back to "METHOD
// path" there, as the core documents); every other case runs.
func TestConformance(t *testing.T) {
	t.Run("v1", func(t *testing.T) { adaptertest.Run(t, harness(v1)) })
	t.Run("v2", func(t *testing.T) { adaptertest.Run(t, harness(v2)) })
	t.Run("url", func(t *testing.T) {
		h := harness(functionURL)
		ran := 0
		for _, c := range adaptertest.Cases() {
			if c.Name == "PerRouteLimitsAndRoutePattern" || c.Name == "GlobalMiddlewareKeysByRoute" {
				continue
			}
			ran++
			t.Run(c.Name, func(t *testing.T) { c.Test(t, h) })
		}
		if ran != len(adaptertest.Cases())-2 {
			t.Fatalf("ran %d cases; the two route cases were not both found by name", ran)
		}
	})
}
