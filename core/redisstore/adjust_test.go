package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
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

// adjust runs Adjust on the store and core's pure algorithm side by side. An adjustment
// that core would apply beyond what the store holds (MaxWindowCount, MaxTAT) must be refused
// with ErrAdjustOutOfRange and change nothing.
func (m *model) adjust(at time.Time, delta int64) core.Decision {
	m.t.Helper()
	st, want := storekit.Adjust(m.p, m.st, delta, at.UnixNano())
	step := fmt.Sprintf("%s step %d (t=%d adjust %+d)", m.p.Name, m.steps, at.UnixNano(), delta)
	m.steps++
	got, err := m.s.(storekit.Adjuster).Adjust(context.Background(), m.key, m.p, delta, at)
	if st.Count > redisstore.MaxWindowCount || st.TAT > redisstore.MaxTAT {
		if !errors.Is(err, redisstore.ErrAdjustOutOfRange) || !errors.Is(err, core.ErrCostExceedsCapacity) || !strings.HasPrefix(err.Error(), "redisstore: ") {
			m.t.Fatalf("%s: core's state %+v is beyond what the store holds; got %+v, %v, want a redisstore: error wrapping ErrAdjustOutOfRange", step, st, got, err)
		}
		m.refused++
		return core.Decision{}
	}
	if err != nil {
		m.t.Fatalf("%s: %v", step, err)
	}
	m.st = st
	sameDecision(m.t, step, got, want)
	m.adjusted++
	return got
}

// TestAdjustConformance runs core/storetest's Adjust section on miniredis and redis-server.
func TestAdjustConformance(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			storetest.RunAdjust(t, newStore(t, b.client(t), false), storetest.Options{})
		})
	}
}

// TestAdjustBoundaries is TestBoundaries with adjustments mixed in: charges into debt and
// refunds, on and around window boundaries, with windows and bucket capacities beyond 2^53
// ns, at clocks far from now (at 2200, a debt on a bucket that refills once in 3000 days soon
// reaches MaxTAT, so refusals are walked too). Every decision must equal core's.
func TestAdjustBoundaries(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			s := newStore(t, b.client(t), false)
			steps := 400
			if b.name != "miniredis" {
				steps = 150
			}
			var adjusted, refused int
			for ename, epoch := range epochs() {
				for _, p := range boundaryPolicies("adj-" + ename) {
					t.Run(ename+"/"+p.Name, func(t *testing.T) {
						m := &model{t: t, s: s, p: p, key: "boundary", adjusting: true}
						walk(m, epoch, steps, rand.New(rand.NewSource(int64(len(p.Name))*6151)))
						if m.allowed == 0 || m.denied == 0 || m.adjusted == 0 {
							t.Fatalf("the walk exercised allowed=%d denied=%d adjusted=%d; it must exercise all three", m.allowed, m.denied, m.adjusted)
						}
						adjusted += m.adjusted
						refused += m.refused
					})
				}
			}
			t.Logf("%d adjustments equal to core's, %d refused beyond MaxTAT", adjusted, refused)
			if refused == 0 {
				t.Error("no adjustment reached MaxTAT: the refusal path was not walked")
			}
		})
	}
}

// TestAdjustRefusals checks the bounds of Adjust: a delta beyond what one adjustment may move
// is refused before any I/O; one that would take a count past MaxWindowCount, or a TAT past
// MaxTAT, is refused by the script and changes nothing; up to them, counts and TATs are exact.
func TestAdjustRefusals(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { adjustRefusals(t, b.client(t)) })
	}
}

