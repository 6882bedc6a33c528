package nethttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/adapters/nethttp"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/reply"
)

// A RateLimit value longer than the middleware's smallest inline buffers (32 and 48 bytes) is
// written whole: long policy names and large remaining counts make values up to 100 bytes (a
// 64-byte name, 19 digits of r, 9 of t).
func TestLongRateLimitValueWrittenWhole(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		name  string
		limit int64
	}{
		{"short", 3},                                    // 19 bytes
		{"name-of-twenty-chars", 1_000_000},             // 40 bytes
		{strings.Repeat("n", 30), 1_000_000_000_000},    // 55 bytes
		{strings.Repeat("m", core.MaxNameLen), 1 << 62}, // 96 bytes
	} {
		l := limiter(t, core.Config{
			Rules: []core.Rule{{Policy: core.NewFixedWindow(tc.name, tc.limit, 24*time.Hour)}},
			Now:   func() time.Time { return now },
		})
		w := serve(nethttp.RateLimit(l, nethttp.Options{})(ok), "GET", "/", "192.0.2.1:1", nil)
		want := `"` + tc.name + `";r=` + strconv.FormatInt(tc.limit-1, 10) + `;t=` + strconv.FormatInt(int64(24*time.Hour/time.Second)-now.Unix()%86400, 10)
		if got := w.Header().Values("RateLimit"); len(got) != 1 || got[0] != want {
			t.Errorf("%d-byte value: RateLimit = %q, want %q", len(want), got, want)
		}
	}
	// Two policies with the longest names: values of 150 to 200 bytes, past every inline
	// buffer of oneValue, are written whole too.
	long := strings.Repeat("x", core.MaxNameLen-1)
	l := limiter(t, core.Config{Now: func() time.Time { return now }, Rules: []core.Rule{
		{Policy: core.NewFixedWindow(long+"1", 10, time.Minute)},
		{Policy: core.NewFixedWindow(long+"2", 1_000_000_000_000, 24*time.Hour)},
	}})
	w := serve(nethttp.RateLimit(l, nethttp.Options{})(ok), "GET", "/", "192.0.2.1:1", nil)
	for name, want := range map[string]string{
		"RateLimit-Policy": `"` + long + `1";q=10;w=60, "` + long + `2";q=1000000000000;w=86400`,
		"RateLimit":        `"` + long + `1";r=9;t=60, "` + long + `2";r=999999999999;t=` + strconv.FormatInt(86400-now.Unix()%86400, 10),
	} {
		if got := w.Header().Values(name); len(got) != 1 || got[0] != want {
			t.Errorf("%d-byte value: %s = %q, want %q", len(want), name, got, want)
		}
	}
}

// Two policies with one name and different limits (a plan change, or two routes that reuse a
// name) each get their own RateLimit-Policy value.
func TestSameNameDifferentPolicies(t *testing.T) {
	for _, tc := range []struct {
		p    core.Policy
		want string
	}{
		{core.NewFixedWindow("plan-same-name", 3, time.Minute), `"plan-same-name";q=3;w=60`},
		{core.NewFixedWindow("plan-same-name", 5, time.Minute), `"plan-same-name";q=5;w=60`},
		{core.NewFixedWindow("plan-same-name", 5, time.Hour), `"plan-same-name";q=5;w=3600`},
		{core.NewFixedWindow("plan-same-name", 3, time.Minute), `"plan-same-name";q=3;w=60`},
	} {
		for i := range 2 { // the second request reads the cached value
			l := limiter(t, core.Config{Rules: []core.Rule{{Policy: tc.p}}})
			w := serve(nethttp.RateLimit(l, nethttp.Options{})(ok), "GET", "/", "192.0.2.1:1", nil)
			if got := w.Header().Values("RateLimit-Policy"); len(got) != 1 || got[0] != tc.want {
				t.Errorf("request %d: RateLimit-Policy = %q, want %q", i, got, tc.want)
			}
		}
	}
}

