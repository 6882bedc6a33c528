package reply_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/core/reply"
)

// setHeaders lists the fields reply.Fields renders, in order, one line each ("replace"
// marks Retry-After's), so that a field rendered twice shows.
func setHeaders(res *core.Result, o reply.HeaderOptions) string {
	var f reply.Fields
	f.Render(res, o, nil)
	lines := make([]string, f.Len())
	for i := range lines {
		name, value, replace := f.Field(i)
		lines[i] = name + ": " + string(value)
		if replace != (name == reply.HeaderRetryAfter) {
			lines[i] += fmt.Sprintf(" (replace %v)", replace)
		}
		if vs := f.Values(i); vs != nil && (len(vs) != 1 || vs[0] != string(value) || cap(vs) != 1) {
			lines[i] += fmt.Sprintf(" (shared values %q, cap %d)", vs, cap(vs))
		}
	}
	return strings.Join(lines, "\n")
}

// TestFields pins the exact fields, in order, each set once, for the shapes of result a
// limiter returns.
func TestFields(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(1500 * time.Millisecond)
	long := strings.Repeat("x", core.MaxNameLen-1)
	lines := func(l ...string) string { return strings.Join(l, "\n") }
	cases := []struct {
		name   string
		limits []core.Rule
		costs  []int64 // one AllowKey per cost; the last result's headers are checked
		o      reply.HeaderOptions
		want   string
	}{
		{
			// Four 64-byte names make a RateLimit value over the 128-byte inline buffer.
			name: "RateLimit longer than the inline buffer",
			limits: []core.Rule{
				{Policy: core.NewFixedWindow(long+"1", 10, 10*time.Second)},
				{Policy: core.NewFixedWindow(long+"2", 20, time.Minute)},
				{Policy: core.NewSlidingWindow(long+"3", 30, time.Hour)},
				{Policy: core.NewTokenBucket(long+"4", 40, time.Hour, 0)},
			},
			costs: []int64{1},
			want: lines(
				`RateLimit-Policy: "`+long+`1";q=10;w=10, "`+long+`2";q=20;w=60, "`+long+`3";q=30;w=3600, "`+long+`4";q=40;w=3600`,
				`RateLimit: "`+long+`1";r=9;t=9, "`+long+`2";r=19;t=59, "`+long+`3";r=29;t=3599, "`+long+`4";r=39;t=90`,
			),
		},
		{
			name:   "one limit",
			limits: []core.Rule{{Policy: core.NewFixedWindow("one", 3, 10*time.Second)}},
			costs:  []int64{1},
			want:   lines(`RateLimit-Policy: "one";q=3;w=10`, `RateLimit: "one";r=2;t=9`),
		},
		{
			name:   "one limit denied: Retry-After set once",
			limits: []core.Rule{{Policy: core.NewFixedWindow("one", 1, 10*time.Second)}},
			costs:  []int64{1, 1},
			want:   lines(`RateLimit-Policy: "one";q=1;w=10`, `RateLimit: "one";r=0;t=9`, `Retry-After: 9`),
		},
		{
			name: "denied by the first: the second is pending, listed in RateLimit-Policy only",
			limits: []core.Rule{
				{Policy: core.NewFixedWindow("first", 1, 10*time.Second)},
				{Policy: core.NewFixedWindow("second", 5, time.Minute)},
				{Policy: core.NewMonthlyQuota("third", 100)},
			},
			costs: []int64{1, 1},
			want: lines(
				`RateLimit-Policy: "first";q=1;w=10, "second";q=5;w=60, "third";q=100`,
				`RateLimit: "first";r=0;t=9`,
				`Retry-After: 9`,
			),
		},
		{
			name: "Omit: Retry-After only",
			limits: []core.Rule{
				{Policy: core.NewFixedWindow("first", 1, 10*time.Second)},
				{Policy: core.NewFixedWindow("second", 5, time.Minute)},
			},
			costs: []int64{1, 1},
			o:     reply.HeaderOptions{Omit: true, Legacy: true},
			want:  `Retry-After: 9`,
		},
		{
			name: "Omit on an allowed result: nothing",
			limits: []core.Rule{
				{Policy: core.NewFixedWindow("first", 1, 10*time.Second)},
			},
			costs: []int64{1},
			o:     reply.HeaderOptions{Omit: true},
			want:  ``,
		},
		{
			// Two limits with 4 remaining each: the first in the limiter's order binds, and
			// the legacy fields are its numbers (reset 9 s), not the second's (59 s).
			name: "legacy fields when two limits tie",
			limits: []core.Rule{
				{Policy: core.NewFixedWindow("short", 5, 10*time.Second)},
				{Policy: core.NewFixedWindow("long", 5, time.Minute)},
			},
			costs: []int64{1},
			o:     reply.HeaderOptions{Legacy: true},
			want: lines(
				`RateLimit-Policy: "short";q=5;w=10, "long";q=5;w=60`,
				`RateLimit: "short";r=4;t=9, "long";r=4;t=59`,
				`X-RateLimit-Limit: 5`,
				`X-RateLimit-Remaining: 4`,
				`X-RateLimit-Reset: 9`,
			),
		},
		{
			name: "legacy fields tie, the later limit less remaining",
			limits: []core.Rule{
				{Policy: core.NewFixedWindow("short", 5, 10*time.Second)},
				{Policy: core.NewFixedWindow("long", 5, time.Minute)},
				{Policy: core.NewFixedWindow("least", 3, time.Hour)},
			},
			costs: []int64{1},
			o:     reply.HeaderOptions{Legacy: true},
			want: lines(
				`RateLimit-Policy: "short";q=5;w=10, "long";q=5;w=60, "least";q=3;w=3600`,
				`RateLimit: "short";r=4;t=9, "long";r=4;t=59, "least";r=2;t=3599`,
				`X-RateLimit-Limit: 3`,
				`X-RateLimit-Remaining: 2`,
				`X-RateLimit-Reset: 3599`,
			),
		},
		{
			// The denial binds even when an allowed decision has less remaining; its reset is
			// its retry time.
			name: "legacy fields of the denial",
			limits: []core.Rule{
				{Policy: core.NewFixedWindow("wide", 6, 10*time.Second)},
				{Policy: core.NewFixedWindow("narrow", 5, time.Minute)},
			},
			costs: []int64{3, 3},
			o:     reply.HeaderOptions{Legacy: true},
			want: lines(
				`RateLimit-Policy: "wide";q=6;w=10, "narrow";q=5;w=60`,
				`RateLimit: "wide";r=0;t=9, "narrow";r=2;t=59`,
				`X-RateLimit-Limit: 5`,
				`X-RateLimit-Remaining: 2`,
				`X-RateLimit-Reset: 59`,
				`Retry-After: 59`,
			),
		},
		{
			// A shadow denial is reported in the fields but sets no Retry-After, and its
			// longer retry time does not lengthen the enforced one.
			name: "shadow denial beside an enforced one",
			limits: []core.Rule{
				{Policy: core.NewFixedWindow("watch", 1, time.Hour), Shadow: true},
				{Policy: core.NewFixedWindow("enforce", 1, 10*time.Second)},
			},
			costs: []int64{1, 1},
			want: lines(
				`RateLimit-Policy: "watch";q=1;w=3600, "enforce";q=1;w=10`,
				`RateLimit: "watch";r=0;t=3599, "enforce";r=0;t=9`,
				`Retry-After: 9`,
			),
		},
		{
			name:   "shadow denial alone: no Retry-After",
			limits: []core.Rule{{Policy: core.NewFixedWindow("watch", 1, time.Hour), Shadow: true}},
			costs:  []int64{1, 1},
			want:   lines(`RateLimit-Policy: "watch";q=1;w=3600`, `RateLimit: "watch";r=0;t=3599`),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newLimiter(t, core.Config{Store: memstore.New(), Now: constantClock(now), Rules: c.limits})
			var res core.Result
			for _, cost := range c.costs {
				var err error
				if res, err = l.AllowKey(ctx, "k", cost); err != nil {
					t.Fatal(err)
				}
			}
			if got := setHeaders(&res, c.o); got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
			if got := string(reply.AppendRateLimitPolicy([]byte("x"), &res)); c.want != "" && c.o == (reply.HeaderOptions{}) && !strings.HasPrefix(c.want, "RateLimit-Policy: "+got[1:]+"\n") {
				t.Errorf("AppendRateLimitPolicy: %q, not the RateLimit-Policy field after the prefix", got)
			}
		})
	}
}

