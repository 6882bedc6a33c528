package tollgatelambda_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/tollgate-go/tollgate/adapters/lambda"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

var fixed = time.Unix(1_800_000_020, 0) // 20 s into a minute

func limiter(t *testing.T, limit int64) *core.Limiter {
	t.Helper()
	return keyedLimiter(t, limit, nil)
}

// keyedLimiter is a limiter of limit requests per minute per key at the fixed time (key nil:
// the default key, core.KeyByIP).
func keyedLimiter(t *testing.T, limit int64, key core.KeyFunc) *core.Limiter {
	t.Helper()
	l, err := core.NewLimiter(core.Config{Store: memstore.New(), Key: key, Now: func() time.Time { return fixed },
		Rules: []core.Rule{{Policy: core.NewFixedWindow("p", limit, time.Minute)}}})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestConstructionRefusals: a nil limiter or an invalid option is refused when the
// middleware is built, with an error naming the field; nothing is built.
func TestConstructionRefusals(t *testing.T) {
	l := limiter(t, 1)
	c, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{Store: memstore.New(), Policy: core.NewConcurrency("c", 1, time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, field string
		build       func() (*tollgatelambda.Middleware, error)
	}{
		{"nil limiter", "RateLimit's limiter", func() (*tollgatelambda.Middleware, error) {
			return tollgatelambda.RateLimit(nil, tollgatelambda.Options{})
		}},
		{"nil concurrency limiter", "Concurrency's limiter", func() (*tollgatelambda.Middleware, error) {
			return tollgatelambda.Concurrency(nil, tollgatelambda.ConcurrencyOptions{})
		}},
		{"status 403", "Options.MissingKeyStatus", func() (*tollgatelambda.Middleware, error) {
			return tollgatelambda.RateLimit(l, tollgatelambda.Options{MissingKeyStatus: 403})
		}},
		{"concurrency status 500", "ConcurrencyOptions.MissingKeyStatus", func() (*tollgatelambda.Middleware, error) {
			return tollgatelambda.Concurrency(c, tollgatelambda.ConcurrencyOptions{Options: tollgatelambda.Options{MissingKeyStatus: 500}})
		}},
		{"both skip rules", "SkipFailedRequests and SkipSuccessfulRequests", func() (*tollgatelambda.Middleware, error) {
			return tollgatelambda.RateLimit(l, tollgatelambda.Options{SkipFailedRequests: true, SkipSuccessfulRequests: true})
		}},
		{"skip rule on a concurrency limit", "apply to rate limits", func() (*tollgatelambda.Middleware, error) {
			return tollgatelambda.Concurrency(c, tollgatelambda.ConcurrencyOptions{Options: tollgatelambda.Options{SkipFailedRequests: true}})
		}},
		{"New with a bad option", "Options.MissingKeyStatus", func() (*tollgatelambda.Middleware, error) {
			return tollgatelambda.New(core.Config{Rules: []core.Rule{{Policy: core.NewFixedWindow("p", 1, time.Minute)}}}, tollgatelambda.Options{MissingKeyStatus: 302})
		}},
		{"New with a bad policy", "core:", func() (*tollgatelambda.Middleware, error) {
			return tollgatelambda.New(core.Config{Rules: []core.Rule{{Policy: core.NewFixedWindow("p", 0, time.Minute)}}}, tollgatelambda.Options{})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := tc.build()
			if err == nil || m != nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("got %v, %v; want no middleware and an error naming %q", m, err, tc.field)
			}
		})
	}
}

func okV1(status int) tollgatelambda.HandlerV1 {
	return func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: status, Body: "ok"}, nil
	}
}

// TestRefundBeforeReturn: with a skip rule the refund has reached the store when the wrapped
// handler returns (Lambda freezes the environment after that), so the next invocation, with
// no flush in between, sees it. A handler error counts as a failure (API Gateway answers
// 502) and passes through untouched.
func TestRefundBeforeReturn(t *testing.T) {
	l := limiter(t, 1)
	m, err := tollgatelambda.RateLimit(l, tollgatelambda.Options{SkipFailedRequests: true})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("handler failed")
	calls := 0
	h := m.V1(func(ctx context.Context, e events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		calls++
		switch e.Path {
		case "/unauthorized":
			return events.APIGatewayProxyResponse{StatusCode: 401}, nil
		case "/error":
			return events.APIGatewayProxyResponse{}, boom
		}
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	})
	ev := func(path string) events.APIGatewayProxyRequest {
		return *v1Event("203.0.113.50", func(e *events.APIGatewayProxyRequest) { e.Path = path })
	}
	ctx := context.Background()
	for i := range 3 {
		if r, err := h(ctx, ev("/unauthorized")); err != nil || r.StatusCode != 401 {
			t.Fatalf("failed request %d: %d, %v; want 401 (refunded, so never 429)", i+1, r.StatusCode, err)
		}
		if _, err := h(ctx, ev("/error")); err != boom {
			t.Fatalf("handler error %d: %v; want the handler's own error", i+1, err)
		}
	}
	if r, _ := h(ctx, ev("/ok")); r.StatusCode != 200 {
		t.Fatalf("first successful request: %d, want 200", r.StatusCode)
	}
	if r, _ := h(ctx, ev("/ok")); r.StatusCode != 429 {
		t.Fatalf("second successful request: %d, want 429 (limit 1)", r.StatusCode)
	}
	if calls != 7 {
		t.Fatalf("the handler ran %d times, want 7", calls)
	}
}

