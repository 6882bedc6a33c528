package adaptertest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
)

// flush waits for the limiter's settlements and refunds, which run in the background.
func flush(t *testing.T, l *core.Limiter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.Flush(ctx); err != nil {
		t.Fatalf("settlements did not finish: %v", err)
	}
}

// testSkipRules: with SkipFailedRequests only requests answered below 400 count; with
// SkipSuccessfulRequests only those answered 400 and above (login failures, say). Refunds are
// what makes them fleet-wide: the request spends on arrival and gets it back afterwards.
func testSkipRules(t *testing.T, h Harness) {
	for _, tc := range []struct {
		name                       string
		skipFailed, skipSuccessful bool
		first, second              string // three of first are free, two of second spend
	}{
		{"SkipFailedRequests", true, false, "/fail", "/ok"},
		{"SkipSuccessfulRequests", false, true, "/ok", "/fail"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLimiter(t, core.Config{Rules: []core.Rule{{Policy: core.NewFixedWindow("attempts", 2, time.Hour)}}})
			tr := h.New(t, Setup{Routes: []Route{
				{Pattern: "/ok", Guard: Guard{Limiter: l, SkipFailedRequests: tc.skipFailed, SkipSuccessfulRequests: tc.skipSuccessful}},
				{Pattern: "/fail", Status: http.StatusUnauthorized, Guard: Guard{Limiter: l, SkipFailedRequests: tc.skipFailed, SkipSuccessfulRequests: tc.skipSuccessful}},
			}})
			code := func(path string) int {
				if path == "/fail" {
					return http.StatusUnauthorized
				}
				return http.StatusOK
			}
			for i := range 3 {
				r := do(t, tr, "GET", tc.first, "192.0.2.70:1", nil)
				wantCode(t, tc.first+" (refunded)", r, code(tc.first))
				flush(t, l)
				_ = i
			}
			for range 2 {
				r := do(t, tr, "GET", tc.second, "192.0.2.70:1", nil)
				wantCode(t, tc.second+" (counted)", r, code(tc.second))
				flush(t, l)
			}
			r := do(t, tr, "GET", tc.second, "192.0.2.70:1", nil)
			wantCode(t, "the third counted request", r, http.StatusTooManyRequests)
		})
	}
}

// testSettle: a rule that settles the real cost the handler reports (an LLM's token usage):
// the first request is admitted on its estimate and settled to its real cost, the second is
// admitted on the estimate and takes the key into debt, and the third is denied.
func testSettle(t *testing.T, h Harness) {
	l := newLimiter(t, core.Config{Rules: []core.Rule{{
		Policy: core.NewFixedWindow("tokens", 100, time.Hour),
		Cost:   func(core.Request) int64 { return 10 },
		Settle: func(_ core.Request, out core.Outcome) int64 {
			if out.Reports == 0 {
				return 10
			}
			return out.Reported
		},
	}}})
	tr := h.New(t, Setup{Routes: []Route{{Pattern: "/llm", ReportCost: 60, Guard: Guard{Limiter: l}}}})
	for i, want := range []int{http.StatusOK, http.StatusOK, http.StatusTooManyRequests} {
		r := do(t, tr, "POST", "/llm", "192.0.2.71:1", nil)
		wantCode(t, "request "+string(rune('1'+i)), r, want)
		flush(t, l)
	}
}