// TestFieldsDegraded: a fail-open result gets no RateLimit fields (the store did not
// answer), a fallback store's decision does.
func TestFieldsDegraded(t *testing.T) {
	ctx := context.Background()
	s := failingStore{}
	p := []core.Rule{{Policy: core.NewFixedWindow("p", 2, 10*time.Second)}}
	open := newLimiter(t, core.Config{Store: s, Now: constantClock(t0), Rules: p, Breaker: core.BreakerConfig{Failures: -1}})
	res, err := open.AllowKey(ctx, "k", 1)
	if err != nil || !res.Allowed || res.Degraded != core.DegradedOpen {
		t.Fatalf("fail-open: %+v %v", res, err)
	}
	if got := setHeaders(&res, reply.HeaderOptions{Legacy: true}); got != "" {
		t.Errorf("fail-open result: headers\n%s\nwant none", got)
	}
	fb := newLimiter(t, core.Config{Store: s, Now: constantClock(t0), Rules: p, Failure: core.FailFallback, Fallback: memstore.New(), Breaker: core.BreakerConfig{Failures: -1}})
	res, err = fb.AllowKey(ctx, "k", 1)
	if err != nil || !res.Allowed || res.Degraded != core.DegradedFallback {
		t.Fatalf("fallback: %+v %v", res, err)
	}
	if got := setHeaders(&res, reply.HeaderOptions{}); !strings.HasPrefix(got, `RateLimit-Policy: "p";q=`) || !strings.Contains(got, "\nRateLimit: \"p\";r=") {
		t.Errorf("fallback result: headers\n%s\nwant RateLimit fields", got)
	}
}