func adjustRefusals(t *testing.T, rc *redis.Client) {
	prefix := testenv.UniqueName("tg-refuse") + ":"
	s, err := redisstore.New(rc, redisstore.Config{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Date(2031, 1, 2, 3, 4, 5, 6, time.UTC)
	outOfRange := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, redisstore.ErrAdjustOutOfRange) || !errors.Is(err, core.ErrCostExceedsCapacity) || !strings.HasPrefix(err.Error(), "redisstore: ") {
			t.Fatalf("%s: %v, want a redisstore: error wrapping ErrAdjustOutOfRange and core.ErrCostExceedsCapacity", what, err)
		}
	}

	// Before any I/O.
	fw := core.NewFixedWindow("refuse-fw", 10, time.Hour)
	tb := core.NewTokenBucket("refuse-tb", 1, time.Hour, 1)
	for _, c := range []struct {
		p     core.Policy
		delta int64
	}{
		{fw, redisstore.MaxWindowCount + 1},
		{fw, -redisstore.MaxWindowCount - 1},
		{fw, -1 << 63},
		{tb, redisstore.MaxTAT/int64(time.Hour) + 1},
		{tb, -1 << 63},
	} {
		_, err := s.Adjust(ctx, "k", c.p, c.delta, now)
		outOfRange(fmt.Sprintf("%s %+d", c.p.Name, c.delta), err)
	}
	huge := core.NewFixedWindow("huge", redisstore.MaxWindowLimit+1, time.Hour)
	if _, err := s.Adjust(ctx, "k", huge, 1, now); !errors.Is(err, core.ErrInvalidPolicy) {
		t.Errorf("limit above MaxWindowLimit: %v, want ErrInvalidPolicy", err)
	}
	if _, err := s.Adjust(ctx, "k", fw, 1, time.Date(1969, 7, 20, 20, 17, 0, 0, time.UTC)); err == nil {
		t.Error("a time before 1970 accepted")
	}
	if keys := rc.Keys(ctx, prefix+"*").Val(); len(keys) != 0 {
		t.Fatalf("refused calls wrote keys: %q", keys)
	}

	// Exact up to the bounds, refused past them by the script.
	for _, c := range []struct {
		p   core.Policy
		key string
	}{
		{core.NewFixedWindow("max-fw", redisstore.MaxWindowLimit, time.Hour), prefix + "{max-fw:max}:fw"},
		{core.NewSlidingWindow("max-sw", redisstore.MaxWindowLimit, time.Hour), prefix + "{max-sw:max}:sw"},
		{core.NewMonthlyQuota("max-mq", redisstore.MaxWindowLimit), prefix + "{max-mq:max}:fw"},
	} {
		p, key := c.p, c.key
		t.Run(p.Name, func(t *testing.T) {
			m := &model{t: t, s: s, p: p, key: "max"}
			m.take(now, redisstore.MaxWindowLimit)
			m.adjust(now, redisstore.MaxWindowCount-redisstore.MaxWindowLimit-1) // an odd count: 2^52 − 1
			if c := rc.HGet(ctx, key, "c").Val(); c != strconv.FormatInt(redisstore.MaxWindowCount-1, 10) {
				t.Fatalf("stored count %q, want %d exactly", c, int64(redisstore.MaxWindowCount-1))
			}
			m.take(now, 1) // denied: in debt
			m.adjust(now, 1)
			m.adjust(now, 1) // past MaxWindowCount: refused
			if c := rc.HGet(ctx, key, "c").Val(); c != strconv.FormatInt(redisstore.MaxWindowCount, 10) {
				t.Fatalf("after a refused adjustment the stored count is %q, want %d", c, int64(redisstore.MaxWindowCount))
			}
			m.adjust(now, -redisstore.MaxWindowCount+3)
			m.take(now, 1)
			m.adjust(now, -redisstore.MaxWindowCount) // never below zero
			m.take(now, redisstore.MaxWindowLimit)
			if m.refused != 1 || m.allowed != 3 || m.denied != 1 {
				t.Fatalf("refused %d allowed %d denied %d, want 1, 3, 1", m.refused, m.allowed, m.denied)
			}
		})
	}
	t.Run("max-sw-prev", func(t *testing.T) {
		// Both counts at MaxWindowCount: the take script's weighted previous count + count +
		// cost rounds above 2^53, and must still compare with the Limit as core does.
		p := core.NewSlidingWindow("max-sw-prev", redisstore.MaxWindowLimit, time.Hour)
		m := &model{t: t, s: s, p: p, key: "max"}
		at := now.Truncate(time.Hour)
		m.adjust(at.Add(-time.Minute), redisstore.MaxWindowCount)
		m.adjust(at.Add(20*time.Minute), redisstore.MaxWindowCount)
		m.take(at.Add(25*time.Minute), redisstore.MaxWindowLimit) // 2^52×35/60 + 2^52 + 2^51 > 2^53
		m.take(at.Add(25*time.Minute), 0)
		m.take(at.Add(time.Hour+59*time.Minute), 1)
		m.adjust(at.Add(time.Hour+59*time.Minute), -redisstore.MaxWindowCount)
		m.take(at.Add(time.Hour+59*time.Minute+59*time.Second), redisstore.MaxWindowLimit/2)
		m.take(at.Add(2*time.Hour), redisstore.MaxWindowLimit)
		if m.denied != 2 || m.allowed != 2 {
			t.Fatalf("allowed %d denied %d, want 2 and 2", m.allowed, m.denied)
		}
	})
	t.Run("max-tb", func(t *testing.T) {
		p := core.NewTokenBucket("max-tb", 1, time.Second, 1)
		at := time.Unix(0, redisstore.MaxTAT-10*int64(time.Second))
		m := &model{t: t, s: s, p: p, key: "max"}
		m.adjust(at, 10) // the TAT is MaxTAT exactly
		m.adjust(at, 1)  // refused
		if got, err := rc.Get(ctx, prefix+"{max-tb:max}:tb").Result(); err != nil || got != strconv.FormatInt(redisstore.MaxTAT, 10) {
			t.Fatalf("stored TAT %q, %v; want MaxTAT %d", got, err, redisstore.MaxTAT)
		}
		m.take(at, 1)
		m.adjust(at.Add(time.Second), -20)
		m.take(at.Add(time.Second), 1)
		if m.refused != 1 || m.allowed != 1 || m.denied != 1 {
			t.Fatalf("refused %d allowed %d denied %d, want 1, 1, 1", m.refused, m.allowed, m.denied)
		}
	})
}

