package nethttp_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/adapters/nethttp"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/reply"
)

// BenchmarkWriteHeaders measures WriteHeaders alone, on an allowed result of one policy and
// of two.
//
//	go test -run '^$' -bench WriteHeaders -benchmem ./adapters/nethttp/
func BenchmarkWriteHeaders(b *testing.B) {
	one := core.Rule{Policy: core.NewFixedWindow("bench", 1<<50, time.Hour)}
	for _, c := range []struct {
		name  string
		rules []core.Rule
	}{
		{"one", []core.Rule{one}},
		{"two", []core.Rule{one, {Policy: core.NewSlidingWindow("burst", 1<<50, time.Minute)}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			res, err := limiter(b, core.Config{Rules: c.rules}).AllowKey(context.Background(), "k", 1)
			if err != nil {
				b.Fatal(err)
			}
			h := http.Header{}
			items := new(reply.PolicyItems)
			b.ReportAllocs()
			for b.Loop() {
				clear(h)
				nethttp.WriteHeaders(h, &res, reply.HeaderOptions{}, items)
			}
		})
	}
}

// TestWriteHeadersKeys: every field reply.Fields renders lands in the http.Header under
// its canonical key (so that Header.Get finds it and a second limiter's values join the
// first's), Retry-After replaces and the others add.
func TestWriteHeadersKeys(t *testing.T) {
	_, res := allowThenDeny(t, "keys")
	h := http.Header{"Retry-After": {"5"}, "Ratelimit": {`"outer";r=3;t=10`}}
	nethttp.WriteHeaders(h, &res, reply.HeaderOptions{Legacy: true}, nil)
	names := []string{reply.HeaderRateLimitPolicy, reply.HeaderRateLimit, reply.HeaderXRateLimitLimit, reply.HeaderXRateLimitRemain, reply.HeaderXRateLimitReset, reply.HeaderRetryAfter}
	if len(h) != len(names) {
		t.Errorf("header has %d fields, want %d: %v", len(h), len(names), h)
	}
	for _, n := range names {
		if h[http.CanonicalHeaderKey(n)] == nil {
			t.Errorf("no %s under %q: %v", n, http.CanonicalHeaderKey(n), h)
		}
	}
	if got := h["Ratelimit"]; len(got) != 2 || got[0] != `"outer";r=3;t=10` || got[1] != `"keys";r=0;t=60` {
		t.Errorf("RateLimit %q; want the outer value, then this limiter's", got)
	}
	if got := h["Retry-After"]; len(got) != 1 || got[0] != "60" {
		t.Errorf("Retry-After %q; want this denial's 60, replacing", got)
	}
}

// TestWriteHeadersAllocs pins WriteHeaders' allocations, which its benchmarks only report:
// none for a single policy's RateLimit-Policy (the slice its PolicyItems keeps) and for the
// field names, one per other field (its value and its one-element slice together), and one
// for RateLimit-Policy too without a PolicyItems.
func TestWriteHeadersAllocs(t *testing.T) {
	allowed, denied := allowThenDeny(t, "allocs")
	h := http.Header{}
	items := new(reply.PolicyItems)
	for _, c := range []struct {
		name  string
		res   *core.Result
		o     reply.HeaderOptions
		items *reply.PolicyItems
		want  float64
	}{
		{"allowed", &allowed, reply.HeaderOptions{}, items, 1},                   // RateLimit
		{"denied, legacy", &denied, reply.HeaderOptions{Legacy: true}, items, 5}, // RateLimit, 3 legacy, Retry-After
		{"allowed, no PolicyItems", &allowed, reply.HeaderOptions{}, nil, 2},     // RateLimit-Policy, RateLimit
	} {
		got := testing.AllocsPerRun(100, func() {
			clear(h)
			nethttp.WriteHeaders(h, c.res, c.o, c.items)
		})
		if got != c.want {
			t.Errorf("%s: %v allocations, want %v", c.name, got, c.want)
		}
	}
}

// allowThenDeny returns the two results of a limit of 1 per minute under policy name, taken
// twice for one key at the start of a minute: allowed, then denied (Retry-After 60).
func allowThenDeny(t *testing.T, name string) (allowed, denied core.Result) {
	t.Helper()
	at := time.Unix(1_800_000_000, 0) // the start of a minute
	l := limiter(t, core.Config{Now: func() time.Time { return at }, Rules: []core.Rule{{Policy: core.NewFixedWindow(name, 1, time.Minute)}}})
	ctx := context.Background()
	allowed, err := l.AllowKey(ctx, "k", 1)
	if err != nil || !allowed.Allowed {
		t.Fatalf("first take: %+v %v; want allowed", allowed, err)
	}
	denied, err = l.AllowKey(ctx, "k", 1)
	if err != nil || denied.Allowed {
		t.Fatalf("second take: %+v %v; want a denial", denied, err)
	}
	return allowed, denied
}
