package adaptertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/reply"
)

// checkFields parses the RateLimit and RateLimit-Policy fields of a response with an RFC 9651
// structured-field parser and checks what draft-ietf-httpapi-ratelimit-headers and the
// limiter's own documentation promise, for every response the suite receives:
//
//   - both fields are valid Lists of String items with integer parameters (q, w, r, t);
//   - every RateLimit item names a policy listed in RateLimit-Policy, with r ≤ q;
//   - a 429 carries Retry-After (delta-seconds ≥ 1), never earlier than the t of a violated
//     policy (a client that waits Retry-After is not told to wait longer by t);
//   - the legacy X-RateLimit-* fields, when present, equal q, r and t of one policy.
func checkFields(r response) error {
	q := map[string]int64{}
	if v := r.get(reply.HeaderRateLimitPolicy); v != "" {
		items, err := parseSFList(v)
		if err != nil {
			return fmt.Errorf("RateLimit-Policy %q: %w", v, err)
		}
		for _, it := range items {
			name, ok := it.value.(string)
			if !ok {
				return fmt.Errorf("RateLimit-Policy %q: item %v is not a String", v, it.value)
			}
			qv, ok := it.param("q")
			qi, isInt := qv.(int64)
			if !ok || !isInt || qi < 0 {
				return fmt.Errorf("RateLimit-Policy %q: %q has no non-negative integer q", v, name)
			}
			if w, ok := it.param("w"); ok {
				if wi, isInt := w.(int64); !isInt || wi < 1 {
					return fmt.Errorf("RateLimit-Policy %q: %q has w=%v, want a positive integer", v, name, w)
				}
			}
			if old, seen := q[name]; seen && old != qi {
				return fmt.Errorf("RateLimit-Policy %q: %q listed with q=%d and q=%d", v, name, old, qi)
			}
			q[name] = qi
		}
	}
	type state struct{ r, t int64 }
	states := map[string]state{}
	if v := r.get(reply.HeaderRateLimit); v != "" {
		items, err := parseSFList(v)
		if err != nil {
			return fmt.Errorf("RateLimit %q: %w", v, err)
		}
		for _, it := range items {
			name, ok := it.value.(string)
			if !ok {
				return fmt.Errorf("RateLimit %q: item %v is not a String", v, it.value)
			}
			rv, ok := it.param("r")
			ri, isInt := rv.(int64)
			if !ok || !isInt || ri < 0 {
				return fmt.Errorf("RateLimit %q: %q has no non-negative integer r", v, name)
			}
			s := state{r: ri, t: -1}
			if tv, ok := it.param("t"); ok {
				ti, isInt := tv.(int64)
				if !isInt || ti < 0 {
					return fmt.Errorf("RateLimit %q: %q has t=%v, want a non-negative integer", v, name, tv)
				}
				s.t = ti
			}
			qi, listed := q[name]
			if !listed {
				return fmt.Errorf("RateLimit %q: %q is not in RateLimit-Policy %q", v, name, r.get(reply.HeaderRateLimitPolicy))
			}
			if ri > qi {
				return fmt.Errorf("RateLimit %q: %q has r=%d above its q=%d", v, name, ri, qi)
			}
			states[name] = s
		}
	}
	if r.code == http.StatusTooManyRequests {
		ra, err := strconv.ParseInt(r.header.Get(reply.HeaderRetryAfter), 10, 64)
		if err != nil || ra < 1 {
			return fmt.Errorf("429 with Retry-After %q, want delta-seconds ≥ 1", r.header.Get(reply.HeaderRetryAfter))
		}
		var p struct {
			Violated []string `json:"violated-policies"`
		}
		if r.body != "" {
			_ = json.Unmarshal([]byte(r.body), &p)
		}
		for _, name := range p.Violated {
			if s, ok := states[name]; ok && s.t > ra {
				return fmt.Errorf("429: %q has t=%d but Retry-After is %d: the client is sent back before t", name, s.t, ra)
			}
		}
	}
	if l := r.header.Get(reply.HeaderXRateLimitLimit); l != "" {
		rem, reset := r.header.Get(reply.HeaderXRateLimitRemain), r.header.Get(reply.HeaderXRateLimitReset)
		match := false
		for name, s := range states {
			if strconv.FormatInt(q[name], 10) == l && strconv.FormatInt(s.r, 10) == rem &&
				(s.t < 0 || strconv.FormatInt(s.t, 10) == reset) {
				match = true
			}
		}
		if !match {
			return fmt.Errorf("X-RateLimit-Limit/Remaining/Reset %s/%s/%s match no policy's q/r/t in %q and %q",
				l, rem, reset, r.get(reply.HeaderRateLimitPolicy), r.get(reply.HeaderRateLimit))
		}
	}
	return nil
}

// testHeaderFields drives every policy kind, a token bucket whose burst is above its rate,
// several limits in one limiter, legacy fields on, to allowed and denied answers; send checks
// every response with checkFields.
func testHeaderFields(t *testing.T, h Harness) {
	kinds := []struct {
		pattern string
		limits  []core.Policy
	}{
		{"/fixed", []core.Policy{core.NewFixedWindow("fixed", 3, time.Minute)}},
		{"/sliding", []core.Policy{core.NewSlidingWindow("sliding", 3, 10*time.Second)}},
		{"/bucket", []core.Policy{core.NewTokenBucket("bucket", 1, time.Second, 4)}},
		{"/month", []core.Policy{core.NewMonthlyQuota("month", 3)}},
		{"/several", []core.Policy{
			core.NewTokenBucket("burst", 5, time.Second, 20),
			core.NewFixedWindow("minute", 3, time.Minute),
			core.NewSlidingWindow("hour", 100, time.Hour),
		}},
	}
	var routes []Route
	for _, k := range kinds {
		var limits []core.Rule
		for _, p := range k.limits {
			limits = append(limits, core.Rule{Policy: p})
		}
		routes = append(routes, Route{Pattern: k.pattern, Guard: Guard{
			Limiter: newLimiter(t, core.Config{Rules: limits}),
			Headers: reply.HeaderOptions{Legacy: true},
		}})
	}
	tr := h.New(t, Setup{Routes: routes})
	for _, k := range kinds {
		denied := false
		for i := 0; i < 25 && !denied; i++ {
			r := do(t, tr, "GET", k.pattern, "192.0.2.50:1", nil)
			if r.code == http.StatusTooManyRequests {
				denied = true
				// Every policy of the limiter is listed, also those after the denying one.
				if got, want := len(mustList(t, r.get(reply.HeaderRateLimitPolicy))), len(k.limits); got != want {
					t.Fatalf("%s: a denial lists %d policies in RateLimit-Policy %q, want %d", k.pattern, got, r.get(reply.HeaderRateLimitPolicy), want)
				}
			}
		}
		if !denied {
			t.Fatalf("%s: 25 requests at one instant were never denied", k.pattern)
		}
	}
}

func mustList(t *testing.T, v string) []sfItem {
	t.Helper()
	items, err := parseSFList(v)
	if err != nil {
		t.Fatal(err)
	}
	return items
}
