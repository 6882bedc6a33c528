package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/reply"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// noAWSEnv clears the AWS environment, as on a laptop that never used AWS.
func noAWSEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
		"AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_LAMBDA_RUNTIME_API"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// fakeClock is the clock both instances share: the test steps it between rounds.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *fakeClock) add(d time.Duration) { c.ns.Add(int64(d)) }

// recorder is the instances' observer: the keys decided and every store problem.
type recorder struct {
	mu       sync.Mutex
	keys     []string
	problems []core.Event
}

func (r *recorder) Observe(_ context.Context, e core.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e.Kind {
	case core.EventDecision:
		r.keys = append(r.keys, e.Key)
	default:
		r.problems = append(r.problems, e)
	}
}

// takeKeys returns the keys decided since the last call.
func (r *recorder) takeKeys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := r.keys
	r.keys = nil
	return k
}

// instances builds n instances of the function on one fresh table, each with its own store,
// limiters and client (as n execution environments have), on the fake clock.
func instances(t *testing.T, n int, clock *fakeClock, rec *recorder) []*function {
	t.Helper()
	ep := testenv.DynamoDBEndpoint(t)
	noAWSEnv(t)
	table := testenv.UniqueName("tollgate-lambda")
	var fns []*function
	for i := range n {
		store, err := openStore(context.Background(), table, ep, i == 0)
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
		// A generous time budget: this is dynalite on a shared 2-core machine under -race,
		// not DynamoDB; a decision past the budget would fail open and the count would be
		// the failure policy's, not the store's (the test checks that none did).
		fn, err := newFunction(store, options{now: clock.now, timeout: 10 * time.Second, observer: rec})
		if err != nil {
			t.Fatal(err)
		}
		fns = append(fns, fn)
	}
	return fns
}

// response is what API Gateway reads from the function's output.
type response struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

// invoke runs one invocation of fn through the runtime's JSON path. The runtime's handler
// reuses its output buffer, as it may since an execution environment takes one invocation at
// a time; concurrent invocations of one instance (one limiter and store, as Lambda's
// multi-concurrency environments have) each get their own.
func invoke(fn *function, event []byte) (response, error) {
	out, err := lambda.NewHandler(fn.Handle).Invoke(context.Background(), event)
	if err != nil {
		return response{}, err
	}
	var r response
	if err := json.Unmarshal(out, &r); err != nil {
		return response{}, fmt.Errorf("response %s: %w", out, err)
	}
	return r, nil
}

