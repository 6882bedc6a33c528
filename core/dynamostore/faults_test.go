package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/backoff"
	"github.com/tollgate-go/tollgate/core/dynamostore"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// injector sits between the SDK and the server (as the client's HTTP transport, below the
// SDK's retryer) and answers the next `faults` requests with an error of kind itself
// (faults < 0: every request).
type injector struct {
	next     http.RoundTripper
	kind     string
	faults   atomic.Int64
	attempts atomic.Int64
}

func (in *injector) RoundTrip(r *http.Request) (*http.Response, error) {
	in.attempts.Add(1)
	f := in.faults.Load()
	if f == 0 || (f > 0 && !in.faults.CompareAndSwap(f, f-1)) {
		return in.next.RoundTrip(r)
	}
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	status, code := http.StatusBadRequest, in.kind
	if in.kind == "InternalServerError" {
		status = http.StatusInternalServerError
	}
	body := fmt.Sprintf(`{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":"injected by the test"}`, code)
	return &http.Response{
		StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{
			"Content-Type":     {"application/x-amz-json-1.0"},
			"X-Amzn-Requestid": {"injected"},
			"X-Amz-Crc32":      {strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(body))), 10)},
		},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       r,
	}, nil
}

// fastRetry keeps the fault tests quick: 3 attempts, waits up to 5 ms then 10 ms.
var fastRetry = backoff.Policy{Base: 5 * time.Millisecond, Cap: 20 * time.Millisecond, MaxAttempts: 3}

func TestFaultsRetriedThenFailurePolicy(t *testing.T) {
	_, table := sharedTable(t)
	ep := testenv.DynamoDBEndpoint(t)
	for _, kind := range []string{"ThrottlingException", "ProvisionedThroughputExceededException", "InternalServerError"} {
		t.Run(kind, func(t *testing.T) {
			in := &injector{next: http.DefaultTransport.(*http.Transport).Clone(), kind: kind}
			t.Cleanup(in.next.(*http.Transport).CloseIdleConnections)
			c := newClient(t, ep, &http.Client{Transport: in}, fastRetry)
			s, err := dynamostore.New(c, dynamostore.Config{Table: table})
			if err != nil {
				t.Fatal(err)
			}
			const budget = 300 * time.Millisecond
			limiter := func(f core.FailurePolicy, limit int64) *core.Limiter {
				p := core.NewFixedWindow(testenv.UniqueName("fault-"+f.String()), limit, time.Hour)
				cfg := core.Config{Store: s, Rules: []core.Rule{{Policy: p}}, Timeout: budget, Failure: f,
					Breaker: core.BreakerConfig{Failures: -1}}
				if f == core.FailFallback {
					cfg.Fallback = memstore.New()
				}
				l, err := core.NewLimiter(cfg)
				if err != nil {
					t.Fatal(err)
				}
				return l
			}
			ctx := context.Background()

			// Two faults, then the server: the retryer absorbs them within the budget.
			in.faults.Store(2)
			in.attempts.Store(0)
			start := time.Now()
			res, err := limiter(core.FailClosed, 10).AllowKey(ctx, "k", 1)
			if err != nil || !res.Allowed || res.Degraded != core.NotDegraded {
				t.Fatalf("after 2 injected %s: %+v, %v; want allowed by the store", kind, res, err)
			}
			t.Logf("2 × %s then success: %d HTTP attempts, %v", kind, in.attempts.Load(), time.Since(start))
			if in.attempts.Load() != 3 {
				t.Fatalf("%d HTTP attempts; want 3 (2 faults retried, then success)", in.attempts.Load())
			}

			// Faults on every attempt: after MaxAttempts the failure policy decides.
			in.faults.Store(-1)
			check := func(name string, l *core.Limiter, want func(core.Result, error) bool) {
				t.Helper()
				in.attempts.Store(0)
				start := time.Now()
				res, err := l.AllowKey(ctx, "k", 1)
				took := time.Since(start)
				if !want(res, err) {
					t.Fatalf("%s under persistent %s: %+v, %v", name, kind, res, err)
				}
				if took > budget+200*time.Millisecond {
					t.Fatalf("%s took %v; want within the %v budget", name, took, budget)
				}
				if a := in.attempts.Load(); a < 2 || a > 3 {
					t.Fatalf("%s: %d HTTP attempts; want the failure retried (2 or 3 within the budget)", name, a)
				}
				t.Logf("%s: %+v (err %v) after %d attempts in %v", name, res.Degraded, err, in.attempts.Load(), took)
			}
			check("fail-open", limiter(core.FailOpen, 10), func(r core.Result, err error) bool {
				return err == nil && r.Allowed && r.Degraded == core.DegradedOpen
			})
			check("fail-closed", limiter(core.FailClosed, 10), func(r core.Result, err error) bool {
				return errors.Is(err, core.ErrStoreUnavailable) && !r.Allowed
			})
			fb := limiter(core.FailFallback, 2)
			for i, allowed := range []bool{true, true, false} {
				check(fmt.Sprintf("fallback %d", i), fb, func(r core.Result, err error) bool {
					return err == nil && r.Allowed == allowed && r.Degraded == core.DegradedFallback
				})
			}
		})
	}
}

