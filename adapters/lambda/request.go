package tollgatelambda

import (
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/tollgate-go/tollgate/core"
)

// Request is the [core.Request] view of an API Gateway or function URL event, plus what the
// event's request context says about the caller. API Gateway (or the function URL service)
// writes the request context; the client writes the headers. Key functions that must not be
// forgeable read the methods below, never a header.
//
// RemoteAddr is the request context's source IP, so [core.KeyByIP] (a limiter's default key)
// keys by it. The views are built by [RequestV1], [RequestV2] and [RequestURL], and are
// what Options.Skip and custom handlers receive.
type Request interface {
	core.Request
	// SourceIP returns the client address as API Gateway saw the TCP connection
	// (requestContext.identity.sourceIp in payload v1, requestContext.http.sourceIp in v2
	// and function URLs). With an edge-optimized REST API it is the client's address, not
	// CloudFront's. The API Gateway console's test invocations send "test-invoke-source-ip",
	// which no IP key accepts (a missing key).
	SourceIP() string
	// APIKeyID returns the ID (not the secret value) of the API key API Gateway validated
	// for the request: requestContext.identity.apiKeyId, REST APIs with a method that
	// requires an API key. HTTP APIs and function URLs have no API keys: "".
	APIKeyID() string
	// Principal returns who an authorizer says the caller is, or "":
	//   - payload v1 (REST): a Lambda authorizer's principalId; else a Cognito user pool
	//     authorizer's sub claim; else, with IAM authorization, identity.userArn;
	//   - payload v2 (HTTP API): a JWT authorizer's sub claim; else a Lambda authorizer's
	//     context value "principalId" (HTTP APIs pass the authorizer's context, not a
	//     policy's principalId: put the principal in the context under that name); else
	//     the IAM caller's user ARN;
	//   - function URLs (AWS_IAM auth): the IAM caller's user ARN.
	Principal() string
	// Authorizer returns the named value an authorizer attached to the request, or "": a
	// Lambda authorizer's context value or a JWT / Cognito claim (numbers and booleans in
	// their JSON text). Function URLs have none.
	Authorizer(name string) string
	// Stage returns the API Gateway stage ("prod", "$default"), or "" for function URLs.
	Stage() string
	// Payload returns "v1", "v2" or "url": which event the view reads.
	Payload() string
}

// RequestV1 returns the view of a payload v1 event (REST API proxy integration, or an HTTP
// API route with payload format 1.0), for calling a limiter or a key function directly.
func RequestV1(e *events.APIGatewayProxyRequest) Request { return v1Request{e} }

// RequestV2 returns the view of an HTTP API payload v2 event.
func RequestV2(e *events.APIGatewayV2HTTPRequest) Request { return v2Request{e} }

// RequestURL returns the view of a Lambda function URL event.
func RequestURL(e *events.LambdaFunctionURLRequest) Request { return urlRequest{e} }

// Each view is a struct holding one pointer, which converts to an interface without
// allocating.
type (
	v1Request struct {
		e *events.APIGatewayProxyRequest
	}
	v2Request struct {
		e *events.APIGatewayV2HTTPRequest
	}
	urlRequest struct {
		e *events.LambdaFunctionURLRequest
	}
)

var (
	_ Request = v1Request{}
	_ Request = v2Request{}
	_ Request = urlRequest{}
)

func (q v1Request) Method() string { return q.e.HTTPMethod }
func (q v1Request) Path() string   { return q.e.Path }

// Route is the API Gateway resource the request matched ("/items/{id}", "/{proxy+}").
func (q v1Request) Route() string { return q.e.Resource }

// Header reads multiValueHeaders first (API Gateway fills both; headers holds only the last
// value of a repeated field), case-insensitively (REST APIs keep the client's spelling).
func (q v1Request) Header(name string) string {
	return firstValue(q.e.MultiValueHeaders, q.e.Headers, name)
}

func (q v1Request) HeaderValues(name string) []string {
	if vs := lookup(q.e.MultiValueHeaders, name); len(vs) > 0 {
		return vs
	}
	if v := lookup(q.e.Headers, name); v != "" {
		return []string{v}
	}
	return nil
}

func (q v1Request) RemoteAddr() string { return q.e.RequestContext.Identity.SourceIP }
func (q v1Request) SourceIP() string   { return q.e.RequestContext.Identity.SourceIP }
func (q v1Request) APIKeyID() string   { return q.e.RequestContext.Identity.APIKeyID }
func (q v1Request) Stage() string      { return q.e.RequestContext.Stage }
func (q v1Request) Payload() string    { return "v1" }

func (q v1Request) Principal() string {
	a := q.e.RequestContext.Authorizer
	if p := text(a["principalId"]); p != "" {
		return p
	}
	if claims, ok := a["claims"].(map[string]any); ok {
		if p := text(claims["sub"]); p != "" {
			return p
		}
	}
	return q.e.RequestContext.Identity.UserArn
}

