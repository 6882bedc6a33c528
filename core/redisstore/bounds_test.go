package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/redisstore"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// TestCheckPolicy: the limiters refuse, when they are built, a policy whose numbers the
// scripts cannot compute exactly, naming the field and the bound (issue 12: such a limit was
// accepted, then every request failed); everything within the bounds is accepted.
func TestCheckPolicy(t *testing.T) {
	s := newStore(t, newClient(t, miniredis.RunT(t).Addr()), false)
	const over = redisstore.MaxWindowLimit + 1
	cases := []struct {
		name   string
		policy core.Policy
		want   string // "" when accepted; else what the error names
	}{
		{"fixed at the bound", core.NewFixedWindow("fw", redisstore.MaxWindowLimit, time.Hour), ""},
		{"fixed past it", core.NewFixedWindow("fw", over, time.Hour), "Limit 2251799813685249 is above MaxWindowLimit 2251799813685248 (2^51)"},
		{"sliding at the bound", core.NewSlidingWindow("sw", redisstore.MaxWindowLimit, time.Hour), ""},
		{"sliding past it", core.NewSlidingWindow("sw", over, time.Hour), "Limit 2251799813685249 is above MaxWindowLimit"},
		{"monthly quota past it", core.NewMonthlyQuota("mq", over), "Limit 2251799813685249 is above MaxWindowLimit"},
		// Exact at any size core accepts: times only, as (seconds, nanoseconds) pairs.
		{"token bucket, burst past 2^53", core.NewTokenBucket("tb", 1_000_000_000, time.Second, 1<<58), ""},
		{"token bucket, rate past 2^53", core.NewTokenBucket("tb", 1<<58, 1<<58, 0), ""},
		{"concurrency past 2^53", core.NewConcurrency("sem", 1<<60, time.Minute), ""},
		{"the store's prefix on the message", core.NewFixedWindow("x", over, time.Hour), `redisstore: policy "x": Limit`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.policy.Validate(); err != nil {
				t.Fatalf("the case's policy is not valid for core: %v", err)
			}
			var err error
			if c.policy.Algorithm == core.Concurrency {
				_, err = core.NewConcurrencyLimiter(core.ConcurrencyConfig{Store: s, Policy: c.policy})
			} else {
				_, err = core.NewLimiter(core.Config{Store: s, Rules: []core.Rule{{Policy: c.policy}}})
			}
			if c.want == "" {
				if err != nil {
					t.Fatalf("refused: %v; the scripts compute it exactly", err)
				}
				return
			}
			if !errors.Is(err, core.ErrInvalidPolicy) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "redisstore: ") {
				t.Fatalf("got %v; want a redisstore: error wrapping core.ErrInvalidPolicy that says %q", err, c.want)
			}
			t.Logf("%v", err)
			if _, err := s.Take(context.Background(), "k", c.policy, 1, time.Now()); !errors.Is(err, core.ErrInvalidPolicy) {
				t.Fatalf("Take with the refused policy: %v, want ErrInvalidPolicy", err)
			}
		})
	}
	t.Run("PolicyFunc answer", func(t *testing.T) {
		l, err := core.NewLimiter(core.Config{Store: s, Rules: []core.Rule{{
			PolicyFunc: func(context.Context, string) (core.Policy, error) {
				return core.NewFixedWindow("plan", over, time.Hour), nil
			},
		}}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = l.AllowKey(context.Background(), "k", 1)
		if !errors.Is(err, core.ErrStoreUnavailable) || !errors.Is(err, core.ErrInvalidPolicy) || !strings.Contains(err.Error(), "MaxWindowLimit") {
			t.Fatalf("a PolicyFunc answer past the bound: %v, want a server-side error naming MaxWindowLimit", err)
		}
	})
}

// TestExactAtTheBounds drives the scripts at the largest numbers CheckPolicy accepts, where a
// double that lost precision would change a verdict or a count, and checks every decision
// against core's, field by field.
func TestExactAtTheBounds(t *testing.T) {
	const L = redisstore.MaxWindowLimit
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			s := newStore(t, b.client(t), false)
			t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

			fw := &model{t: t, s: s, p: core.NewFixedWindow("max-fw", L, time.Hour), key: "k"}
			fw.take(t0, L-1)
			fw.take(t0, 1) // the count reaches 2^51
			fw.take(t0, 1) // 2^51 + 1: denied
			fw.take(t0, L) // 2^52: denied, and nothing spent
			fw.take(t0, 0)
			if fw.allowed != 2 || fw.denied != 2 {
				t.Fatalf("fixed window at 2^51: allowed %d denied %d, want 2 and 2", fw.allowed, fw.denied)
			}

			// A full previous window, then the weighted room in the next one, to the unit.
			sw := &model{t: t, s: s, p: core.NewSlidingWindow("max-sw", L, time.Hour), key: "k"}
			sw.take(t0, L)
			for _, e := range []time.Duration{0, time.Nanosecond, 17 * time.Minute, time.Hour - 1} {
				at := t0.Add(time.Hour + e)
				room := L - storekit.SlidingWeight(sw.p, L, at.UnixNano()) - sw.st.Count
				if sw.st.Window != at.Truncate(time.Hour).UnixNano() {
					room = L - storekit.SlidingWeight(sw.p, L, at.UnixNano())
				}
				sw.take(at, room+1) // one past the room: denied
				if room > 0 {
					sw.take(at, room) // exactly the room: allowed
				}
			}
			if sw.allowed < 3 || sw.denied != 4 {
				t.Fatalf("sliding window at 2^51: allowed %d denied %d, want at least 3 and 4", sw.allowed, sw.denied)
			}

			// A token bucket whose burst and costs are past 2^53.
			tb := &model{t: t, s: s, p: core.NewTokenBucket("max-tb", 1_000_000_000, time.Second, 1<<58), key: "k"}
			tb.take(t0, 1<<53+1)
			tb.take(t0, 1<<58-(1<<53+1))
			tb.take(t0, 1)
			tb.take(t0.Add(3), 3)
			tb.take(t0.Add(3), 1)
			if tb.allowed != 3 || tb.denied != 2 {
				t.Fatalf("token bucket with burst 2^58: allowed %d denied %d, want 3 and 2", tb.allowed, tb.denied)
			}
		})
	}
}
