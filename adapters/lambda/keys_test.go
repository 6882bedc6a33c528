package tollgatelambda_test

import (
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/tollgate-go/tollgate/adapters/lambda"
	"github.com/tollgate-go/tollgate/adapters/nethttp"
	"github.com/tollgate-go/tollgate/core"
)

// forged are the headers a client sends to pose as someone else.
var forged = map[string]string{
	"X-Forwarded-For": "6.6.6.6, 7.7.7.7",
	"Forwarded":       "for=8.8.8.8",
	"X-Real-Ip":       "9.9.9.9",
	"X-Api-Key":       "stolen",
}

func v1Event(ip string, mutate func(*events.APIGatewayProxyRequest)) *events.APIGatewayProxyRequest {
	e := &events.APIGatewayProxyRequest{
		Resource: "/items/{id}", Path: "/items/1", HTTPMethod: "GET",
		Headers: map[string]string{}, MultiValueHeaders: map[string][]string{},
		RequestContext: events.APIGatewayProxyRequestContext{Stage: "prod", Identity: events.APIGatewayRequestIdentity{SourceIP: ip}},
	}
	for k, v := range forged {
		e.Headers[k] = v
		e.MultiValueHeaders[k] = []string{v}
	}
	if mutate != nil {
		mutate(e)
	}
	return e
}

func v2Event(ip string, mutate func(*events.APIGatewayV2HTTPRequest)) *events.APIGatewayV2HTTPRequest {
	e := &events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "GET /items/{id}", RawPath: "/items/1", Headers: map[string]string{},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			Stage: "$default", RouteKey: "GET /items/{id}",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: "/items/1", SourceIP: ip},
		},
	}
	for k, v := range forged {
		e.Headers[k] = v
	}
	if mutate != nil {
		mutate(e)
	}
	return e
}

func urlEvent(ip string, mutate func(*events.LambdaFunctionURLRequest)) *events.LambdaFunctionURLRequest {
	e := &events.LambdaFunctionURLRequest{
		Version: "2.0", RawPath: "/items/1", Headers: map[string]string{},
		RequestContext: events.LambdaFunctionURLRequestContext{
			HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: "GET", Path: "/items/1", SourceIP: ip},
		},
	}
	for k, v := range forged {
		e.Headers[k] = v
	}
	if mutate != nil {
		mutate(e)
	}
	return e
}