// TestAdjustKeyLayout checks the keys, values and relative TTLs Adjust writes: the same keys
// as Take, a count never below zero, and a TTL that covers a token bucket's debt.
func TestAdjustKeyLayout(t *testing.T) {
	mr := miniredis.RunT(t)
	s, err := redisstore.New(newClient(t, mr.Addr()), redisstore.Config{Prefix: "app:"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Date(2030, 6, 1, 12, 0, 20, 0, time.UTC)
	adjust := func(p core.Policy, delta int64) {
		t.Helper()
		if d, err := s.Adjust(ctx, "u", p, delta, now); err != nil || !d.Allowed {
			t.Fatalf("%s %+d: %+v, %v", p.Algorithm, delta, d, err)
		}
	}
	fw := core.NewFixedWindow("api", 5, time.Minute)
	sw := core.NewSlidingWindow("api", 5, time.Minute)
	tb := core.NewTokenBucket("api", 1, time.Second, 5)
	adjust(fw, 8)
	adjust(sw, 8)
	adjust(tb, 8)
	for _, c := range []struct {
		key   string
		ttl   time.Duration
		field string
		want  string
	}{
		{"app:{api:u}:fw", 40*time.Second + time.Second, "c", "8"},  // to the end of the minute, plus the slack
		{"app:{api:u}:sw", 100*time.Second + time.Second, "c", "8"}, // the next window too
		{"app:{api:u}:tb", 8*time.Second + time.Second, "", strconv.FormatInt(now.Add(8*time.Second).UnixNano(), 10)},
	} {
		if got := mr.TTL(c.key); got != c.ttl {
			t.Errorf("key %q: TTL %v, want %v (keys: %q)", c.key, got, c.ttl, mr.Keys())
		}
		var got string
		if c.field != "" {
			got = mr.HGet(c.key, c.field)
		} else {
			got, _ = mr.Get(c.key)
		}
		if got != c.want {
			t.Errorf("key %q: stored %q, want %q", c.key, got, c.want)
		}
	}
	// Refunds beyond what was spent: a count of zero, a TAT of now (a full bucket).
	adjust(fw, -100)
	adjust(tb, -100)
	if got := mr.HGet("app:{api:u}:fw", "c"); got != "0" {
		t.Errorf("fixed window after a refund beyond the count: %q, want 0", got)
	}
	if got, _ := mr.Get("app:{api:u}:tb"); got != strconv.FormatInt(now.UnixNano(), 10) || mr.TTL("app:{api:u}:tb") != time.Second {
		t.Errorf("token bucket after a refund beyond its debt: TAT %q TTL %v, want now and the one-second slack", got, mr.TTL("app:{api:u}:tb"))
	}
}

// TestAdjustServerTime drives miniredis's TIME and checks Adjust (mixed with Take) against
// core at the server's time, with the now argument absurd; and, on redis-server, that the
// server's clock decides.
func TestAdjustServerTime(t *testing.T) {
	for _, p := range boundaryPolicies("st-adj") {
		t.Run(p.Name, func(t *testing.T) {
			mr := miniredis.RunT(t)
			s := newStore(t, newClient(t, mr.Addr()), true)
			m := &model{t: t, s: serverClock{s}, p: p, key: "server"}
			rng := rand.New(rand.NewSource(int64(len(p.Name)) * 31))
			period := p.Window
			if p.Calendar == core.Monthly {
				period = 31 * day
			}
			if p.Algorithm == core.TokenBucket {
				period = p.EmissionInterval() * time.Duration(p.Capacity())
			}
			start := time.Now().Truncate(time.Microsecond)
			now := start
			for i := 0; i < 150; i++ {
				now = now.Add(time.Duration(rng.Int63n(int64(period)/2 + 1))).Truncate(time.Microsecond)
				if now.Sub(start) > 3*period {
					// Stay clear of int64's end, and see the clock go back.
					now = start.Add(time.Duration(rng.Int63n(int64(period)))).Truncate(time.Microsecond)
				}
				mr.SetTime(now)
				c := p.Capacity()
				if rng.Intn(3) == 0 {
					m.adjust(now, rng.Int63n(2*c/3+4)-c/3-1)
				} else {
					m.take(now, rng.Int63n(c/3+2))
				}
			}
			if m.adjusted == 0 || m.allowed == 0 {
				t.Fatalf("adjusted %d, allowed %d: the walk must exercise both", m.adjusted, m.allowed)
			}
		})
	}
	t.Run("redis-server", func(t *testing.T) {
		c := realBackend().client(t)
		s := newStore(t, c, true)
		ctx := context.Background()
		p := core.NewFixedWindow("st-adj-hour", 5, time.Hour)
		for i := 0; i < 3; i++ {
			if _, err := s.Adjust(ctx, "k", p, 2, absurd.Add(time.Duration(i)*time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		d, err := s.Take(ctx, "k", p, 0, absurd)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := c.Time(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		_, end := p.WindowBounds(srv.UnixNano())
		if want := time.Duration(end - srv.UnixNano()); d.Remaining != 0 || d.RetryAfter < want-time.Second || d.RetryAfter > want+time.Second {
			t.Fatalf("after 3 adjustments of +2 an hour apart on the now argument: %+v; want 6 spent in the server's hour (nothing remaining, RetryAfter about %v)", d, want)
		}
		tb := core.NewTokenBucket("st-adj-tb", 1, time.Hour, 2)
		// From a full bucket, at the server's time.
		if d, err := s.Adjust(ctx, "k", tb, 3, absurd); err != nil || d.RetryAfter != 2*time.Hour || d.ResetAfter != 3*time.Hour {
			t.Fatalf("token bucket, 3 units of a burst of 2 at 1/h: %+v, %v; want RetryAfter 2h and ResetAfter 3h", d, err)
		}
		if d, err := s.Take(ctx, "k", tb, 1, absurd.Add(10*time.Hour)); err != nil || d.Allowed {
			t.Fatalf("a take right after the debt, with the now argument 10 h later: %+v, %v; want denied (the server's clock decides)", d, err)
		}
	})
}

// Adjust with the absurd time, for TestAdjustServerTime's model.
func (s serverClock) Adjust(ctx context.Context, key string, p core.Policy, delta int64, _ time.Time) (core.Decision, error) {
	return s.Store.(storekit.Adjuster).Adjust(ctx, key, p, delta, absurd)
}

// TestAdjustRoundTrips counts the commands: one per Adjust, whatever the algorithm or the
// sign; and through a limiter that settles, one per request when the estimate was right and
// two when it was not.
func TestAdjustRoundTrips(t *testing.T) {
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
			for _, p := range []core.Policy{
				core.NewFixedWindow("rt-fw", 3, time.Minute),
				core.NewSlidingWindow("rt-sw", 3, time.Minute),
				core.NewTokenBucket("rt-tb", 3, time.Minute, 3),
				core.NewMonthlyQuota("rt-mq", 3),
			} {
				for _, delta := range []int64{2, 5, -1, -10, 0} {
					before := n.cmds.Load()
					if _, err := s.Adjust(ctx, "k", p, delta, now); err != nil {
						t.Fatal(err)
					}
					if got := n.cmds.Load() - before; got != 1 {
						t.Fatalf("%s adjust %+d sent %d commands, want 1", p.Name, delta, got)
					}
				}
			}
			for _, tc := range []struct {
				name       string
				real       int64
				wantPerReq float64
			}{
				{"estimate right", 4, 1},
				{"estimate wrong", 7, 2},
			} {
				lim, err := core.NewLimiter(core.Config{
					Store: s,
					Rules: []core.Rule{{
						Policy: core.NewFixedWindow("rt-settle-"+strconv.FormatInt(tc.real, 10), 1000, time.Hour),
						Settle: func(_ core.Request, out core.Outcome) int64 { return out.Reported },
					}},
					Now: func() time.Time { return now },
					Observer: core.ObserverFunc(func(_ context.Context, ev core.Event) {
						if ev.Kind != core.EventDecision {
							t.Errorf("event %v: %v", ev.Kind, ev.Err)
						}
					}),
				})
				if err != nil {
					t.Fatal(err)
				}
				const requests = 10
				// Scripts, not commands: the settlements run on goroutines of their own, so
				// the client dials more connections, each with a handshake (HELLO).
				before := n.scripts.Load()
				for i := 0; i < requests; i++ {
					res, err := lim.AllowKey(ctx, "client", 4)
					if err != nil || !res.Allowed {
						t.Fatalf("%+v, %v", res, err)
					}
					lim.Settle(ctx, nil, &res, core.Outcome{Reported: tc.real, Reports: 1})
				}
				if err := lim.Flush(ctx); err != nil {
					t.Fatal(err)
				}
				got := float64(n.scripts.Load()-before) / requests
				t.Logf("%s (estimate 4, real %d): %.0f store requests per request", tc.name, tc.real, got)
				if got != tc.wantPerReq {
					t.Fatalf("%s: %.2f store requests per request, want %.0f", tc.name, got, tc.wantPerReq)
				}
			}
		})
	}
}