func (q v1Request) Authorizer(name string) string {
	a := q.e.RequestContext.Authorizer
	if v := text(a[name]); v != "" {
		return v
	}
	if claims, ok := a["claims"].(map[string]any); ok {
		return text(claims[name])
	}
	return ""
}

func (q v2Request) Method() string { return q.e.RequestContext.HTTP.Method }

func (q v2Request) Path() string {
	if p := q.e.RequestContext.HTTP.Path; p != "" {
		return p
	}
	return q.e.RawPath
}

// Route is the route key the request matched ("GET /items/{id}", "ANY /{proxy+}",
// "$default").
func (q v2Request) Route() string {
	if q.e.RouteKey != "" {
		return q.e.RouteKey
	}
	return q.e.RequestContext.RouteKey
}

func (q v2Request) Header(name string) string { return v2Header(q.e.Headers, q.e.Cookies, name) }
func (q v2Request) HeaderValues(name string) []string {
	return v2HeaderValues(q.e.Headers, q.e.Cookies, name)
}
func (q v2Request) RemoteAddr() string { return q.e.RequestContext.HTTP.SourceIP }
func (q v2Request) SourceIP() string   { return q.e.RequestContext.HTTP.SourceIP }
func (q v2Request) APIKeyID() string   { return "" }
func (q v2Request) Stage() string      { return q.e.RequestContext.Stage }
func (q v2Request) Payload() string    { return "v2" }

func (q v2Request) Principal() string {
	a := q.e.RequestContext.Authorizer
	if a == nil {
		return ""
	}
	if a.JWT != nil && a.JWT.Claims["sub"] != "" {
		return a.JWT.Claims["sub"]
	}
	if p := text(a.Lambda["principalId"]); p != "" {
		return p
	}
	if a.IAM != nil {
		return a.IAM.UserARN
	}
	return ""
}

func (q v2Request) Authorizer(name string) string {
	a := q.e.RequestContext.Authorizer
	if a == nil {
		return ""
	}
	if a.JWT != nil && a.JWT.Claims[name] != "" {
		return a.JWT.Claims[name]
	}
	return text(a.Lambda[name])
}

func (q urlRequest) Method() string { return q.e.RequestContext.HTTP.Method }

func (q urlRequest) Path() string {
	if p := q.e.RequestContext.HTTP.Path; p != "" {
		return p
	}
	return q.e.RawPath
}

// Route is "": a function URL has no router.
func (q urlRequest) Route() string { return "" }

func (q urlRequest) Header(name string) string { return v2Header(q.e.Headers, q.e.Cookies, name) }
func (q urlRequest) HeaderValues(name string) []string {
	return v2HeaderValues(q.e.Headers, q.e.Cookies, name)
}
func (q urlRequest) RemoteAddr() string            { return q.e.RequestContext.HTTP.SourceIP }
func (q urlRequest) SourceIP() string              { return q.e.RequestContext.HTTP.SourceIP }
func (q urlRequest) APIKeyID() string              { return "" }
func (q urlRequest) Stage() string                 { return "" }
func (q urlRequest) Payload() string               { return "url" }
func (q urlRequest) Authorizer(name string) string { return "" }

func (q urlRequest) Principal() string {
	if a := q.e.RequestContext.Authorizer; a != nil && a.IAM != nil {
		return a.IAM.UserARN
	}
	return ""
}

// v2Header reads a v2 or function URL header: API Gateway lower-cases the names and joins a
// repeated field's values with commas; cookies arrive in their own list.
func v2Header(h map[string]string, cookies []string, name string) string {
	if len(cookies) > 0 && strings.EqualFold(name, "Cookie") {
		return strings.Join(cookies, "; ")
	}
	return lookup(h, name)
}

func v2HeaderValues(h map[string]string, cookies []string, name string) []string {
	if v := v2Header(h, cookies, name); v != "" {
		return []string{v}
	}
	return nil
}

// lookup finds name in h whatever its case: the exact spelling first, then a scan (the maps
// are a request's headers, a few dozen entries at most).
func lookup[V any](h map[string]V, name string) V {
	if k, ok := find(h, name); ok {
		return h[k]
	}
	var zero V
	return zero
}

// firstValue returns the first value of field name as [v1Request.Header] reads it: from mv
// when it holds the field, else from h. mv may be nil (payloads without multi-value headers).
func firstValue(mv map[string][]string, h map[string]string, name string) string {
	if vs := lookup(mv, name); len(vs) > 0 {
		return vs[0]
	}
	return lookup(h, name)
}

// text renders an authorizer context value: Lambda authorizers may return strings, numbers
// and booleans; anything else (maps, lists) is not a key.
func text(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	}
	return ""
}