// TestRequestContext: each view reads the request context API Gateway wrote: source IP, API
// key ID, the authorizer's principal and values, the stage and the route; never the forged
// headers the event also carries.
func TestRequestContext(t *testing.T) {
	type want struct {
		ip, apiKey, principal, tenant, stage, route, payload, method, path string
	}
	for _, tc := range []struct {
		name string
		req  tollgatelambda.Request
		want want
	}{
		{"v1 no auth", tollgatelambda.RequestV1(v1Event("203.0.113.1", nil)),
			want{"203.0.113.1", "", "", "", "prod", "/items/{id}", "v1", "GET", "/items/1"}},
		{"v1 API key and Lambda authorizer", tollgatelambda.RequestV1(v1Event("203.0.113.1", func(e *events.APIGatewayProxyRequest) {
			e.RequestContext.Identity.APIKeyID = "k1a2b3"
			e.RequestContext.Identity.APIKey = "the-secret-value"
			e.RequestContext.Authorizer = map[string]any{"principalId": "user-42", "tenant": "acme", "integrationLatency": float64(12)}
		})), want{"203.0.113.1", "k1a2b3", "user-42", "acme", "prod", "/items/{id}", "v1", "GET", "/items/1"}},
		{"v1 Cognito user pool", tollgatelambda.RequestV1(v1Event("203.0.113.1", func(e *events.APIGatewayProxyRequest) {
			e.RequestContext.Authorizer = map[string]any{"claims": map[string]any{"sub": "cognito-sub", "tenant": "globex"}}
		})), want{"203.0.113.1", "", "cognito-sub", "globex", "prod", "/items/{id}", "v1", "GET", "/items/1"}},
		{"v1 IAM", tollgatelambda.RequestV1(v1Event("203.0.113.1", func(e *events.APIGatewayProxyRequest) {
			e.RequestContext.Identity.UserArn = "arn:aws:iam::123456789012:user/alice"
		})), want{"203.0.113.1", "", "arn:aws:iam::123456789012:user/alice", "", "prod", "/items/{id}", "v1", "GET", "/items/1"}},
		{"v2 no auth", tollgatelambda.RequestV2(v2Event("2001:db8::1", nil)),
			want{"2001:db8::1", "", "", "", "$default", "GET /items/{id}", "v2", "GET", "/items/1"}},
		{"v2 JWT", tollgatelambda.RequestV2(v2Event("203.0.113.2", func(e *events.APIGatewayV2HTTPRequest) {
			e.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"sub": "jwt-sub", "tenant": "initech"}}}
		})), want{"203.0.113.2", "", "jwt-sub", "initech", "$default", "GET /items/{id}", "v2", "GET", "/items/1"}},
		{"v2 Lambda authorizer", tollgatelambda.RequestV2(v2Event("203.0.113.2", func(e *events.APIGatewayV2HTTPRequest) {
			e.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				Lambda: map[string]any{"principalId": "lambda-user", "tenant": float64(7)}}
		})), want{"203.0.113.2", "", "lambda-user", "7", "$default", "GET /items/{id}", "v2", "GET", "/items/1"}},
		{"v2 IAM", tollgatelambda.RequestV2(v2Event("203.0.113.2", func(e *events.APIGatewayV2HTTPRequest) {
			e.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{UserARN: "arn:aws:iam::123456789012:user/bob"}}
		})), want{"203.0.113.2", "", "arn:aws:iam::123456789012:user/bob", "", "$default", "GET /items/{id}", "v2", "GET", "/items/1"}},
		{"function URL IAM", tollgatelambda.RequestURL(urlEvent("203.0.113.3", func(e *events.LambdaFunctionURLRequest) {
			e.RequestContext.Authorizer = &events.LambdaFunctionURLRequestContextAuthorizerDescription{
				IAM: &events.LambdaFunctionURLRequestContextAuthorizerIAMDescription{UserARN: "arn:aws:iam::123456789012:user/carol"}}
		})), want{"203.0.113.3", "", "arn:aws:iam::123456789012:user/carol", "", "", "", "url", "GET", "/items/1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.req
			got := want{r.SourceIP(), r.APIKeyID(), r.Principal(), r.Authorizer("tenant"), r.Stage(), r.Route(), r.Payload(), r.Method(), r.Path()}
			if got != tc.want {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
			if r.RemoteAddr() != tc.want.ip {
				t.Fatalf("RemoteAddr %q, want the source IP %q", r.RemoteAddr(), tc.want.ip)
			}
			// The headers are there for handlers and header keys, whatever their case.
			if h := r.Header("x-forwarded-for"); h != forged["X-Forwarded-For"] {
				t.Fatalf("Header(x-forwarded-for) = %q, want %q", h, forged["X-Forwarded-For"])
			}
		})
	}
}

// TestKeysIgnoreForgedHeaders: the source IP keys (this package's and a limiter's default,
// core.KeyByIP) read the request context; the forged X-Forwarded-For, Forwarded and X-Real-IP
// of every event change nothing. IPv6 is grouped by /64.
func TestKeysIgnoreForgedHeaders(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  tollgatelambda.Request
		want string
	}{
		{"v1", tollgatelambda.RequestV1(v1Event("203.0.113.10", nil)), "203.0.113.10"},
		{"v2", tollgatelambda.RequestV2(v2Event("203.0.113.11", nil)), "203.0.113.11"},
		{"url", tollgatelambda.RequestURL(urlEvent("203.0.113.12", nil)), "203.0.113.12"},
		{"v2 IPv6", tollgatelambda.RequestV2(v2Event("2001:db8:1:2:3:4:5:6", nil)), "2001:db8:1:2::/64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for name, kf := range map[string]core.KeyFunc{"KeyBySourceIP": tollgatelambda.KeyBySourceIP(), "core.KeyByIP": core.KeyByIP()} {
				got, err := kf(tc.req)
				if err != nil || got != tc.want {
					t.Fatalf("%s = %q, %v; want %q (the request context's source IP)", name, got, err, tc.want)
				}
			}
		})
	}
}

