package adaptertest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/core/reply"
)

// Case is one behaviour of the suite.
type Case struct {
	// Name is the subtest name.
	Name string
	// Test checks the behaviour against the harness.
	Test func(t *testing.T, h Harness)
}

// Cases returns the suite's table, in the order [Run] runs it.
func Cases() []Case {
	return []Case{
		{"AllowThenDeny", testAllowThenDeny},
		{"HeadersSeveralLimitsAndStacked", testHeadersStacked},
		{"LegacyHeaders", testLegacyHeaders},
		{"HeaderFieldsConsistent", testHeaderFields},
		{"TrustedProxyAndForgedForwardedFor", testTrustedProxy},
		{"PerRouteLimitsAndRoutePattern", testPerRoute},
		{"GlobalMiddlewareKeysByRoute", testGlobalRouteKeys},
		{"SkipRules", testSkipRules},
		{"SettleReportedCost", testSettle},
		{"Skip", testSkip},
		{"KeyErrors", testKeyErrors},
		{"StoreFailure", testStoreFailure},
		{"ConcurrencySlowHandlers", testConcurrency},
		{"ConcurrencyReleasedAfterPanic", testPanic},
		{"ConcurrencyLeaseExtended", testLeaseExtended},
		{"ConcurrencyWaitingAcquire", testWaitingAcquire},
	}
}

// Run runs every case of the suite as a subtest of t.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil || h.Route == nil {
		t.Fatal("adaptertest: Harness.New and Harness.Route are required")
	}
	for _, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) { c.Test(t, h) })
	}
}

// now is the suite's fake time: 20 s into a minute, so a one-minute window resets in 40 s.
var now = time.Unix(1_800_000_020, 0)

func clock() time.Time { return now }