// TestPolicyHeaderSameName: two policies with one name and different numbers each get their
// own RateLimit-Policy item (the rendering cache is keyed by the whole policy).
func TestPolicyHeaderSameName(t *testing.T) {
	cases := []struct {
		p    core.Policy
		want string
	}{
		{core.NewFixedWindow("api", 10, time.Minute), `"api";q=10;w=60`},
		{core.NewFixedWindow("api", 20, time.Minute), `"api";q=20;w=60`},
		{core.NewFixedWindow("api", 10, time.Hour), `"api";q=10;w=3600`},
		{core.NewFixedWindow("api", 10, 1500*time.Millisecond), `"api";q=10;w=2`},
		{core.NewSlidingWindow("api", 10, time.Minute), `"api";q=10;w=60`},
		{core.NewTokenBucket("api", 10, time.Minute, 0), `"api";q=10;w=60`},
		{core.NewTokenBucket("api", 5, time.Second, 20), `"api";q=20;w=4`},
		{core.NewTokenBucket("api", 3, time.Second, 1), `"api";q=1;w=1`},
		{core.NewTokenBucket("api", 3, 10*time.Second, 2), `"api";q=2;w=7`},
		{core.NewConcurrency("api", 10, time.Minute), `"api";q=10;qu="concurrent-requests"`},
		{core.NewMonthlyQuota("api", 10), `"api";q=10`},
	}
	for round := 0; round < 2; round++ { // the second round reads the cache
		for _, c := range cases {
			if got := reply.PolicyItem(c.p); got != c.want {
				t.Errorf("round %d: PolicyItem(%+v) = %q, want %q", round, c.p, got, c.want)
			}
		}
	}
	// Two limiters whose limits share a name but not their numbers.
	ctx := context.Background()
	for _, c := range cases[:3] {
		l := newLimiter(t, core.Config{Store: memstore.New(), Now: constantClock(t0), Rules: []core.Rule{{Policy: c.p}}})
		res, _ := l.AllowKey(ctx, "k", 1)
		if got := setHeaders(&res, reply.HeaderOptions{}); !strings.HasPrefix(got, "RateLimit-Policy: "+c.want+"\n") {
			t.Errorf("limiter of %+v: headers\n%s\nwant RateLimit-Policy %s", c.p, got, c.want)
		}
	}
}

