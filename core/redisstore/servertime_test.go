package redisstore_test

import (
	"context"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// absurd is the now argument given to a store that uses the server's clock: it must be
// ignored.
var absurd = time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC)

// TestServerTimeMatchesCore drives miniredis's TIME (microseconds, like Redis) across window
// boundaries, at clocks up to two centuries from the app's, and checks every decision against
// core's at the server's time.
func TestServerTimeMatchesCore(t *testing.T) {
	for ename, epoch := range epochs() {
		for _, p := range boundaryPolicies("st-" + ename) {
			t.Run(ename+"/"+p.Name, func(t *testing.T) {
				mr := miniredis.RunT(t)
				s := newStore(t, newClient(t, mr.Addr()), true)
				m := &model{t: t, s: serverClock{s}, p: p, key: "server"}
				rng := rand.New(rand.NewSource(int64(len(p.Name)) * 104729))
				period := p.Window
				if p.Calendar == core.Monthly {
					period = 31 * day
				}
				if p.Algorithm == core.TokenBucket {
					period = p.EmissionInterval() * time.Duration(p.Capacity())
				}
				now := epoch.Truncate(time.Microsecond)
				for i := 0; i < 200; i++ {
					switch rng.Intn(5) {
					case 0:
					case 1:
						now = now.Add(time.Microsecond)
					case 2: // the first microsecond of the next window, or the last of this one
						var edge int64
						if p.Algorithm == core.TokenBucket {
							edge = m.st.TAT
						} else {
							_, edge = p.WindowBounds(now.UnixNano())
						}
						if e := time.Unix(0, edge).Add(time.Microsecond - 1).Truncate(time.Microsecond); e.After(now) {
							now = e.Add(-time.Duration(rng.Intn(2)) * time.Microsecond)
						}
					case 3:
						now = now.Add(time.Duration(rng.Int63n(int64(period)/3 + 1))).Truncate(time.Microsecond)
					case 4:
						now = now.Add(period + time.Duration(rng.Int63n(1e6))).Truncate(time.Microsecond)
					}
					if now.Sub(epoch) > 3*period {
						now = epoch.Add(time.Duration(rng.Int63n(int64(period)))).Truncate(time.Microsecond)
					}
					mr.SetTime(now)
					cost := rng.Int63n(p.Capacity()/3 + 2)
					m.take(now, cost)
				}
				if m.allowed == 0 || m.denied == 0 {
					t.Fatalf("the walk exercised allowed=%d denied=%d; it must exercise both", m.allowed, m.denied)
				}
			})
		}
	}
}

// serverClock hands a store the absurd time instead of the model's, which is the server's.
type serverClock struct{ core.Store }

func (s serverClock) Take(ctx context.Context, key string, p core.Policy, cost int64, _ time.Time) (core.Decision, error) {
	return s.Store.Take(ctx, key, p, cost, absurd)
}

// TestServerTimeLeases checks leases against core's model at miniredis's TIME.
func TestServerTimeLeases(t *testing.T) {
	mr := miniredis.RunT(t)
	s := newStore(t, newClient(t, mr.Addr()), true)
	p := core.NewConcurrency("st-sem", 2, 3*time.Second)
	ctx := context.Background()
	ls := storekit.Leases{}
	now := time.Now().Truncate(time.Microsecond)
	rng := rand.New(rand.NewSource(3))
	for i := 0; i < 300; i++ {
		now = now.Add(time.Duration(rng.Int63n(int64(700 * time.Millisecond)))).Truncate(time.Microsecond)
		mr.SetTime(now)
		id := fmt.Sprint("l", rng.Intn(4))
		step := fmt.Sprintf("step %d (%s %s)", i, now.Format(time.RFC3339Nano), id)
		switch rng.Intn(3) {
		case 0:
			want := storekit.AcquireLease(ls, p, id, now)
			got, err := s.Acquire(ctx, "k", p, id, absurd)
			if err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			sameDecision(t, step+" acquire", got, want)
		case 1:
			storekit.ReleaseLease(ls, id, now)
			if err := s.Release(ctx, "k", p, id, absurd); err != nil {
				t.Fatalf("%s: %v", step, err)
			}
		case 2:
			want, werr := storekit.ExtendLease(ls, p, id, now)
			got, err := s.Extend(ctx, "k", p, id, absurd)
			if (werr == nil) != (err == nil) {
				t.Fatalf("%s: extend error %v, want %v", step, err, werr)
			}
			if werr == nil {
				sameDecision(t, step+" extend", got, want)
			}
		}
	}
}