// newLimiter builds a limiter on a fresh memory store (unless cfg has a store) at the fake
// time.
func newLimiter(t *testing.T, cfg core.Config) *core.Limiter {
	t.Helper()
	if cfg.Store == nil {
		cfg.Store = memstore.New()
	}
	if cfg.Now == nil {
		cfg.Now = clock
	}
	l, err := core.NewLimiter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func newConcurrency(t *testing.T, cfg core.ConcurrencyConfig) *core.ConcurrencyLimiter {
	t.Helper()
	if cfg.Store == nil {
		cfg.Store = memstore.New()
	}
	c, err := core.NewConcurrencyLimiter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// response is what the suite keeps of an answer.
type response struct {
	code   int
	header http.Header
	body   string
}

// get returns the values of a header joined as one list, as RFC 9110 §5.3 allows.
func (r response) get(name string) string { return strings.Join(r.header.Values(name), ", ") }

// send serves one request; it is safe to call from any goroutine.
func send(tr Transport, method, path, remote string, hdr map[string]string) (response, error) {
	req := httptest.NewRequest(method, "http://tollgate.test"+path, nil)
	req.RemoteAddr = remote
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := tr(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, err
	}
	out := response{code: res.StatusCode, header: res.Header, body: string(b)}
	if err := checkFields(out); err != nil {
		return out, fmt.Errorf("rate-limit fields: %w", err)
	}
	return out, nil
}

// do serves one request from the test goroutine.
func do(t *testing.T, tr Transport, method, path, remote string, hdr map[string]string) response {
	t.Helper()
	r, err := send(tr, method, path, remote, hdr)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func wantCode(t *testing.T, what string, r response, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: status %d, want %d (body %q)", what, r.code, code, r.body)
	}
}

func wantHeader(t *testing.T, what string, r response, name, want string) {
	t.Helper()
	if got := r.get(name); got != want {
		t.Fatalf("%s: %s %q, want %q", what, name, got, want)
	}
}

// wantProblem checks an application/problem+json body with the given status and, for 429s,
// the quota-exceeded type and violated policies.
func wantProblem(t *testing.T, what string, r response, status int, violated ...string) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != reply.ContentTypeProblemJSON {
		t.Fatalf("%s: Content-Type %q, want %q", what, ct, reply.ContentTypeProblemJSON)
	}
	var p struct {
		Type     string   `json:"type"`
		Title    string   `json:"title"`
		Status   int      `json:"status"`
		Detail   string   `json:"detail"`
		Violated []string `json:"violated-policies"`
	}
	if err := json.Unmarshal([]byte(r.body), &p); err != nil {
		t.Fatalf("%s: body is not JSON: %v: %q", what, err, r.body)
	}
	if p.Status != status || p.Title != http.StatusText(status) {
		t.Fatalf("%s: problem status %d title %q, want %d %q", what, p.Status, p.Title, status, http.StatusText(status))
	}
	if status == http.StatusTooManyRequests {
		if p.Type != reply.ProblemTypeQuotaExceeded {
			t.Fatalf("%s: problem type %q, want %q", what, p.Type, reply.ProblemTypeQuotaExceeded)
		}
		if !slices.Equal(p.Violated, violated) {
			t.Fatalf("%s: violated-policies %q, want %q", what, p.Violated, violated)
		}
	} else if p.Type != "about:blank" {
		t.Fatalf("%s: problem type %q, want about:blank", what, p.Type)
	}
	if strings.Contains(r.body, "core:") || strings.Contains(r.body, secret) {
		t.Fatalf("%s: internal error text reached the client: %q", what, r.body)
	}
}

// counter is a route's Work that counts handler runs.
func counter(n *atomic.Int64) func() { return func() { n.Add(1) } }

func testAllowThenDeny(t *testing.T, h Harness) {
	var runs atomic.Int64
	tr := h.New(t, Setup{
		Global: Guard{Limiter: newLimiter(t, core.Config{
			Key:   core.KeyByIP(),
			Rules: []core.Rule{{Policy: core.NewFixedWindow("default", 3, time.Minute)}},
		})},
		Routes: []Route{{Pattern: "/items/{id}", Work: counter(&runs)}},
	})
	const client = "192.0.2.1:1234"
	for i := 1; i <= 3; i++ {
		what := "request " + strconv.Itoa(i)
		r := do(t, tr, "GET", "/items/1", client, nil)
		wantCode(t, what, r, http.StatusOK)
		if r.body != OK {
			t.Fatalf("%s: body %q, want %q from the handler", what, r.body, OK)
		}
		wantHeader(t, what, r, reply.HeaderRateLimitPolicy, `"default";q=3;w=60`)
		wantHeader(t, what, r, reply.HeaderRateLimit, `"default";r=`+strconv.Itoa(3-i)+`;t=40`)
		wantHeader(t, what, r, reply.HeaderRetryAfter, "")
	}
	r := do(t, tr, "GET", "/items/1", client, nil)
	wantCode(t, "4th request", r, http.StatusTooManyRequests)
	wantHeader(t, "4th request", r, reply.HeaderRetryAfter, "40")
	wantHeader(t, "4th request", r, reply.HeaderRateLimitPolicy, `"default";q=3;w=60`)
	wantHeader(t, "4th request", r, reply.HeaderRateLimit, `"default";r=0;t=40`)
	wantProblem(t, "4th request", r, http.StatusTooManyRequests, "default")
	if n := runs.Load(); n != 3 {
		t.Fatalf("the handler ran %d times, want 3: a denied request reached it", n)
	}
	// Another client has its own allowance.
	wantCode(t, "another client", do(t, tr, "GET", "/items/1", "192.0.2.2:1234", nil), http.StatusOK)
	// A denied HEAD carries the headers but no body.
	r = do(t, tr, "HEAD", "/items/1", client, nil)
	wantCode(t, "HEAD denial", r, http.StatusTooManyRequests)
	wantHeader(t, "HEAD denial", r, reply.HeaderRetryAfter, "40")
	if r.body != "" {
		t.Fatalf("HEAD denial has a body: %q", r.body)
	}
}

func testHeadersStacked(t *testing.T, h Harness) {
	global := newLimiter(t, core.Config{Rules: []core.Rule{
		{Policy: core.NewTokenBucket("burst", 2, time.Second, 2)},
		{Policy: core.NewFixedWindow("day", 100, 24*time.Hour)},
	}})
	route := newLimiter(t, core.Config{Rules: []core.Rule{{Policy: core.NewFixedWindow("route", 5, time.Minute)}}})
	tr := h.New(t, Setup{
		Global: Guard{Limiter: global},
		Routes: []Route{{Pattern: "/items/{id}", Guard: Guard{Limiter: route}}, {Pattern: "/other"}},
	})
	day := strconv.FormatInt(86400-now.Unix()%86400, 10)
	const client = "192.0.2.7:999"
	// The global limiter's decisions come first (it runs first), then the route's.
	r := do(t, tr, "GET", "/items/1", client, nil)
	wantCode(t, "request 1", r, http.StatusOK)
	wantHeader(t, "request 1", r, reply.HeaderRateLimitPolicy, `"burst";q=2;w=1, "day";q=100;w=86400, "route";q=5;w=60`)
	wantHeader(t, "request 1", r, reply.HeaderRateLimit, `"burst";r=1;t=1, "day";r=99;t=`+day+`, "route";r=4;t=40`)
	// A route without its own limiter shows the global limits only.
	r = do(t, tr, "GET", "/other", client, nil)
	wantCode(t, "request 2", r, http.StatusOK)
	wantHeader(t, "request 2", r, reply.HeaderRateLimitPolicy, `"burst";q=2;w=1, "day";q=100;w=86400`)
	wantHeader(t, "request 2", r, reply.HeaderRateLimit, `"burst";r=0;t=1, "day";r=98;t=`+day)
	// The burst is spent: the global limiter denies; the limits after the denying one are
	// not evaluated (so they have no RateLimit item) but are still listed in
	// RateLimit-Policy, which stays the same across a limiter's responses; the route's
	// limiter never runs.
	r = do(t, tr, "GET", "/items/1", client, nil)
	wantCode(t, "request 3", r, http.StatusTooManyRequests)
	wantHeader(t, "request 3", r, reply.HeaderRateLimitPolicy, `"burst";q=2;w=1, "day";q=100;w=86400`)
	wantHeader(t, "request 3", r, reply.HeaderRateLimit, `"burst";r=0;t=1`)
	wantHeader(t, "request 3", r, reply.HeaderRetryAfter, "1")
	wantProblem(t, "request 3", r, http.StatusTooManyRequests, "burst")
}

func testLegacyHeaders(t *testing.T, h Harness) {
	l := newLimiter(t, core.Config{Rules: []core.Rule{{Policy: core.NewFixedWindow("legacy", 2, time.Minute)}}})
	tr := h.New(t, Setup{
		Global: Guard{Limiter: l, Headers: reply.HeaderOptions{Legacy: true}},
		Routes: []Route{{Pattern: "/"}},
	})
	r := do(t, tr, "GET", "/", "192.0.2.1:1", nil)
	wantCode(t, "request 1", r, http.StatusOK)
	wantHeader(t, "request 1", r, reply.HeaderRateLimit, `"legacy";r=1;t=40`)
	wantHeader(t, "request 1", r, reply.HeaderXRateLimitLimit, "2")
	wantHeader(t, "request 1", r, reply.HeaderXRateLimitRemain, "1")
	wantHeader(t, "request 1", r, reply.HeaderXRateLimitReset, "40")
	do(t, tr, "GET", "/", "192.0.2.1:1", nil)
	r = do(t, tr, "GET", "/", "192.0.2.1:1", nil)
	wantCode(t, "request 3", r, http.StatusTooManyRequests)
	wantHeader(t, "request 3", r, reply.HeaderXRateLimitRemain, "0")
	wantHeader(t, "request 3", r, reply.HeaderRetryAfter, "40")
}

func testTrustedProxy(t *testing.T, h Harness) {
	key, err := core.KeyByIPBehindProxies(core.ProxyConfig{Trusted: []string{"10.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	tr := h.New(t, Setup{
		Global: Guard{Limiter: newLimiter(t, core.Config{Key: key, Rules: []core.Rule{{Policy: core.NewFixedWindow("ip", 1, time.Hour)}}})},
		Routes: []Route{{Pattern: "/"}},
	})
	xff := func(v string) map[string]string { return map[string]string{"X-Forwarded-For": v} }
	// An attacker connecting directly rotates X-Forwarded-For: still one key, its address.
	wantCode(t, "untrusted peer, first", do(t, tr, "GET", "/", "198.51.100.9:5000", xff("1.1.1.1")), http.StatusOK)
	wantCode(t, "untrusted peer with a forged X-Forwarded-For", do(t, tr, "GET", "/", "198.51.100.9:5001", xff("2.2.2.2")), http.StatusTooManyRequests)
	// Behind the trusted proxy, the right-most untrusted hop is the client; forged left-most
	// hops do not matter.
	wantCode(t, "via proxy, first", do(t, tr, "GET", "/", "10.0.0.2:443", xff("6.6.6.6, 203.0.113.5, 10.1.1.1")), http.StatusOK)
	wantCode(t, "via proxy, forged left-most hop", do(t, tr, "GET", "/", "10.0.0.2:443", xff("7.7.7.7, 203.0.113.5, 10.1.1.1")), http.StatusTooManyRequests)
	// Another client behind the same proxy has its own allowance.
	wantCode(t, "via proxy, another client", do(t, tr, "GET", "/", "10.0.0.2:443", xff("203.0.113.6")), http.StatusOK)
	// The proxy's own address is not the key.
	wantCode(t, "the proxy's address is not used as the key", do(t, tr, "GET", "/", "10.0.0.3:443", xff("203.0.113.7")), http.StatusOK)
}

func testPerRoute(t *testing.T, h Harness) {
	var mu sync.Mutex
	var seen []string
	byRoute := core.KeyByRoute()
	recordRoute := func(r core.Request) (string, error) {
		mu.Lock()
		seen = append(seen, r.Route())
		mu.Unlock()
		return byRoute(r)
	}
	items := newLimiter(t, core.Config{Key: recordRoute, Rules: []core.Rule{{Policy: core.NewFixedWindow("items", 2, time.Hour)}}})
	users := newLimiter(t, core.Config{Key: core.KeyByRoute(), Rules: []core.Rule{{Policy: core.NewFixedWindow("users", 1, time.Hour)}}})
	tr := h.New(t, Setup{Routes: []Route{
		{Pattern: "/items/{id}", Guard: Guard{Limiter: items}},
		{Pattern: "/users/{id}", Guard: Guard{Limiter: users}},
		{Pattern: "/free"},
	}})
	// Different clients and different items: one key, the route pattern.
	wantCode(t, "items/1", do(t, tr, "GET", "/items/1", "192.0.2.1:1", nil), http.StatusOK)
	wantCode(t, "items/2", do(t, tr, "GET", "/items/2", "192.0.2.2:1", nil), http.StatusOK)
	r := do(t, tr, "GET", "/items/3", "192.0.2.3:1", nil)
	wantCode(t, "items/3, a third request under one route pattern", r, http.StatusTooManyRequests)
	wantHeader(t, "items/3", r, reply.HeaderRateLimitPolicy, `"items";q=2;w=3600`)
	// The other route's limit is its own.
	r = do(t, tr, "GET", "/users/1", "192.0.2.1:1", nil)
	wantCode(t, "users/1 after items is spent", r, http.StatusOK)
	wantHeader(t, "users/1", r, reply.HeaderRateLimitPolicy, `"users";q=1;w=3600`)
	wantCode(t, "users/2", do(t, tr, "GET", "/users/2", "192.0.2.1:1", nil), http.StatusTooManyRequests)
	r = do(t, tr, "GET", "/free", "192.0.2.1:1", nil)
	wantCode(t, "a route without a limiter", r, http.StatusOK)
	wantHeader(t, "a route without a limiter", r, reply.HeaderRateLimit, "")
	mu.Lock()
	defer mu.Unlock()
	want := h.Route("/items/{id}")
	if len(seen) != 3 {
		t.Fatalf("the items key function ran %d times, want 3", len(seen))
	}
	for _, got := range seen {
		if got != want {
			t.Fatalf("core.Request.Route() = %q inside the route, want %q", got, want)
		}
	}
}

func testSkip(t *testing.T, h Harness) {
	l := newLimiter(t, core.Config{Rules: []core.Rule{{Policy: core.NewFixedWindow("skip", 1, time.Hour)}}})
	tr := h.New(t, Setup{
		Global: Guard{Limiter: l, Skip: func(method, path string) bool { return path == "/healthz" }},
		Routes: []Route{{Pattern: "/healthz"}, {Pattern: "/"}},
	})
	for i := 0; i < 3; i++ {
		r := do(t, tr, "GET", "/healthz", "192.0.2.1:1", nil)
		wantCode(t, "skipped request", r, http.StatusOK)
		wantHeader(t, "skipped request", r, reply.HeaderRateLimit, "")
	}
	wantCode(t, "first limited request", do(t, tr, "GET", "/", "192.0.2.1:1", nil), http.StatusOK)
	wantCode(t, "second limited request", do(t, tr, "GET", "/", "192.0.2.1:1", nil), http.StatusTooManyRequests)
	wantCode(t, "skipped request after the limit", do(t, tr, "GET", "/healthz", "192.0.2.1:1", nil), http.StatusOK)
}

func testKeyErrors(t *testing.T, h Harness) {
	var runs atomic.Int64
	failing := func(core.Request) (string, error) {
		return "", errors.New("adaptertest: tenant lookup failed at " + secret)
	}
	api := func() *core.Limiter {
		return newLimiter(t, core.Config{Key: core.KeyByHeader("X-API-Key"), Rules: []core.Rule{{Policy: core.NewFixedWindow("api", 5, time.Hour)}}})
	}
	tr := h.New(t, Setup{Routes: []Route{
		{Pattern: "/v401", Guard: Guard{Limiter: api(), MissingKeyStatus: http.StatusUnauthorized}, Work: counter(&runs)},
		{Pattern: "/v400", Guard: Guard{Limiter: api()}, Work: counter(&runs)},
		{Pattern: "/failing", Guard: Guard{
			Limiter:          newLimiter(t, core.Config{Key: failing, Rules: []core.Rule{{Policy: core.NewFixedWindow("f", 5, time.Hour)}}}),
			MissingKeyStatus: http.StatusUnauthorized,
		}, Work: counter(&runs)},
		{Pattern: "/conc", Guard: Guard{
			Concurrency: newConcurrency(t, core.ConcurrencyConfig{Policy: core.NewConcurrency("c", 1, time.Minute), Config: core.Config{Key: core.KeyByHeader("X-API-Key")}}),
		}, Work: counter(&runs)},
	}})
	r := do(t, tr, "GET", "/v401", "192.0.2.1:1", nil)
	wantCode(t, "missing key, MissingKeyStatus 401", r, http.StatusUnauthorized)
	wantProblem(t, "missing key, MissingKeyStatus 401", r, http.StatusUnauthorized)
	if strings.Contains(r.body, "X-API-Key") {
		t.Fatalf("the key function's error text reached the client: %q", r.body)
	}
	r = do(t, tr, "GET", "/v400", "192.0.2.1:1", nil)
	wantCode(t, "missing key, default status", r, http.StatusBadRequest)
	wantProblem(t, "missing key, default status", r, http.StatusBadRequest)
	r = do(t, tr, "GET", "/failing", "192.0.2.1:1", nil)
	wantCode(t, "failing key function", r, http.StatusUnauthorized)
	wantProblem(t, "failing key function", r, http.StatusUnauthorized)
	r = do(t, tr, "GET", "/conc", "192.0.2.1:1", nil)
	wantCode(t, "concurrency, missing key", r, http.StatusBadRequest)
	wantProblem(t, "concurrency, missing key", r, http.StatusBadRequest)
	long := map[string]string{"X-API-Key": strings.Repeat("k", core.DefaultMaxKeyLen+1)}
	r = do(t, tr, "GET", "/v401", "192.0.2.1:1", long)
	wantCode(t, "over-long key", r, http.StatusBadRequest)
	wantProblem(t, "over-long key", r, http.StatusBadRequest)
	if n := runs.Load(); n != 0 {
		t.Fatalf("the handler ran %d times for requests without a valid key", n)
	}
	wantCode(t, "with a key", do(t, tr, "GET", "/v401", "192.0.2.1:1", map[string]string{"X-API-Key": "k1"}), http.StatusOK)
}

func testStoreFailure(t *testing.T, h Harness) {
	p := core.NewFixedWindow("fp", 1, time.Hour)
	cp := core.NewConcurrency("cfp", 1, time.Minute)
	for _, c := range []struct {
		failure core.FailurePolicy
		want    []int
		headers bool // RateLimit fields expected (a decision was made)
	}{
		{core.FailOpen, []int{200, 200}, false},
		{core.FailClosed, []int{503, 503}, false},
		{core.FailFallback, []int{200, 429}, true},
	} {
		t.Run(c.failure.String(), func(t *testing.T) {
			l := newLimiter(t, core.Config{Store: brokenStore{}, Failure: c.failure, Fallback: memstore.New(), Rules: []core.Rule{{Policy: p}}})
			cc := core.ConcurrencyConfig{Store: brokenStore{}, Policy: cp, Config: core.Config{Failure: c.failure}}
			if c.failure == core.FailFallback {
				cc.Fallback = memstore.New()
			}
			tr := h.New(t, Setup{Routes: []Route{
				{Pattern: "/rate", Guard: Guard{Limiter: l}},
				{Pattern: "/conc", Guard: Guard{Concurrency: newConcurrency(t, cc)}},
			}})
			for i, want := range c.want {
				what := c.failure.String() + ", rate request " + strconv.Itoa(i+1)
				r := do(t, tr, "GET", "/rate", "192.0.2.1:1", nil)
				wantCode(t, what, r, want)
				switch {
				case want == http.StatusServiceUnavailable:
					wantProblem(t, what, r, want)
				case want == http.StatusTooManyRequests:
					wantProblem(t, what, r, want, "fp")
				}
				if c.headers {
					wantHeader(t, what, r, reply.HeaderRateLimitPolicy, `"fp";q=1;w=3600`)
				} else {
					wantHeader(t, what, r, reply.HeaderRateLimit, "")
				}
				if strings.Contains(r.body, secret) {
					t.Fatalf("%s: store error text reached the client: %q", what, r.body)
				}
			}
			// Concurrency: each request ends before the next, so the fallback slot is free
			// again and only fail-closed refuses.
			wantConc := http.StatusOK
			if c.failure == core.FailClosed {
				wantConc = http.StatusServiceUnavailable
			}
			for i := 0; i < 2; i++ {
				what := c.failure.String() + ", concurrency request " + strconv.Itoa(i+1)
				r := do(t, tr, "GET", "/conc", "192.0.2.1:1", nil)
				wantCode(t, what, r, wantConc)
				if wantConc != http.StatusOK {
					wantProblem(t, what, r, wantConc)
				}
			}
		})
	}
}

// gate is a slow handler: each run says it entered, then waits for release.
type gate struct {
	entered chan struct{}
	release chan struct{}
}

func newGate() *gate { return &gate{entered: make(chan struct{}, 64), release: make(chan struct{})} }

func (g *gate) work() {
	g.entered <- struct{}{}
	<-g.release
}

// wait waits for n handlers to enter, failing after a generous bound instead of hanging.
func (g *gate) wait(t *testing.T, n int) {
	t.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for i := 0; i < n; i++ {
		select {
		case <-g.entered:
		case <-timeout.C:
			t.Fatalf("%d of %d slow handlers entered after 10s", i, n)
		}
	}
}

// async serves requests in the background; results come out of the returned channel.
func async(tr Transport, path, remote string, n int) <-chan response {
	out := make(chan response, n)
	for i := 0; i < n; i++ {
		go func() {
			r, err := send(tr, "GET", path, remote, nil)
			if err != nil {
				r = response{code: -1, body: err.Error()}
			}
			out <- r
		}()
	}
	return out
}

func testConcurrency(t *testing.T, h Harness) {
	g := newGate()
	c := newConcurrency(t, core.ConcurrencyConfig{Policy: core.NewConcurrency("slow", 2, time.Minute), Config: core.Config{Now: clock}})
	tr := h.New(t, Setup{
		Global: Guard{Concurrency: c},
		Routes: []Route{{Pattern: "/slow", Work: g.work}, {Pattern: "/fast"}},
	})
	const client = "192.0.2.1:1"
	running := async(tr, "/slow", client, 2)
	g.wait(t, 2)
	r := do(t, tr, "GET", "/fast", client, nil)
	wantCode(t, "third concurrent request", r, http.StatusTooManyRequests)
	wantHeader(t, "third concurrent request", r, reply.HeaderRateLimitPolicy, `"slow";q=2;qu="concurrent-requests"`)
	wantHeader(t, "third concurrent request", r, reply.HeaderRateLimit, `"slow";r=0`)
	wantHeader(t, "third concurrent request", r, reply.HeaderRetryAfter, "1")
	wantProblem(t, "third concurrent request", r, http.StatusTooManyRequests, "slow")
	// Another key is not affected.
	wantCode(t, "another client", do(t, tr, "GET", "/fast", "192.0.2.2:1", nil), http.StatusOK)
	close(g.release)
	var remaining []string
	for i := 0; i < 2; i++ {
		r := <-running
		wantCode(t, "slow request", r, http.StatusOK)
		wantHeader(t, "slow request", r, reply.HeaderRateLimitPolicy, `"slow";q=2;qu="concurrent-requests"`)
		remaining = append(remaining, r.get(reply.HeaderRateLimit))
	}
	slices.Sort(remaining)
	if want := []string{`"slow";r=0`, `"slow";r=1`}; !slices.Equal(remaining, want) {
		t.Fatalf("RateLimit of the two slow requests %q, want %q", remaining, want)
	}
	// Both slots were released when the handlers returned.
	for i := 0; i < 3; i++ {
		r := do(t, tr, "GET", "/fast", client, nil)
		wantCode(t, "after the slow requests", r, http.StatusOK)
		wantHeader(t, "after the slow requests", r, reply.HeaderRateLimit, `"slow";r=1`)
	}
}

func testPanic(t *testing.T, h Harness) {
	store := &signalStore{ConcurrencyStore: memstore.New(), released: make(chan struct{}, 64)}
	c := newConcurrency(t, core.ConcurrencyConfig{Store: store, Policy: core.NewConcurrency("one", 1, time.Hour), Config: core.Config{Now: clock}})
	g := newGate()
	tr := h.New(t, Setup{
		Global: Guard{Concurrency: c},
		Routes: []Route{
			{Pattern: "/panic", Work: func() { panic("adaptertest: handler panic") }},
			{Pattern: "/slow", Work: g.work},
			{Pattern: "/ok"},
		},
	})
	const client = "192.0.2.1:1"
	for i := 0; i < 2; i++ {
		wantCode(t, "panicking handler", do(t, tr, "GET", "/panic", client, nil), http.StatusInternalServerError)
		select {
		case <-store.released:
		default:
			t.Fatal("the panicking request's lease was not released before the response")
		}
	}
	// The slot is free (the lease lives an hour, so only a release can have freed it), and
	// the limit still holds.
	running := async(tr, "/slow", client, 1)
	g.wait(t, 1)
	wantCode(t, "while the slot is held", do(t, tr, "GET", "/ok", client, nil), http.StatusTooManyRequests)
	close(g.release)
	wantCode(t, "slow request after panics", <-running, http.StatusOK)
	wantCode(t, "after the slow request", do(t, tr, "GET", "/ok", client, nil), http.StatusOK)
}

func testLeaseExtended(t *testing.T, h Harness) {
	// A real clock: the adapter extends on a timer, every half lease.
	const lease = 200 * time.Millisecond
	store := &signalStore{ConcurrencyStore: memstore.New(), extended: make(chan struct{}, 64), released: make(chan struct{}, 64)}
	c := newConcurrency(t, core.ConcurrencyConfig{Store: store, Policy: core.NewConcurrency("long", 1, lease)})
	g := newGate()
	tr := h.New(t, Setup{
		Global: Guard{Concurrency: c},
		Routes: []Route{{Pattern: "/slow", Work: g.work}, {Pattern: "/ok"}},
	})
	const client = "192.0.2.1:1"
	running := async(tr, "/slow", client, 1)
	g.wait(t, 1)
	// Three extensions: the request has outlived its first lease by now.
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for i := 0; i < 3; i++ {
		select {
		case <-store.extended:
		case <-timeout.C:
			close(g.release)
			t.Fatalf("the lease was extended %d times in 10s while the handler ran; want an extension every %v", i, lease/2)
		}
	}
	wantCode(t, "while the extended lease is held", do(t, tr, "GET", "/ok", client, nil), http.StatusTooManyRequests)
	close(g.release)
	wantCode(t, "long request", <-running, http.StatusOK)
	select {
	case <-store.released:
	default:
		t.Fatal("the long request's lease was not released before the response")
	}
	wantCode(t, "after the long request", do(t, tr, "GET", "/ok", client, nil), http.StatusOK)
}

// testWaitingAcquire: with the middleware's Wait option, a request that finds every slot held
// waits for one instead of being denied, and gets it when the holder's handler returns; a
// request whose wait runs out is denied as one that did not wait.
func testWaitingAcquire(t *testing.T, h Harness) {
	const client = "192.0.2.1:1"
	poll := func(int) time.Duration { return 5 * time.Millisecond }
	for _, c := range []struct {
		name string
		max  time.Duration
		want int
	}{
		{"a slot freed while it waits", time.Minute, http.StatusOK},
		{"no slot within Max", 50 * time.Millisecond, http.StatusTooManyRequests},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl := newConcurrency(t, core.ConcurrencyConfig{Policy: core.NewConcurrency("wait", 1, time.Hour)})
			g := newGate()
			tr := h.New(t, Setup{
				Global: Guard{Concurrency: cl, Wait: core.Wait{Max: c.max, Delay: poll}},
				Routes: []Route{{Pattern: "/slow", Work: g.work}, {Pattern: "/ok"}},
			})
			holder := async(tr, "/slow", client, 1)
			g.wait(t, 1)
			waiter := async(tr, "/ok", client, 1)
			if c.want == http.StatusTooManyRequests {
				r := <-waiter
				wantCode(t, "request that waited past Max", r, http.StatusTooManyRequests)
				wantProblem(t, "request that waited past Max", r, http.StatusTooManyRequests, "wait")
				close(g.release)
				wantCode(t, "holder", <-holder, http.StatusOK)
				return
			}
			select {
			case r := <-waiter:
				close(g.release)
				t.Fatalf("a request answered %d while the only slot was held; want it to wait", r.code)
			case <-time.After(100 * time.Millisecond):
			}
			close(g.release)
			wantCode(t, "holder", <-holder, http.StatusOK)
			r := <-waiter
			wantCode(t, "request that waited for the slot", r, http.StatusOK)
			wantHeader(t, "request that waited for the slot", r, reply.HeaderRateLimit, `"wait";r=0`)
		})
	}
}
