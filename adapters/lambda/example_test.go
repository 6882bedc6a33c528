package tollgatelambda_test

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/tollgate-go/tollgate/adapters/lambda"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// A REST API function limited per API key: 2 requests per minute per key ID. In a real
// function the store is a core/dynamostore shared by every instance, built once at init, and
// main ends with lambda.Start(handler).
func Example() {
	limiter, err := core.NewLimiter(core.Config{
		Store: memstore.New(),
		Key:   tollgatelambda.KeyByAPIKeyID(),
		Rules: []core.Rule{{Policy: core.NewFixedWindow("per-key", 2, time.Minute)}},
		Now:   func() time.Time { return time.Unix(1_800_000_020, 0) }, // 20 s into a minute
	})
	if err != nil {
		panic(err)
	}
	limit, err := tollgatelambda.RateLimit(limiter, tollgatelambda.Options{MissingKeyStatus: 401})
	if err != nil {
		panic(err) // a nil limiter or a bad option, reported at init
	}
	handler := limit.V1(func(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: "hello"}, nil
	})

	for _, keyID := range []string{"a1b2c3", "a1b2c3", "a1b2c3", ""} {
		ev := events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/hello", Resource: "/hello"}
		ev.RequestContext.Identity.APIKeyID = keyID // set by API Gateway, not by the client
		resp, _ := handler(context.Background(), ev)
		fmt.Printf("%d RateLimit=%s Retry-After=%q\n", resp.StatusCode, resp.Headers["RateLimit"], resp.Headers["Retry-After"])
	}
	// Output:
	// 200 RateLimit="per-key";r=1;t=40 Retry-After=""
	// 200 RateLimit="per-key";r=0;t=40 Retry-After=""
	// 429 RateLimit="per-key";r=0;t=40 Retry-After="40"
	// 401 RateLimit= Retry-After=""
}

// The key is the source IP API Gateway saw, whatever X-Forwarded-For the client sends.
func ExampleKeyBySourceIP() {
	key := tollgatelambda.KeyBySourceIP()
	ev := events.APIGatewayV2HTTPRequest{Headers: map[string]string{"x-forwarded-for": "10.0.0.1"}}
	ev.RequestContext.HTTP.SourceIP = "198.51.100.7"
	k, err := key(tollgatelambda.RequestV2(&ev))
	fmt.Println(k, err)
	// Output:
	// 198.51.100.7 <nil>
}

// At most 2 reports run at once per caller, across every instance sharing the store; a
// slot is released when the handler returns, and expires with its lease if the instance dies.
func ExampleConcurrency() {
	c, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{
		Store:  memstore.New(),
		Policy: core.NewConcurrency("reports", 2, 30*time.Second),
		Config: core.Config{Key: tollgatelambda.KeyByPrincipal()},
	})
	if err != nil {
		panic(err)
	}
	conc, err := tollgatelambda.Concurrency(c, tollgatelambda.ConcurrencyOptions{})
	if err != nil {
		panic(err)
	}
	handler := conc.V2(func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "report"}, nil
	})
	ev := events.APIGatewayV2HTTPRequest{}
	ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"sub": "user-1"}},
	}
	resp, _ := handler(context.Background(), ev)
	fmt.Println(resp.StatusCode, resp.Headers["RateLimit-Policy"], resp.Headers["RateLimit"])
	// Output:
	// 200 "reports";q=2;qu="concurrent-requests" "reports";r=1
}
