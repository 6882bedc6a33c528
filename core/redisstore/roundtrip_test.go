package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
)

// TestRoundTrips counts the commands sent per decision with a go-redis hook: one per
// decision and lease operation, none for a denial the limiter's denial cache answers, and two
// (EVALSHA, then EVAL with the source) once after the server lost its script cache.
func TestRoundTrips(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			c := b.client(t)
			var n counter
			c.AddHook(&n)
			s := newStore(t, c, false)
			ctx := context.Background()
			if err := s.LoadScripts(ctx); err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			// sent runs f and returns the commands it sent.
			sent := func(f func()) int64 {
				before := n.cmds.Load()
				f()
				return n.cmds.Load() - before
			}
			for _, p := range []core.Policy{
				core.NewFixedWindow("rt-fw", 3, time.Minute),
				core.NewSlidingWindow("rt-sw", 3, time.Minute),
				core.NewTokenBucket("rt-tb", 3, time.Minute, 3),
				core.NewMonthlyQuota("rt-mq", 3),
			} {
				for i := 0; i < 5; i++ { // 3 allowed, 2 denied
					if got := sent(func() {
						if _, err := s.Take(ctx, "k", p, 1, now); err != nil {
							t.Fatal(err)
						}
					}); got != 1 {
						t.Fatalf("%s take %d sent %d commands, want 1", p.Name, i, got)
					}
				}
			}
			sem := core.NewConcurrency("rt-sem", 1, time.Minute)
			for _, op := range []struct {
				name string
				f    func() error
			}{
				{"acquire", func() error { _, err := s.Acquire(ctx, "k", sem, "a", now); return err }},
				{"acquire (denied)", func() error { _, err := s.Acquire(ctx, "k", sem, "b", now); return err }},
				{"extend", func() error { _, err := s.Extend(ctx, "k", sem, "a", now); return err }},
				{"release", func() error { return s.Release(ctx, "k", sem, "a", now) }},
			} {
				if got := sent(func() {
					if err := op.f(); err != nil {
						t.Fatal(err)
					}
				}); got != 1 {
					t.Fatalf("%s sent %d commands, want 1", op.name, got)
				}
			}

			// Through a limiter: a denial is cached until its RetryAfter.
			lim, err := core.NewLimiter(core.Config{
				Store: s,
				Rules: []core.Rule{{Policy: core.NewFixedWindow("rt-limiter", 3, time.Minute)}},
				Now:   func() time.Time { return now },
			})
			if err != nil {
				t.Fatal(err)
			}
			var allowed, denied, allowedCmds, deniedCmds, cachedCmds int64
			for i := 0; i < 20; i++ {
				var res core.Result
				got := sent(func() {
					if res, err = lim.AllowKey(ctx, "client", 1); err != nil {
						t.Fatal(err)
					}
				})
				switch {
				case res.Allowed:
					allowed++
					allowedCmds += got
				case denied == 0:
					denied++
					deniedCmds += got
				default:
					denied++
					cachedCmds += got
				}
			}
			if allowed != 3 || allowedCmds != 3 || deniedCmds != 1 || cachedCmds != 0 {
				t.Fatalf("limiter: %d allowed with %d commands, first denial %d commands, %d more denials with %d commands; want 3 with 3, 1, 16 with 0",
					allowed, allowedCmds, deniedCmds, denied-1, cachedCmds)
			}
			t.Logf("limiter: %d allowed (%d round trips), first denial (%d round trip), %d cached denials (%d round trips)",
				allowed, allowedCmds, deniedCmds, denied-1, cachedCmds)

			// After the server forgot the scripts: EVALSHA fails with NOSCRIPT, EVAL runs it.
			if err := c.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			p := core.NewFixedWindow("rt-flush", 3, time.Minute)
			for i, want := range []int64{2, 1} {
				if got := sent(func() {
					if d, err := s.Take(ctx, "k", p, 1, now); err != nil || !d.Allowed {
						t.Fatalf("take after SCRIPT FLUSH: %+v, %v", d, err)
					}
				}); got != want {
					t.Fatalf("take %d after SCRIPT FLUSH sent %d commands, want %d", i, got, want)
				}
			}
		})
	}
}