// TestKeyFunctions: each key function's key, and a missing key (an error wrapping
// core.ErrMissingKey, answered 400 or 401) when the event lacks what it reads or the request
// is not a Lambda event at all.
func TestKeyFunctions(t *testing.T) {
	withKey := tollgatelambda.RequestV1(v1Event("203.0.113.1", func(e *events.APIGatewayProxyRequest) {
		e.RequestContext.Identity.APIKeyID = "k1"
		e.RequestContext.Authorizer = map[string]any{"principalId": "p1", "tenant": "t1"}
	}))
	bare := tollgatelambda.RequestURL(urlEvent("203.0.113.1", nil))
	notLambda := nethttp.Request(httptest.NewRequest("GET", "/", nil))
	for _, tc := range []struct {
		name string
		kf   core.KeyFunc
		want string
	}{
		{"KeyByAPIKeyID", tollgatelambda.KeyByAPIKeyID(), "k1"},
		{"KeyByPrincipal", tollgatelambda.KeyByPrincipal(), "p1"},
		{"KeyByAuthorizer", tollgatelambda.KeyByAuthorizer("tenant"), "t1"},
		{"KeyByStage", tollgatelambda.KeyByStage(), "prod"},
		{"KeyBySourceIP", tollgatelambda.KeyBySourceIP(), "203.0.113.1"},
		{"stage and API key", core.Keys(tollgatelambda.KeyByStage(), tollgatelambda.KeyByAPIKeyID()), "4:prod2:k1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := tc.kf(withKey); err != nil || got != tc.want {
				t.Fatalf("key %q, %v; want %q", got, err, tc.want)
			}
			if _, err := tc.kf(notLambda); !errors.Is(err, core.ErrMissingKey) {
				t.Fatalf("a net/http request: %v; want an error wrapping core.ErrMissingKey", err)
			}
			if tc.name == "KeyBySourceIP" {
				return // a function URL event has a source IP
			}
			if got, err := tc.kf(bare); !errors.Is(err, core.ErrMissingKey) {
				t.Fatalf("an event without it: %q, %v; want an error wrapping core.ErrMissingKey", got, err)
			}
		})
	}
	t.Run("test invocation", func(t *testing.T) {
		// The API Gateway console's test invocations carry no address.
		r := tollgatelambda.RequestV1(v1Event("test-invoke-source-ip", nil))
		if _, err := tollgatelambda.KeyBySourceIP()(r); !errors.Is(err, core.ErrMissingKey) {
			t.Fatalf("KeyBySourceIP of test-invoke-source-ip: %v; want a missing key", err)
		}
	})
	t.Run("KeyByAuthorizer empty name", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Fatal("KeyByAuthorizer(\"\") did not panic")
			}
		}()
		tollgatelambda.KeyByAuthorizer("")
	})
}

// TestHeaderViews: v1 reads multiValueHeaders first (headers holds only a repeated field's
// last value), any case; v2 and function URLs read the lower-cased, comma-joined map, and
// cookies from their own list.
func TestHeaderViews(t *testing.T) {
	e1 := v1Event("203.0.113.1", func(e *events.APIGatewayProxyRequest) {
		e.Headers["Accept"] = "text/html"
		e.MultiValueHeaders["Accept"] = []string{"application/json", "text/html"}
	})
	r1 := tollgatelambda.RequestV1(e1)
	if got := r1.Header("accept"); got != "application/json" {
		t.Errorf("v1 Header(accept) = %q, want the first value", got)
	}
	if got := r1.HeaderValues("ACCEPT"); len(got) != 2 {
		t.Errorf("v1 HeaderValues(ACCEPT) = %q, want both values", got)
	}
	if got := r1.HeaderValues("X-None"); got != nil {
		t.Errorf("v1 HeaderValues of a missing field = %q, want nil", got)
	}
	e2 := v2Event("203.0.113.1", func(e *events.APIGatewayV2HTTPRequest) {
		e.Headers["accept"] = "application/json,text/html"
		e.Cookies = []string{"a=1", "b=2"}
	})
	r2 := tollgatelambda.RequestV2(e2)
	if got := r2.Header("Accept"); got != "application/json,text/html" {
		t.Errorf("v2 Header(Accept) = %q", got)
	}
	if got := r2.Header("Cookie"); got != "a=1; b=2" {
		t.Errorf("v2 Header(Cookie) = %q, want the cookies joined", got)
	}
}
