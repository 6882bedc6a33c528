// Command lambda is an AWS Lambda function behind Amazon API Gateway whose per-client plans
// are Tollgate limits on DynamoDB instead of API Gateway usage plans: a rate with a burst and
// a daily quota per API key, exact across every instance of the function, and a smaller plan
// per source IP for callers without an API key.
//
// One handler serves both payload formats, so the same function can sit behind a REST API
// (payload v1: requests with an API key ID are limited per key) and an HTTP API (payload v2:
// HTTP APIs have no API keys, so per source IP). A function behind one kind of API needs only
// one of the wrappers: lambda.Start(limit.V1(hello)).
//
//	plan    throttle (rate, burst)   quota            who
//	pro     50 req/s, burst 100      10,000 per day   API key IDs listed in proKeys
//	free    5 req/s, burst 10        25 per day       any other API key ID
//	anon    2 req/s, burst 5         15 per day       no API key: per source IP
//
// The quota is a fixed window of one UTC day, counted with one conditional UpdateItem per
// request: never more than the quota, however many instances run. The key is the API key ID
// or the source IP from the event's request context, never a header (a forged
// X-Forwarded-For changes nothing).
//
// Deployed (provided.al2023 runtime, binary named bootstrap), it reads the table's name from
// TOLLGATE_TABLE (default "tollgate") and everything else from the standard AWS environment;
// the function's role needs dynamodb:GetItem, UpdateItem and DescribeTable on the table.
// Locally, with -invoke, it runs the handler on an event from a file and prints each
// response, without the Lambda runtime:
//
//	go run ./examples/lambda -endpoint http://127.0.0.1:8000 -create-table -invoke examples/lambda/testdata/rest-api-key.json -times 12
//
// Before it takes an invocation it checks the table (store.Verify): a missing table stops the
// cold start with a message naming it, and the check opens the connection, so the first
// request's decision does not spend its time budget on a TLS handshake.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	tollgatelambda "github.com/tollgate-go/tollgate/adapters/lambda"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/dynamostore"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "lambda:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "lambda:", err)
		os.Exit(1)
	}
}

// usageError is a bad command line (exit status 2).
type usageError struct{ error }

// run is main without the process. Under the Lambda runtime (AWS_LAMBDA_RUNTIME_API set) it
// serves invocations and does not return; otherwise it needs -invoke.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("lambda", flag.ContinueOnError)
	fs.SetOutput(stderr)
	table := fs.String("table", envOr("TOLLGATE_TABLE", "tollgate"), "DynamoDB table (default $TOLLGATE_TABLE when set)")
	endpoint := fs.String("endpoint", "", "DynamoDB endpoint URL of a local server, e.g. http://127.0.0.1:8000 for dynalite; with it, region us-east-1 and dummy credentials unless the environment names them")
	create := fs.Bool("create-table", false, "create the table first if it does not exist")
	invoke := fs.String("invoke", "", "run the handler on the API Gateway event in this JSON file (- for stdin) instead of serving the Lambda runtime")
	times := fs.Int("times", 1, "with -invoke: how many times to invoke")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	underLambda := os.Getenv("AWS_LAMBDA_RUNTIME_API") != ""
	if *invoke == "" && !underLambda {
		return usageError{errors.New("not running under the Lambda runtime: give -invoke EVENT.json to run the handler locally")}
	}
	if *times < 1 {
		return usageError{fmt.Errorf("-times %d: at least 1", *times)}
	}

	store, err := openStore(ctx, *table, *endpoint, *create)
	if err != nil {
		return err
	}
	fn, err := newFunction(store, options{})
	if err != nil {
		return err
	}
	if *invoke == "" {
		lambda.Start(fn.Handle) // does not return
		return nil
	}
	event, err := readEvent(*invoke)
	if err != nil {
		return err
	}
	h := lambda.NewHandler(fn.Handle) // the runtime's own JSON path
	for i := 1; i <= *times; i++ {
		out, err := h.Invoke(ctx, event)
		if err != nil {
			return fmt.Errorf("invocation %d: %w", i, err)
		}
		fmt.Fprintf(stdout, "%d: %s\n", i, out)
	}
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func readEvent(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(bufio.NewReader(os.Stdin))
	}
	return os.ReadFile(path)
}

// openStore builds the DynamoDB client (with the project's retries and backoff), creates the
// table when asked, checks it, and returns the store on it. endpoint, when set, is a local
// server: region us-east-1 and dummy credentials unless the environment names them.
func openStore(ctx context.Context, table, endpoint string, create bool) (*dynamostore.Store, error) {
	o := dynamostore.ClientOptions{Endpoint: endpoint}
	if endpoint != "" {
		o.LoadOptions = []func(*config.LoadOptions) error{config.WithDefaultRegion("us-east-1")}
		if os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
			o.LoadOptions = append(o.LoadOptions, config.WithCredentialsProvider(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local", Source: "examples/lambda -endpoint"}, nil
			})))
		}
	}
	client, err := dynamostore.NewClient(ctx, o)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if create {
		if _, err := dynamostore.CreateTable(cctx, client, dynamostore.TableOptions{Name: table}); err != nil {
			return nil, fmt.Errorf("create table %q: %w", table, err)
		}
	}
	store, err := dynamostore.New(client, dynamostore.Config{Table: table})
	if err != nil {
		return nil, err
	}
	if err := store.Verify(cctx); err != nil {
		return nil, fmt.Errorf("%w\n(create the table with -create-table, or `go run ./cmd/tollgate dynamodb-create-table -table NAME`)", err)
	}
	return store, nil
}