// restEvent is a REST API (payload v1) event: apiKeyID empty for a method without an API key.
func restEvent(t *testing.T, apiKeyID, sourceIP, forwardedFor string) []byte {
	t.Helper()
	e := events.APIGatewayProxyRequest{
		Resource: "/hello", Path: "/hello", HTTPMethod: "GET",
		Headers:           map[string]string{"Accept": "*/*", "X-Forwarded-For": forwardedFor},
		MultiValueHeaders: map[string][]string{"Accept": {"*/*"}, "X-Forwarded-For": {forwardedFor}},
		RequestContext: events.APIGatewayProxyRequestContext{
			Stage: "prod", ResourcePath: "/hello", HTTPMethod: "GET", RequestID: "r",
			Identity: events.APIGatewayRequestIdentity{APIKeyID: apiKeyID, SourceIP: sourceIP},
		},
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// httpEvent is an HTTP API (payload v2) event.
func httpEvent(t *testing.T, sourceIP, forwardedFor string) []byte {
	t.Helper()
	e := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "GET /hello", RawPath: "/hello",
		Headers: map[string]string{"accept": "*/*", "x-forwarded-for": forwardedFor},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: "GET /hello", Stage: "$default", RequestID: "r",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: "/hello", SourceIP: sourceIP},
		},
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// violated returns the violated-policies of a problem+json body.
func violated(t *testing.T, r response) []string {
	t.Helper()
	if r.Headers["Content-Type"] != reply.ContentTypeProblemJSON {
		t.Fatalf("denial Content-Type %q, want %q (body %q)", r.Headers["Content-Type"], reply.ContentTypeProblemJSON, r.Body)
	}
	var p struct {
		Type     string   `json:"type"`
		Status   int      `json:"status"`
		Violated []string `json:"violated-policies"`
	}
	if err := json.Unmarshal([]byte(r.Body), &p); err != nil || p.Status != 429 || p.Type != reply.ProblemTypeQuotaExceeded {
		t.Fatalf("denial body %q (%v); want a quota-exceeded problem with status 429", r.Body, err)
	}
	return p.Violated
}

// remaining returns the r of the named policy's item in a RateLimit field value.
func remaining(field, policy string) (int, bool) {
	for _, item := range strings.Split(field, ", ") {
		if rest, ok := strings.CutPrefix(item, `"`+policy+`";r=`); ok {
			n, err := strconv.Atoi(strings.SplitN(rest, ";", 2)[0])
			return n, err == nil
		}
	}
	return 0, false
}

// TestTwoInstancesExactAdmission invokes the function as the Lambda runtime does (JSON
// events through lambda.NewHandler), on two instances sharing one dynalite table, with
// payload v1 (a REST API request carrying an API key ID: the free plan, burst 10, 25 per
// day) and payload v2 (an HTTP API request: per source IP, burst 5, 15 per day). Each round
// sends 20 requests at once, alternating between the instances, at one instant of the shared
// fake clock; rounds are 3 s apart, long enough for the throttle's bucket to refill. Every
// round admits exactly what the bucket holds until the day's quota runs out, then nothing;
// over the rounds exactly the quota is admitted, each admitted request sees a different
// remaining quota, and every 429 carries Retry-After, the RateLimit fields and the
// problem+json body naming the limit that denied.
func TestTwoInstancesExactAdmission(t *testing.T) {
	day := time.Date(2030, 1, 2, 12, 0, 0, 0, time.UTC) // noon: 43,200 s left in the UTC day
	for _, tc := range []struct {
		payload string
		event   func(t *testing.T) []byte
		plan    string
		burst   int
		quota   int
		ratePol string // the RateLimit-Policy item of the throttle
	}{
		{"v1", func(t *testing.T) []byte { return restEvent(t, "free0example", "198.51.100.10", "10.0.0.1") }, "free", 10, 25, `"free-rate";q=10;w=2`},
		{"v2", func(t *testing.T) []byte { return httpEvent(t, "198.51.100.20", "10.0.0.1") }, "anon", 5, 15, `"anon-rate";q=5;w=3`},
	} {
		t.Run(tc.payload, func(t *testing.T) {
			clock := &fakeClock{}
			clock.set(day)
			rec := &recorder{}
			fns := instances(t, 2, clock, rec)
			event := tc.event(t)
			bothPolicies := tc.ratePol + `, "` + tc.plan + `-day";q=` + strconv.Itoa(tc.quota) + ";w=86400"
			const perRound = 20
			admitted := 0
			var seen []int // the remaining quota each admitted request saw
			for round := 0; ; round++ {
				if round == 6 {
					t.Fatal("still admitting after 6 rounds")
				}
				want := min(tc.burst, tc.quota-admitted)
				resps := make([]response, perRound)
				errs := make([]error, perRound)
				var wg sync.WaitGroup
				for i := range perRound {
					wg.Add(1)
					go func() {
						defer wg.Done()
						resps[i], errs[i] = invoke(fns[i%2], event)
					}()
				}
				wg.Wait()
				got, byRate, byQuota := 0, 0, 0
				for i, r := range resps {
					if errs[i] != nil {
						t.Fatalf("round %d invocation %d: %v", round, i, errs[i])
					}
					switch r.StatusCode {
					case 200:
						got++
						if p := r.Headers["RateLimit-Policy"]; p != bothPolicies {
							t.Fatalf("allowed: RateLimit-Policy %q, want %q", p, bothPolicies)
						}
						n, ok := remaining(r.Headers["RateLimit"], tc.plan+"-day")
						if !ok {
							t.Fatalf("allowed: RateLimit %q has no %s-day item", r.Headers["RateLimit"], tc.plan)
						}
						seen = append(seen, n)
					case 429:
						switch v := violated(t, r); {
						case slices.Equal(v, []string{tc.plan + "-rate"}):
							byRate++
							// The next token is one emission interval away; the quota was not
							// evaluated, and a per-key plan's policy is not known unasked.
							if r.Headers["Retry-After"] != "1" || r.Headers["RateLimit-Policy"] != tc.ratePol {
								t.Fatalf("throttled: Retry-After %q RateLimit-Policy %q; want 1 and %q", r.Headers["Retry-After"], r.Headers["RateLimit-Policy"], tc.ratePol)
							}
						case slices.Equal(v, []string{tc.plan + "-day"}):
							byQuota++
							untilMidnight := strconv.Itoa(43200 - 3*round)
							if r.Headers["Retry-After"] != untilMidnight || r.Headers["RateLimit-Policy"] != bothPolicies {
								t.Fatalf("over quota: Retry-After %q RateLimit-Policy %q; want %s (UTC midnight) and %q", r.Headers["Retry-After"], r.Headers["RateLimit-Policy"], untilMidnight, bothPolicies)
							}
							if n, _ := remaining(r.Headers["RateLimit"], tc.plan+"-day"); n != 0 {
								t.Fatalf("over quota: RateLimit %q, want r=0 for the day", r.Headers["RateLimit"])
							}
						default:
							t.Fatalf("429 naming %q, want %s-rate or %s-day", v, tc.plan, tc.plan)
						}
					default:
						t.Fatalf("round %d: status %d, body %q", round, r.StatusCode, r.Body)
					}
				}
				t.Logf("payload %s round %d (t+%ds): %d admitted, %d throttled, %d over quota", tc.payload, round, 3*round, got, byRate, byQuota)
				if got != want || byRate != perRound-min(tc.burst, perRound) {
					t.Fatalf("round %d: %d admitted and %d throttled; want exactly %d admitted (bucket %d, quota left %d) and %d throttled",
						round, got, byRate, want, tc.burst, tc.quota-admitted, perRound-tc.burst)
				}
				admitted += got
				if got == 0 {
					break
				}
				clock.add(3 * time.Second)
			}
			slices.Sort(seen)
			for i, n := range seen {
				if n != i {
					t.Fatalf("remaining quota seen by the admitted requests %v; want each of 0..%d once", seen, tc.quota-1)
				}
			}
			rec.mu.Lock()
			problems := rec.problems
			rec.mu.Unlock()
			if len(problems) > 0 {
				t.Fatalf("%d store problems (decisions not made by the store): first %+v", len(problems), problems[0])
			}
			if admitted != tc.quota {
				t.Fatalf("admitted %d in all, want the quota %d", admitted, tc.quota)
			}
			t.Logf("lambda: payload=%s limit=%d admitted=%d", tc.payload, tc.quota, admitted)
		})
	}
}

// TestForgedForwardedFor: requests without an API key are keyed by the source IP that API
// Gateway wrote in the request context. A client rotating X-Forwarded-For stays in one bucket
// (the anon burst of 5 admits 5 of 6), and another client whose X-Forwarded-For names the
// first one still has its own allowance.
func TestForgedForwardedFor(t *testing.T) {
	for _, tc := range []struct {
		payload string
		event   func(t *testing.T, sourceIP, xff string) []byte
	}{
		{"v1", func(t *testing.T, ip, xff string) []byte { return restEvent(t, "", ip, xff) }},
		{"v2", httpEvent},
	} {
		t.Run(tc.payload, func(t *testing.T) {
			clock := &fakeClock{}
			clock.set(time.Date(2030, 1, 3, 12, 0, 0, 0, time.UTC))
			rec := &recorder{}
			fns := instances(t, 2, clock, rec)
			const attacker, other = "203.0.113.66", "203.0.113.77"
			var codes []int
			for i := range 6 {
				r, err := invoke(fns[i%2], tc.event(t, attacker, fmt.Sprintf("10.0.0.%d, 192.0.2.%d", i+1, i+1)))
				if err != nil {
					t.Fatal(err)
				}
				codes = append(codes, r.StatusCode)
			}
			if !slices.Equal(codes, []int{200, 200, 200, 200, 200, 429}) {
				t.Fatalf("six requests from one source IP with six forged X-Forwarded-For values: %v; want 5 admitted, then 429", codes)
			}
			r, err := invoke(fns[0], tc.event(t, other, attacker))
			if err != nil {
				t.Fatal(err)
			}
			if r.StatusCode != 200 {
				t.Fatalf("another source IP whose X-Forwarded-For names the first: %d, want 200", r.StatusCode)
			}
			keys := rec.takeKeys()
			// An admitted request is decided by the throttle and the quota (two decisions with
			// its key), a throttled one by the throttle only: 5×2 + 1 for the attacker.
			want := slices.Repeat([]string{"ip:" + attacker}, 11)
			want = append(want, "ip:"+other, "ip:"+other)
			slices.Sort(keys)
			slices.Sort(want)
			if !slices.Equal(keys, want) {
				t.Fatalf("keys decided %q, want %q: the request context's source IP, never X-Forwarded-For", keys, want)
			}
			t.Logf("lambda: payload=%s forged X-Forwarded-For ignored: key ip:%s for all 6 requests", tc.payload, attacker)
		})
	}
}

// TestInvokeLocally runs the command as the README shows it: -invoke with the REST API
// sample event, 40 times on the real clock. The first 10 pass (the free plan's burst), and
// at most the day's quota of 25 pass in all, whatever the bucket refilled meanwhile.
func TestInvokeLocally(t *testing.T) {
	ep := testenv.DynamoDBEndpoint(t)
	noAWSEnv(t)
	table := testenv.UniqueName("tollgate-lambda")
	var out, logs bytes.Buffer
	err := run(context.Background(), []string{"-endpoint", ep, "-create-table", "-table", table,
		"-invoke", "testdata/rest-api-key.json", "-times", "40"}, &out, &logs)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, logs.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 40 {
		t.Fatalf("%d lines, want 40:\n%s", len(lines), out.String())
	}
	admitted := 0
	overQuota := false
	for i, l := range lines {
		_, js, ok := strings.Cut(l, ": ")
		var r response
		if !ok || json.Unmarshal([]byte(js), &r) != nil {
			t.Fatalf("line %d is not N: JSON: %q", i+1, l)
		}
		if r.StatusCode == 200 {
			admitted++
		} else if r.StatusCode != 429 {
			t.Fatalf("line %d: status %d", i+1, r.StatusCode)
		}
		if i < 10 && r.StatusCode != 200 {
			t.Fatalf("invocation %d: %d, want 200 (within the burst of 10)", i+1, r.StatusCode)
		}
		overQuota = overQuota || strings.Contains(r.Body, `"free-day"`)
	}
	if admitted > 25 || overQuota && admitted != 25 {
		t.Fatalf("admitted %d of 40 (quota denials seen: %v); want at most 25, and exactly 25 once the quota denies", admitted, overQuota)
	}
	t.Logf("lambda: -invoke 40 times on the real clock: %d admitted; last response %s", admitted, lines[39])
}

// TestMissingTable: the startup check stops a cold start on a table that does not exist,
// naming it.
func TestMissingTable(t *testing.T) {
	ep := testenv.DynamoDBEndpoint(t)
	noAWSEnv(t)
	table := testenv.UniqueName("nosuchtable")
	err := run(context.Background(), []string{"-endpoint", ep, "-table", table, "-invoke", "testdata/http-api.json"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `"`+table+`"`) {
		t.Fatalf("run with a missing table: %v; want an error naming the table", err)
	}
}

func TestUsage(t *testing.T) {
	noAWSEnv(t)
	for _, args := range [][]string{{}, {"-nosuchflag"}, {"-invoke", "x.json", "-times", "0"}, {"extra"}} {
		if err := run(context.Background(), args, io.Discard, io.Discard); !errors.As(err, new(usageError)) {
			t.Errorf("run %q: %v; want a usage error (exit 2)", args, err)
		}
	}
}

// TestHandleRejectsNonJSON: an event that is not JSON is an invocation error, not a panic.
func TestHandleRejectsNonJSON(t *testing.T) {
	fn := &function{}
	if _, err := fn.Handle(context.Background(), json.RawMessage("nope")); err == nil {
		t.Fatal("Handle of a non-JSON event returned no error")
	}
}
