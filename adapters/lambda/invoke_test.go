package tollgatelambda_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/tollgate-go/tollgate/adapters/lambda"
	"github.com/tollgate-go/tollgate/core"
)

// A REST API proxy event as API Gateway sends it (trimmed from the AWS documentation's
// sample), with a client-written X-Forwarded-For that names someone else.
const restEvent = `{
  "resource": "/items/{id}", "path": "/items/7", "httpMethod": "GET",
  "headers": {"Accept": "*/*", "X-Forwarded-For": "SPOOF, 198.51.100.77", "X-Forwarded-Proto": "https"},
  "multiValueHeaders": {"Accept": ["*/*"], "X-Forwarded-For": ["SPOOF, 198.51.100.77"], "X-Forwarded-Proto": ["https"]},
  "pathParameters": {"id": "7"},
  "requestContext": {
    "resourcePath": "/items/{id}", "httpMethod": "GET", "stage": "prod", "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
    "identity": {"sourceIp": "198.51.100.77", "apiKeyId": "a1b2c3d4", "userAgent": "curl/8.0"}
  },
  "body": null, "isBase64Encoded": false
}`

// An HTTP API payload v2 event (trimmed from the AWS documentation's sample).
const httpEvent = `{
  "version": "2.0", "routeKey": "GET /items/{id}", "rawPath": "/items/7", "rawQueryString": "",
  "headers": {"accept": "*/*", "x-forwarded-for": "SPOOF, 198.51.100.78"},
  "requestContext": {
    "routeKey": "GET /items/{id}", "stage": "$default", "requestId": "id",
    "http": {"method": "GET", "path": "/items/7", "protocol": "HTTP/1.1", "sourceIp": "198.51.100.78", "userAgent": "curl/8.0"}
  },
  "isBase64Encoded": false
}`

// TestInvokeThroughRuntime drives wrapped handlers as the Lambda runtime does
// (lambda.NewHandler: JSON in, JSON out), with API Gateway's sample events: the wrapped
// handlers are valid aws-lambda-go handlers, the third request in a window is answered 429
// with the headers and problem body in the JSON that API Gateway reads, and the key is the
// API key ID (v1) or the source IP (v2), whatever X-Forwarded-For says.
func TestInvokeThroughRuntime(t *testing.T) {
	for _, tc := range []struct {
		name, event, key string
		handler          func(m *tollgatelambda.Middleware) any
	}{
		{"v1", restEvent, "a1b2c3d4", func(m *tollgatelambda.Middleware) any { return m.V1(okV1(200)) }},
		{"v2", httpEvent, "198.51.100.78", func(m *tollgatelambda.Middleware) any {
			return m.V2(func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
				return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "ok"}, nil
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := tollgatelambda.KeyBySourceIP()
			if tc.name == "v1" {
				key = tollgatelambda.KeyByAPIKeyID()
			}
			var keys []string // the keys the limiter was given (one goroutine: no lock)
			m, err := tollgatelambda.RateLimit(keyedLimiter(t, 2, func(r core.Request) (string, error) {
				k, err := key(r)
				keys = append(keys, k)
				return k, err
			}), tollgatelambda.Options{})
			if err != nil {
				t.Fatal(err)
			}
			h := lambda.NewHandler(tc.handler(m))
			var codes []int
			var last struct {
				StatusCode int               `json:"statusCode"`
				Headers    map[string]string `json:"headers"`
				Body       string            `json:"body"`
			}
			for range 3 {
				out, err := h.Invoke(context.Background(), []byte(tc.event))
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(out, &last); err != nil {
					t.Fatalf("response %s: %v", out, err)
				}
				codes = append(codes, last.StatusCode)
			}
			if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 {
				t.Fatalf("statuses %v, want 200 200 429", codes)
			}
			if last.Headers["Retry-After"] != "40" || last.Headers["RateLimit"] != `"p";r=0;t=40` ||
				last.Headers["Content-Type"] != "application/problem+json" || !strings.Contains(last.Body, `"violated-policies":["p"]`) {
				t.Fatalf("denial %+v; want Retry-After 40, RateLimit, a problem+json body", last)
			}
			for _, k := range keys {
				if k != tc.key {
					t.Fatalf("keys %q, want every one %q (the request context, not X-Forwarded-For)", keys, tc.key)
				}
			}
		})
	}
}
