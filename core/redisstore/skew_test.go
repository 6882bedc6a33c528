package redisstore_test

import (
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/redisstore"
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
		name string
		addr func(t *testing.T) string
	}{
		{"miniredis", func(t *testing.T) string { return miniredis.RunT(t).Addr() }},
		{"redis-server", func(t *testing.T) string { return testenv.RedisAddr(t) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			addr := b.addr(t)
			prefix := testenv.UniqueName("tg-skew") + ":"
			a := newPrefixed(t, newClient(t, addr), prefix)
			c := newPrefixed(t, newClient(t, addr), prefix)
			storetest.RunSkew(t, a, c, storetest.SkewOptions{Store: "redis"})
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