// TestAppendRateLimit pins the RateLimit item of each algorithm, allowed and denied: t is the
// reset when allowed and the retry time when denied, and concurrency has no t.
func TestAppendRateLimit(t *testing.T) {
	ctx := context.Background()
	l := newLimiter(t, core.Config{Store: memstore.New(), Now: constantClock(t0.Add(1500 * time.Millisecond)), Rules: []core.Rule{
		{Policy: core.NewTokenBucket("tb", 2, 10*time.Second, 4)},
	}})
	res, _ := l.AllowKey(ctx, "k", 4)
	if got := string(reply.AppendRateLimit([]byte("x"), &res)); got != `x"tb";r=0;t=20` {
		t.Errorf("allowed token bucket: %q", got)
	}
	res, _ = l.AllowKey(ctx, "k", 2)
	if got := string(reply.AppendRateLimit(nil, &res)); got != `"tb";r=0;t=10` {
		t.Errorf("denied token bucket (t is the retry time, 10 s, not the 20 s reset): %q", got)
	}
	if got := setHeaders(&res, reply.HeaderOptions{Legacy: true}); !strings.Contains(got, "X-RateLimit-Reset: 10\n") || !strings.HasSuffix(got, "Retry-After: 10") {
		t.Errorf("denied token bucket headers:\n%s", got)
	}

	cl, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{Store: memstore.New(), Policy: core.NewConcurrency("c", 2, time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	_, cres, err := cl.AcquireKeyAt(ctx, "k", t0)
	if err != nil {
		t.Fatal(err)
	}
	got := setHeaders(&cres, reply.HeaderOptions{Legacy: true})
	want := "RateLimit-Policy: \"c\";q=2;qu=\"concurrent-requests\"\nRateLimit: \"c\";r=1\nX-RateLimit-Limit: 2\nX-RateLimit-Remaining: 1\nX-RateLimit-Reset: 0"
	if got != want {
		t.Errorf("concurrency headers:\n%s\nwant\n%s", got, want)
	}
}

func TestSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int64{
		-time.Second:               0,
		0:                          0,
		1:                          1,
		time.Second - 1:            1,
		time.Second:                1,
		time.Second + 1:            2,
		90 * time.Second:           90,
		90*time.Second + 1:         91,
		time.Duration(1<<63 - 1e9): (1<<63-1_000_000_000)/1_000_000_000 + 1,
		time.Duration(1<<63 - 1):   1<<63/1_000_000_000 + 1,
		time.Duration(-1 << 63):    0,
	} {
		if got := reply.Seconds(d); got != want {
			t.Errorf("Seconds(%v) = %d, want %d", d, got, want)
		}
	}
}

// TestFieldsEmptyResult: a result with no decisions (the request failed before any limit
// decided) gets no rate-limit fields at all.
func TestFieldsEmptyResult(t *testing.T) {
	for _, o := range []reply.HeaderOptions{{}, {Legacy: true}} {
		if got := setHeaders(&core.Result{}, o); got != "" {
			t.Errorf("%+v: %q, want no fields", o, got)
		}
	}
	l := newLimiter(t, core.Config{Store: memstore.New(), Rules: []core.Rule{{Policy: core.NewFixedWindow("p", 1, time.Second), Key: core.KeyByHeader("X-Key")}}})
	res, err := l.Allow(context.Background(), req("203.0.113.9:1"))
	if !errors.Is(err, core.ErrMissingKey) {
		t.Fatalf("no X-Key: %v", err)
	}
	if got := setHeaders(&res, reply.HeaderOptions{Legacy: true}); got != "" {
		t.Errorf("result of a request without a key: %q, want no fields", got)
	}
}

// TestFieldsReuse renders into one Fields a result whose values overflow the inline buffer
// (four policies with the longest names, legacy fields after them), a single-policy denial,
// and two policies whose RateLimit-Policy fits the buffer and whose RateLimit does not fit
// what is left: each render equals a fresh one, whatever the previous left behind, and only a
// single policy's RateLimit-Policy comes with shared values.
func TestFieldsReuse(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(1500 * time.Millisecond)
	long := strings.Repeat("y", core.MaxNameLen-1)
	big := newLimiter(t, core.Config{Store: memstore.New(), Now: constantClock(now), Rules: []core.Rule{
		{Policy: core.NewFixedWindow(long+"1", 10, 10*time.Second)},
		{Policy: core.NewFixedWindow(long+"2", 20, time.Minute)},
		{Policy: core.NewSlidingWindow(long+"3", 30, time.Hour)},
		{Policy: core.NewTokenBucket(long+"4", 40, time.Hour, 0)},
	}})
	small := newLimiter(t, core.Config{Store: memstore.New(), Now: constantClock(now), Rules: []core.Rule{
		{Policy: core.NewFixedWindow("small", 1, time.Minute)},
	}})
	bigRes, err := big.AllowKey(ctx, "k", 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := small.AllowKey(ctx, "k", 1); err != nil {
		t.Fatal(err)
	}
	smallRes, err := small.AllowKey(ctx, "k", 1)
	if err != nil || smallRes.Allowed {
		t.Fatalf("second take: %+v %v; want a denial", smallRes, err)
	}
	// Two 40-byte names: RateLimit-Policy fits the inline buffer, RateLimit does not fit
	// what is left of it and goes to the spill.
	mid := strings.Repeat("z", 40)
	two := newLimiter(t, core.Config{Store: memstore.New(), Now: constantClock(now), Rules: []core.Rule{
		{Policy: core.NewFixedWindow(mid+"1", 10, 10*time.Second)},
		{Policy: core.NewSlidingWindow(mid+"2", 20, time.Hour)},
	}})
	twoRes, err := two.AllowKey(ctx, "k", 1)
	if err != nil {
		t.Fatal(err)
	}
	legacy := reply.HeaderOptions{Legacy: true}
	var f reply.Fields
	var items reply.PolicyItems
	for _, step := range []struct {
		res    *core.Result
		want   string
		shared bool
	}{
		{&bigRes, setHeaders(&bigRes, legacy), false},
		{&smallRes, setHeaders(&smallRes, legacy), true},
		{&twoRes, setHeaders(&twoRes, legacy), false},
		{&bigRes, setHeaders(&bigRes, legacy), false},
	} {
		f.Render(step.res, legacy, &items)
		lines := make([]string, f.Len())
		for i := range lines {
			name, value, _ := f.Field(i)
			lines[i] = name + ": " + string(value)
			if vs := f.Values(i); (vs != nil) != (step.shared && i == 0) {
				t.Errorf("field %d (%s): shared values %q", i, name, vs)
			}
		}
		if got := strings.Join(lines, "\n"); got != step.want {
			t.Errorf("reused Fields rendered\n%s\nwant\n%s", got, step.want)
		}
	}
	if !strings.Contains(setHeaders(&bigRes, legacy), "X-RateLimit-Reset: ") || !strings.Contains(setHeaders(&smallRes, legacy), "Retry-After: 59") {
		t.Fatalf("the cases do not cover what they should:\n%s\n%s", setHeaders(&bigRes, legacy), setHeaders(&smallRes, legacy))
	}
}