// TestServerOutage stops a private dynalite mid-run: decisions follow the failure policy with
// bounded latency, the store recovers when the server returns, and no goroutine leaks.
func TestServerOutage(t *testing.T) {
	srv := testenv.StartDynalite(t)
	before := runtime.NumGoroutine()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	c := newClient(t, srv.URL(), &http.Client{Transport: tr}, fastRetry)
	table := testenv.UniqueName("tollgate-outage")
	ctx := context.Background()
	create := func() {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := dynamostore.CreateTable(cctx, c, dynamostore.TableOptions{Name: table}); err != nil {
			t.Fatalf("CreateTable: %v", err)
		}
	}
	create()
	s, err := dynamostore.New(c, dynamostore.Config{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	const budget = 200 * time.Millisecond
	limiters := map[core.FailurePolicy]*core.Limiter{}
	for _, f := range []core.FailurePolicy{core.FailOpen, core.FailClosed, core.FailFallback} {
		cfg := core.Config{Store: s, Timeout: budget, Failure: f, Now: now,
			Rules: []core.Rule{{Policy: core.NewFixedWindow("outage-"+f.String(), 1000, time.Hour)}}}
		if f == core.FailFallback {
			cfg.Fallback = memstore.New()
		}
		if limiters[f], err = core.NewLimiter(cfg); err != nil {
			t.Fatal(err)
		}
	}
	decide := func(phase string, want core.Degradation) {
		t.Helper()
		for f, l := range limiters {
			start := time.Now()
			res, err := l.AllowKey(ctx, "k", 1)
			took := time.Since(start)
			if took > budget+300*time.Millisecond {
				t.Fatalf("%s, %v: a decision took %v; want about the %v budget at most", phase, f, took, budget)
			}
			w := want
			if w == core.DegradedOpen {
				w = map[core.FailurePolicy]core.Degradation{core.FailOpen: core.DegradedOpen, core.FailClosed: core.DegradedClosed, core.FailFallback: core.DegradedFallback}[f]
			}
			switch {
			case w == core.NotDegraded && (err != nil || !res.Allowed || res.Degraded != core.NotDegraded):
				t.Fatalf("%s, %v: %+v, %v; want allowed by the store", phase, f, res, err)
			case w == core.DegradedClosed && !errors.Is(err, core.ErrStoreUnavailable):
				t.Fatalf("%s, %v: %+v, %v; want ErrStoreUnavailable", phase, f, res, err)
			case (w == core.DegradedOpen || w == core.DegradedFallback) && (err != nil || !res.Allowed || res.Degraded != w):
				t.Fatalf("%s, %v: %+v, %v; want allowed, degraded %v", phase, f, res, err, w)
			}
		}
	}
	decide("before the outage", core.NotDegraded)

	srv.Stop()
	start := time.Now()
	const during = 8 // past the breaker's 5 failures: later decisions do not even try
	for range during {
		decide("server down", core.DegradedOpen)
	}
	t.Logf("server down: %d decisions per failure policy in %v", during, time.Since(start))

	srv.Start()
	create()                           // dynalite keeps tables in memory: the restarted server has none
	clock.Add(int64(10 * time.Second)) // past the breaker's cool-down: the next call probes
	decide("after recovery", core.NotDegraded)

	tr.CloseIdleConnections()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines: %d before, %d after the outage:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond) // settling: idle connections' goroutines exit
	}
	t.Logf("goroutines: %d before, %d after", before, runtime.NumGoroutine())
}