// plan is what an API Gateway usage plan held: a throttle (steady rate per second and burst,
// a token bucket) and a quota (per UTC day, a fixed window).
type plan struct {
	rate, quota core.Policy
}

func newPlan(name string, perSecond, burst, perDay int64) plan {
	return plan{
		rate:  core.NewTokenBucket(name+"-rate", perSecond, time.Second, burst),
		quota: core.NewFixedWindow(name+"-day", perDay, 24*time.Hour),
	}
}

var (
	pro  = newPlan("pro", 50, 100, 10_000)
	free = newPlan("free", 5, 10, 25)
	anon = newPlan("anon", 2, 5, 15)
	// proKeys are the API key IDs on the pro plan. A real service reads them from its
	// billing system or a table (PolicyFunc answers are cached for a minute per key).
	proKeys = map[string]bool{"pro0example": true}
)

// planOf returns the plan of a caller key (see callerKey).
func planOf(key string) plan {
	id, ok := strings.CutPrefix(key, "key:")
	switch {
	case !ok:
		return anon
	case proKeys[id]:
		return pro
	}
	return free
}

// callerKey is "key:" and the API key ID API Gateway validated, or "ip:" and the source IP
// from the request context when the request carries no API key.
func callerKey() core.KeyFunc {
	byKey, byIP := tollgatelambda.KeyByAPIKeyID(), tollgatelambda.KeyBySourceIP()
	return func(r core.Request) (string, error) {
		if id, err := byKey(r); err == nil {
			return "key:" + id, nil
		}
		ip, err := byIP(r)
		if err != nil {
			return "", err
		}
		return "ip:" + ip, nil
	}
}

// options are what tests change; zero values are the deployed function's.
type options struct {
	now      func() time.Time // the limiter's clock; nil: time.Now
	timeout  time.Duration    // the per-decision budget; zero: core.DefaultTimeout
	observer core.Observer    // nil: store errors logged through slog.Default (core's default)
}

// function is the Lambda function: the limited handler for each payload format.
type function struct {
	v1 tollgatelambda.HandlerV1
	v2 tollgatelambda.HandlerV2
}

// newFunction builds the limiters on store and wraps the handlers. Build it once per
// execution environment (at init), not per invocation.
//
// The throttle and the quota are two limiters, stacked: the throttle runs first (it denies
// most often, and a request it denies never reaches the quota), and the response carries
// both limiters' RateLimit fields, throttle first. (Each limiter caches its PolicyFunc's
// answers per key, so one limiter with two PolicyFunc limits would give the second limit the
// first one's answer; two limiters keep the answers apart.)
func newFunction(store *dynamostore.Store, o options) (*function, error) {
	middleware := func(policy func(plan) core.Policy) (*tollgatelambda.Middleware, error) {
		limiter, err := core.NewLimiter(core.Config{
			Store: store,
			Key:   callerKey(),
			Rules: []core.Rule{{PolicyFunc: func(_ context.Context, key string) (core.Policy, error) {
				return policy(planOf(key)), nil
			}}},
			// While DynamoDB is unreachable requests pass (and the store errors are
			// logged); the API's stage throttle in API Gateway still caps a flood.
			Failure:  core.FailOpen,
			Timeout:  o.timeout,
			Observer: o.observer,
			Now:      o.now,
		})
		if err != nil {
			return nil, err
		}
		return tollgatelambda.RateLimit(limiter, tollgatelambda.Options{})
	}
	throttle, err := middleware(func(p plan) core.Policy { return p.rate })
	if err != nil {
		return nil, err
	}
	quota, err := middleware(func(p plan) core.Policy { return p.quota })
	if err != nil {
		return nil, err
	}
	return &function{v1: throttle.V1(quota.V1(helloV1)), v2: throttle.V2(quota.V2(helloV2))}, nil
}

func helloV1(_ context.Context, e events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	return events.APIGatewayProxyResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/json"},
		Body: fmt.Sprintf("{\"hello\":%q}\n", e.Path)}, nil
}

func helloV2(_ context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/json"},
		Body: fmt.Sprintf("{\"hello\":%q}\n", e.RawPath)}, nil
}

// Handle is the function's entry point for both payload formats: an event with "version":
// "2.0" is an HTTP API payload v2 event; anything else is payload v1 (a REST API, or an HTTP
// API route with payload format 1.0, whose version is "1.0").
func (f *function) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("lambda: not an API Gateway event: %w", err)
	}
	if probe.Version == "2.0" {
		var e events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("lambda: payload v2 event: %w", err)
		}
		return f.v2(ctx, e)
	}
	var e events.APIGatewayProxyRequest
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("lambda: payload v1 event: %w", err)
	}
	return f.v1(ctx, e)
}
