package redisstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/redisstore"
	"github.com/tollgate-go/tollgate/core/storekit"
	"github.com/tollgate-go/tollgate/core/storetest"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// TestSkew runs core/storetest's clock-skew check with two instances of the store, each with
// its own go-redis client (its own connections), sharing one server and one key prefix: b's
// clock runs 2 s, then 50 ms, ahead of a's, straddling every window boundary. A stored window
// newer than the caller's must never be reset (issue 12: the scripts used to reset it, and
// redis-server admitted 578 of a fixed window's 60).
func TestSkew(t *testing.T) {
	for _, b := range []struct {
		name, store string // the subtest, and the store in the skew: line
		addr        func(t *testing.T) string
	}{
		{"miniredis", "miniredis", func(t *testing.T) string { return miniredis.RunT(t).Addr() }},
		{"redis-server", "redis", func(t *testing.T) string { return testenv.RedisAddr(t) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			addr := b.addr(t)
			prefix := testenv.UniqueName("tg-skew") + ":"
			a := newPrefixed(t, newClient(t, addr), prefix)
			c := newPrefixed(t, newClient(t, addr), prefix)
			storetest.RunSkew(t, a, c, storetest.SkewOptions{Store: b.store})
		})
	}
}

// newPrefixed returns a store on c with the given key prefix.
func newPrefixed(t testing.TB, c redis.Scripter, prefix string) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(c, redisstore.Config{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestWindowsNeverGoBack is issue 12's reproduction: takes alternating one second before and
// one second after a window boundary (two instances whose clocks straddle it), on the app's
// clock and on the server's (a failover to a replica whose clock is behind). Every decision
// must equal core's for the same state and time — the stored, newer window is never reset,
// durations are on the caller's clock — and at most one window's limit per window is
// admitted. The scripts before the fix reset the window on every step: all 20 admitted.
func TestWindowsNeverGoBack(t *testing.T) {
	type clockMode struct {
		name   string
		server bool
	}
	// want: the first take lands in the old window; from the second on, the state is in the
	// new one and every take counts there, so the new window admits its limit (for the
	// sliding window, the previous count weighs in full at the window's start, where the
	// lagging takes are evaluated, and only 9/10 of it, rounded down, a second later). The
	// old scripts reset the window on every take: a limit of 1 admitted all 20.
	cases := func(suffix string) []struct {
		p    core.Policy
		want int
	} {
		return []struct {
			p    core.Policy
			want int
		}{
			{core.NewFixedWindow("back-fw-"+suffix, 1, 10*time.Second), 2},
			{core.NewSlidingWindow("back-sw-"+suffix, 1, 10*time.Second), 2},
			{core.NewFixedWindow("back-fw3-"+suffix, 3, 10*time.Second), 1 + 3},
			{core.NewSlidingWindow("back-sw3-"+suffix, 3, 10*time.Second), 1 + 3},
			{core.NewMonthlyQuota("back-mq-"+suffix, 2), 1 + 2},
		}
	}
	for _, b := range backends() {
		for _, mode := range []clockMode{{"app-clock", false}, {"server-clock", true}} {
			if mode.server && b.name != "miniredis" {
				continue // only miniredis's TIME can be set
			}
			t.Run(b.name+"/"+mode.name, func(t *testing.T) {
				var mr *miniredis.Miniredis
				var s *redisstore.Store
				if mode.server {
					mr = miniredis.RunT(t)
					s = newStore(t, newClient(t, mr.Addr()), true)
				} else {
					s = newStore(t, b.client(t), false)
				}
				for _, c := range cases(mode.name) {
					p := c.p
					t.Run(p.Name, func(t *testing.T) {
						var boundary time.Time
						if p.Calendar == core.Monthly {
							boundary = time.Date(2031, 3, 1, 0, 0, 0, 0, time.UTC)
						} else {
							_, end := p.WindowBounds(time.Now().UnixNano())
							boundary = time.Unix(0, end)
						}
						var m *model
						if mode.server {
							m = &model{t: t, s: serverClock{s}, p: p, key: "straddle"}
						} else {
							m = &model{t: t, s: s, p: p, key: "straddle"}
						}
						for i := 0; i < 20; i++ {
							at := boundary.Add(-time.Second)
							if i%2 == 1 {
								at = boundary.Add(time.Second)
							}
							if mr != nil {
								mr.SetTime(at)
							}
							m.take(at, 1) // fails unless the store's decision is core's
						}
						if m.allowed != c.want || m.allowed > int(2*p.Limit) {
							t.Fatalf("20 takes straddling a boundary: %d allowed, want %d (at most the limit in each of the two windows)", m.allowed, c.want)
						}
					})
				}
			})
		}
	}
}

// TestSkewWithinTTLSlack checks what keeps a window's state alive for an instance whose clock
// lags the last writer's: every key's TTL is the time until its state stops mattering on the
// writer's clock plus a one-second slack (see the package documentation). An instance whose
// clock is S behind reaches that moment S later, in real time, than the writer did; for S up
// to the slack it still finds the state and decides exactly as core does. Beyond the slack
// the key has expired while the lagging clock is still in the window, and that window admits
// its Limit again: the documented limit of the store's skew bound, checked here so that the
// documentation stays true.
func TestSkewWithinTTLSlack(t *testing.T) {
	const limit = 20
	for _, c := range []struct {
		skew     time.Duration
		overflow bool // the state expired on the lagging clock: a fresh Limit is admitted
	}{
		{50 * time.Millisecond, false},
		{900 * time.Millisecond, false},
		{2 * time.Second, true},
	} {
		for _, p := range []core.Policy{
			core.NewFixedWindow("slack-fw", limit, 10*time.Second),
			core.NewSlidingWindow("slack-sw", limit, 10*time.Second),
		} {
			t.Run(fmt.Sprintf("%s/%v", p.Name, c.skew), func(t *testing.T) {
				mr := miniredis.RunT(t)
				prefix := testenv.UniqueName("tg-slack") + ":"
				lead := newPrefixed(t, newClient(t, mr.Addr()), prefix)
				lag := newPrefixed(t, newClient(t, mr.Addr()), prefix)
				ctx := context.Background()
				// The leading instance fills a window half a second before its end.
				_, end := p.WindowBounds(time.Now().Add(time.Hour).UnixNano())
				at := time.Unix(0, end).Add(-500 * time.Millisecond)
				var st storekit.State
				for i := 0; i < limit; i++ {
					var d core.Decision
					st, d = storekit.Take(p, st, 1, at.UnixNano())
					if got, err := lead.Take(ctx, "k", p, 1, at); err != nil || got.Allowed != d.Allowed {
						t.Fatalf("leading take %d: %+v, %v", i, got, err)
					}
				}
				// Real time runs on until the lagging clock (S behind) is at the last moment the
				// state can still change a decision: 10 ms before the window's end; for the
				// sliding window, 10 ms before its count's weight in the next window drops to
				// 0. The writer's TTL (the window's end, or the next one's, on the writer's
				// clock, plus the 1 s slack) has run out there iff S > 1 s + margin. The lagging
				// instance asks for one more than the room core sees in the state: core denies.
				expiry := time.Unix(0, storekit.Expiry(p, st))
				margin := 10 * time.Millisecond
				if p.Algorithm == core.SlidingWindow {
					margin += p.Window / limit
				}
				lagAt := expiry.Add(-margin)
				mr.FastForward(lagAt.Add(c.skew).Sub(at))
				_, peek := storekit.Take(p, st, 0, lagAt.UnixNano())
				cost := peek.Remaining + 1
				_, want := storekit.Take(p, st, cost, lagAt.UnixNano())
				got, err := lag.Take(ctx, "k", p, cost, lagAt)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("lagging instance %v behind, %v before the state stops mattering on its clock, asks for %d: allowed=%v (core with the state: %v)",
					c.skew, expiry.Sub(lagAt), cost, got.Allowed, want.Allowed)
				if c.overflow {
					if !got.Allowed || want.Allowed {
						t.Fatalf("skew %v beyond the 1 s TTL slack: allowed=%v; the documentation says the state has expired (allowed) where core with it denies", c.skew, got.Allowed)
					}
					return
				}
				sameDecision(t, "lagging take", got, want)
			})
		}
	}
}
