package core_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// logTo returns a text logger at level into a buffer, and a function that reads it.
func logTo(level slog.Level) (*slog.Logger, func() string) {
	var mu sync.Mutex
	var b strings.Builder
	h := slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return b.Write(p)
	}), &slog.HandlerOptions{Level: level})
	return slog.New(h), func() string { mu.Lock(); defer mu.Unlock(); return b.String() }
}

// TestSlogObserver: allowed decisions at Debug, denials at Info, store errors and breaker
// changes at Warn, application errors at Error, each with what it is about.
func TestSlogObserver(t *testing.T) {
	p := core.NewFixedWindow("api", 10, time.Minute)
	ctx := context.Background()
	events := []core.Event{
		{Kind: core.EventDecision, Key: "allowed-key", Decision: core.Decision{Allowed: true, Remaining: 9, Policy: p}},
		{Kind: core.EventDecision, Key: "denied-key", Decision: core.Decision{RetryAfter: 3 * time.Second, Policy: p}, Cached: true},
		{Kind: core.EventStoreError, Err: errors.New("conn reset"), Degraded: core.DegradedOpen, Latency: 7 * time.Millisecond, Decision: core.Decision{Policy: p}},
		{Kind: core.EventError, Err: errors.New("bad cost"), Decision: core.Decision{Policy: p}},
		{Kind: core.EventBreakerOpen, Err: errors.New("conn reset")},
		{Kind: core.EventBreakerClosed},
		{Kind: core.EventLeaseReleased},
	}
	cases := []struct {
		level slog.Level
		want  []string
		not   []string
	}{
		{slog.LevelDebug, []string{
			`level=DEBUG msg="tollgate decision" policy=api key=allowed-key allowed=true shadow=false remaining=9 retry_after=0s cached=false degraded=none latency=0s`,
			`level=INFO msg="tollgate decision" policy=api key=denied-key allowed=false shadow=false remaining=0 retry_after=3s cached=true`,
		}, nil},
		{slog.LevelInfo, []string{
			`level=INFO msg="tollgate decision" policy=api key=denied-key`,
			`level=WARN msg="tollgate store error" policy=api degraded=fail-open latency=7ms error="conn reset"`,
			`level=ERROR msg="tollgate error" policy=api error="bad cost"`,
			`level=WARN msg="tollgate circuit breaker" state=breaker-open error="conn reset"`,
			`level=WARN msg="tollgate circuit breaker" state=breaker-closed`,
		}, []string{"allowed-key", "lease"}},
		{slog.LevelWarn, []string{`msg="tollgate store error"`}, []string{"tollgate decision"}},
	}
	for _, c := range cases {
		l, out := logTo(c.level)
		o := core.SlogObserver(l)
		for _, e := range events {
			o.Observe(ctx, e)
		}
		got := out()
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("level %v: no %q in\n%s", c.level, w, got)
			}
		}
		for _, n := range c.not {
			if strings.Contains(got, n) {
				t.Errorf("level %v: %q logged:\n%s", c.level, n, got)
			}
		}
	}
}

// TestDefaultProblemLog: without an observer, breaker changes and application errors are
// logged through slog.Default as well as store errors; with one, nothing is.
func TestDefaultProblemLog(t *testing.T) {
	l, out := logTo(slog.LevelDebug)
	old := slog.Default()
	slog.SetDefault(l)
	t.Cleanup(func() { slog.SetDefault(old) })
	s := &countingStore{inner: memstore.New()}
	s.fail.Store(true)
	lim := newLimiter(t, core.Config{Store: s, Breaker: core.BreakerConfig{Failures: 1, Cooldown: time.Second},
		Rules: []core.Rule{{Policy: core.NewFixedWindow("quiet", 3, time.Minute), Cost: func(core.Request) int64 { return 9 }}}})
	ctx := context.Background()
	_, _ = lim.AllowKeyAt(ctx, "k", 1, t0)
	s.fail.Store(false)
	_, _ = lim.AllowKeyAt(ctx, "k", 1, t0.Add(time.Second))
	_, _ = lim.Allow(ctx, req("192.0.2.1:1")) // cost 9 > 3
	got := out()
	for _, w := range []string{
		`level=WARN msg="tollgate store error" policy=quiet degraded=fail-open error="store: connection refused" similar_errors_not_logged=0`,
		`level=WARN msg="tollgate circuit breaker" state=breaker-open error="store: connection refused"`,
		`level=WARN msg="tollgate circuit breaker" state=breaker-closed`,
		`level=ERROR msg="tollgate error" policy=quiet error="core: Rules[0].Cost returned 9`,
	} {
		if !strings.Contains(got, w) {
			t.Errorf("no %q in\n%s", w, got)
		}
	}
	if strings.Contains(got, "decision") {
		t.Errorf("decisions logged by default:\n%s", got)
	}
	l2, out2 := logTo(slog.LevelDebug)
	slog.SetDefault(l2)
	s.fail.Store(true)
	quiet := newLimiter(t, core.Config{Store: s, Observer: core.ObserverFunc(func(context.Context, core.Event) {}),
		Rules: []core.Rule{{Policy: core.NewFixedWindow("quiet", 3, time.Minute)}}})
	_, _ = quiet.AllowKeyAt(ctx, "k", 1, t0)
	if got := out2(); got != "" {
		t.Errorf("an explicit observer did not replace the default log:\n%s", got)
	}
}

// TestNames: the names of operations, event kinds and degradations that logs and metrics use.
func TestNames(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{core.OpNone.String(), "none"}, {core.OpTake.String(), "take"}, {core.OpAcquire.String(), "acquire"},
		{core.OpRelease.String(), "release"}, {core.OpExtend.String(), "extend"}, {core.OpAdjust.String(), "adjust"},
		{core.Op(99).String(), "none"},
		{core.EventDecision.String(), "decision"}, {core.EventStoreError.String(), "store-error"},
		{core.EventBreakerOpen.String(), "breaker-open"}, {core.EventBreakerClosed.String(), "breaker-closed"},
		{core.EventError.String(), "error"}, {core.EventLeaseReleased.String(), "lease-released"},
		{core.EventKind(0).String(), "unknown"},
		{core.NotDegraded.String(), "none"}, {core.DegradedOpen.String(), "fail-open"},
		{core.DegradedClosed.String(), "fail-closed"}, {core.DegradedFallback.String(), "fallback"},
		{core.Degradation(9).String(), "unknown"},
	} {
		if c.got != c.want {
			t.Errorf("%q, want %q", c.got, c.want)
		}
	}
}