// TestServerTimeRedis checks, on redis-server, that decisions follow the server's clock and
// ignore the now argument.
func TestServerTimeRedis(t *testing.T) {
	c := realBackend().client(t)
	s := newStore(t, c, true)
	ctx := context.Background()
	p := core.NewFixedWindow("st-hour", 5, time.Hour)
	allowed := 0
	var last core.Decision
	for i := 0; i < 7; i++ {
		d, err := s.Take(ctx, "k", p, 1, absurd.Add(time.Duration(i)*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed {
			allowed++
		}
		last = d
	}
	if allowed != 5 {
		t.Fatalf("7 takes under 5 per hour, with the now argument moving an hour each time: %d allowed, want 5 (server clock)", allowed)
	}
	srv, err := c.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	_, end := p.WindowBounds(srv.UnixNano())
	if want := time.Duration(end - srv.UnixNano()); last.ResetAfter < want-time.Second || last.ResetAfter > want+time.Second {
		t.Fatalf("ResetAfter = %v; the server's clock says the hour ends in %v", last.ResetAfter, want)
	}
	sem := core.NewConcurrency("st-sem", 1, time.Minute)
	if d, err := s.Acquire(ctx, "k", sem, "a", absurd); err != nil || !d.Allowed {
		t.Fatalf("first acquire: %+v, %v", d, err)
	}
	d, err := s.Acquire(ctx, "k", sem, "b", absurd.Add(time.Hour))
	if err != nil || d.Allowed || d.RetryAfter != storekit.ConcurrencyRetryAfter {
		t.Fatalf("second acquire: %+v, %v; want denied with RetryAfter %v (the lease runs a minute on the server's clock)", d, err, storekit.ConcurrencyRetryAfter)
	}
	tb := core.NewTokenBucket("st-tb", 1, time.Hour, 2)
	for i, want := range []bool{true, true, false} {
		if d, err := s.Take(ctx, "k", tb, 1, absurd.Add(time.Duration(i)*time.Hour)); err != nil || d.Allowed != want {
			t.Fatalf("token bucket take %d: %+v, %v; want allowed=%v", i, d, err, want)
		}
	}
}

// TestServerTimeCalendar checks the script's calendar (months from the server's clock) on
// every month boundary of years with and without leap days, 1970 to 2261 (int64 nanoseconds end in 2262): one take just
// before the boundary, one on it (a new month: allowed) and one just after (denied).
func TestServerTimeCalendar(t *testing.T) {
	mr := miniredis.RunT(t)
	s := newStore(t, newClient(t, mr.Addr()), true)
	p := core.NewMonthlyQuota("st-months", 1)
	checked := 0
	for _, y := range []int{1970, 1972, 1999, 2000, 2024, 2100, 2200, 2261} {
		for m := time.January; m <= time.December; m++ {
			b := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
			if b.Unix() == 0 {
				continue // the store refuses times before 1970
			}
			mod := &model{t: t, s: serverClock{s}, p: p, key: b.Format("2006-01")}
			for _, at := range []time.Time{b.Add(-time.Microsecond), b, b.Add(time.Microsecond)} {
				mr.SetTime(at)
				mod.take(at, 1)
			}
			if mod.allowed != 2 || mod.denied != 1 {
				t.Fatalf("%s: allowed %d denied %d, want 2 and 1", b.Format("2006-01"), mod.allowed, mod.denied)
			}
			checked++
		}
	}
	t.Logf("%d month boundaries", checked)
}