// TestSettleReportedCost: a handler reports its real cost on the context it is given, and
// the settlement is in the store when the invocation returns.
func TestSettleReportedCost(t *testing.T) {
	l, err := core.NewLimiter(core.Config{Store: memstore.New(), Now: func() time.Time { return fixed }, Rules: []core.Rule{{
		Policy: core.NewFixedWindow("tokens", 100, time.Hour),
		Cost:   func(core.Request) int64 { return 10 },
		Settle: func(_ core.Request, out core.Outcome) int64 { return out.Reported },
	}}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := tollgatelambda.RateLimit(l, tollgatelambda.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := m.V2(func(ctx context.Context, _ events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		if !core.ReportCost(ctx, 60) {
			t.Error("core.ReportCost found no slot in the handler's context")
		}
		return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
	})
	var got []string
	for range 3 {
		r, err := h(context.Background(), *v2Event("203.0.113.51", nil))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, http.StatusText(r.StatusCode)+" "+r.Headers["RateLimit"])
	}
	want := []string{`OK "tokens";r=90;t=3580`, `OK "tokens";r=30;t=3580`, `Too Many Requests "tokens";r=0;t=3580`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("responses %q\nwant      %q (each settled to 60 before the next)", got, want)
	}
}

// TestCustomHandlers: a custom DenyHandler's response gets the rate-limit headers; a custom
// ErrorHandler sees the error, and Skip passes requests without a decision.
func TestCustomHandlers(t *testing.T) {
	l, err := core.NewLimiter(core.Config{Store: memstore.New(), Key: tollgatelambda.KeyByAPIKeyID(), Now: func() time.Time { return fixed },
		Rules: []core.Rule{{Policy: core.NewFixedWindow("p", 1, time.Minute)}}})
	if err != nil {
		t.Fatal(err)
	}
	var seen error
	m, err := tollgatelambda.RateLimit(l, tollgatelambda.Options{
		Skip: func(r tollgatelambda.Request) bool { return r.Path() == "/healthz" },
		DenyHandler: func(_ context.Context, r tollgatelambda.Request, res *core.Result) tollgatelambda.Response {
			return tollgatelambda.Response{StatusCode: 429, Headers: map[string]string{"Access-Control-Allow-Origin": "*"}, Body: "slow down"}
		},
		ErrorHandler: func(_ context.Context, r tollgatelambda.Request, err error) tollgatelambda.Response {
			seen = err
			return tollgatelambda.ErrorResponse(r, http.StatusForbidden)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := m.URL(func(context.Context, events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
		return events.LambdaFunctionURLResponse{StatusCode: 200}, nil
	})
	// A function URL has no API key: the error handler answers.
	r, _ := h(context.Background(), *urlEvent("203.0.113.52", nil))
	if r.StatusCode != 403 || !errors.Is(seen, core.ErrMissingKey) || strings.Contains(r.Body, "API key") {
		t.Fatalf("no API key: %d %q (error %v); want 403 from the custom handler, without the error's text", r.StatusCode, r.Body, seen)
	}
	r, _ = h(context.Background(), *urlEvent("203.0.113.52", func(e *events.LambdaFunctionURLRequest) {
		e.RawPath, e.RequestContext.HTTP.Path = "/healthz", "/healthz"
	}))
	if r.StatusCode != 200 || r.Headers["RateLimit"] != "" {
		t.Fatalf("skipped request: %d %q; want 200 without rate-limit fields", r.StatusCode, r.Headers)
	}

	// Denials through the custom deny handler, on payload v1.
	v := m.V1(okV1(200))
	withKey := func(e *events.APIGatewayProxyRequest) { e.RequestContext.Identity.APIKeyID = "k1" }
	if r, _ := v(context.Background(), *v1Event("203.0.113.52", withKey)); r.StatusCode != 200 {
		t.Fatalf("first request: %d", r.StatusCode)
	}
	d, _ := v(context.Background(), *v1Event("203.0.113.52", withKey))
	if d.StatusCode != 429 || d.Body != "slow down" || d.Headers["Access-Control-Allow-Origin"] != "*" ||
		d.Headers["Retry-After"] != "40" || d.Headers["RateLimit"] != `"p";r=0;t=40` {
		t.Fatalf("denial: %d %q %q; want the custom response with Retry-After 40 and RateLimit added", d.StatusCode, d.Body, d.Headers)
	}
}