// An allowed request with one limit writes RateLimit-Policy from a cached value: serving two
// policies in turn allocates no more than serving one.
func TestPolicyValueCachedForSeveralPolicies(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	mk := func(name string) core.Result {
		l := limiter(t, core.Config{Rules: []core.Rule{{Policy: core.NewFixedWindow(name, 1<<40, time.Hour)}},
			Now: func() time.Time { return now }})
		res, err := l.Allow(context.Background(), nethttp.Request(httptest.NewRequest("GET", "/", nil)))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, b := mk("alloc-a"), mk("alloc-b")
	h := http.Header{}
	items := new(reply.PolicyItems)
	one := testing.AllocsPerRun(50, func() {
		clear(h)
		nethttp.WriteHeaders(h, &a, reply.HeaderOptions{}, items)
		clear(h)
		nethttp.WriteHeaders(h, &a, reply.HeaderOptions{}, items)
	})
	two := testing.AllocsPerRun(50, func() {
		clear(h)
		nethttp.WriteHeaders(h, &a, reply.HeaderOptions{}, items)
		clear(h)
		nethttp.WriteHeaders(h, &b, reply.HeaderOptions{}, items)
	})
	if two > one {
		t.Errorf("two policies in turn: %v allocations per pair of requests, one policy: %v", two, one)
	}
}

// fixedStore answers every Take with its decision, under the policy asked for.
type fixedStore struct{ d core.Decision }

func (s fixedStore) Take(_ context.Context, _ string, p core.Policy, _ int64, _ time.Time) (core.Decision, error) {
	d := s.d
	d.Policy, d.Limit = p, p.Limit
	return d, nil
}

// A denial that names no retry time (a store's denial with RetryAfter 0) gets no Retry-After:
// there is no delay to promise.
func TestDenialWithoutRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits []core.Rule
		ra     time.Duration
		want   string
	}{
		{"one limit, no retry time", []core.Rule{{Policy: core.NewFixedWindow("ra0", 1, time.Minute)}}, 0, ""},
		{"one limit, 1 ns", []core.Rule{{Policy: core.NewFixedWindow("ra1", 1, time.Minute)}}, 1, "1"},
		{"two limits, no retry time", []core.Rule{{Policy: core.NewFixedWindow("ra2a", 1, time.Minute)},
			{Policy: core.NewFixedWindow("ra2b", 1, time.Hour)}}, 0, ""},
	} {
		l := limiter(t, core.Config{Store: fixedStore{core.Decision{RetryAfter: tc.ra}}, Rules: tc.limits})
		w := serve(nethttp.RateLimit(l, nethttp.Options{})(ok), "GET", "/", "192.0.2.1:1", nil)
		if w.Code != http.StatusTooManyRequests {
			t.Fatalf("%s: status %d, want 429", tc.name, w.Code)
		}
		if got := w.Header().Values("Retry-After"); strings.Join(got, ",") != tc.want {
			t.Errorf("%s: Retry-After = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// Stacked limiters with two limits each (the general header path): every limiter adds its
// RateLimit and RateLimit-Policy field lines, and Retry-After is set once, by the one that
// denied, replacing any value an outer layer left.
func TestStackedMultiLimitHeaders(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	outer := limiter(t, core.Config{Now: func() time.Time { return now }, Rules: []core.Rule{
		{Policy: core.NewFixedWindow("outer-min", 10, time.Minute)},
		{Policy: core.NewFixedWindow("outer-hour", 100, time.Hour)},
	}})
	inner := limiter(t, core.Config{Now: func() time.Time { return now }, Rules: []core.Rule{
		{Policy: core.NewFixedWindow("inner-min", 1, time.Minute)},
		{Policy: core.NewFixedWindow("inner-hour", 100, time.Hour)},
	}})
	stale := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "999") // left by an outer layer
		nethttp.RateLimit(inner, nethttp.Options{})(ok).ServeHTTP(w, r)
	})
	h := nethttp.RateLimit(outer, nethttp.Options{})(stale)
	serve(h, "GET", "/", "192.0.2.1:1", nil)
	w := serve(h, "GET", "/", "192.0.2.1:1", nil)
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429 from the inner limiter", w.Code)
	}
	wantValues := func(name string, want ...string) {
		t.Helper()
		if got := w.Header().Values(name); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	wantValues("RateLimit-Policy", `"outer-min";q=10;w=60, "outer-hour";q=100;w=3600`,
		`"inner-min";q=1;w=60, "inner-hour";q=100;w=3600`)
	wantValues("RateLimit", `"outer-min";r=8;t=60, "outer-hour";r=98;t=3600`,
		`"inner-min";r=0;t=60`) // the denial ends the inner evaluation: its hour limit is pending
	wantValues("Retry-After", "60")
}
