package redisstore_test

import (
	"context"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// The scripts do their arithmetic on Lua doubles. These tests drive them where doubles would
// go wrong if the times were handled as single numbers: on the nanosecond each side of window
// boundaries, with windows and bucket capacities beyond 2^53 ns (104 days), with emission
// intervals that do not divide a second, and with clocks far from now. Every decision must
// equal core's, field by field.

// sameDecision fails the test when got differs from want in any field a store fills.
func sameDecision(t *testing.T, step string, got, want core.Decision) {
	t.Helper()
	if got.Allowed != want.Allowed || got.Limit != want.Limit || got.Remaining != want.Remaining ||
		got.RetryAfter != want.RetryAfter || got.ResetAfter != want.ResetAfter || got.Policy != want.Policy {
		t.Fatalf("%s:\n got  allowed=%v limit=%d remaining=%d retry=%d reset=%d\n want allowed=%v limit=%d remaining=%d retry=%d reset=%d",
			step, got.Allowed, got.Limit, got.Remaining, got.RetryAfter, got.ResetAfter,
			want.Allowed, want.Limit, want.Remaining, want.RetryAfter, want.ResetAfter)
	}
}

// model runs a store and core's pure algorithm side by side.
type model struct {
	t     *testing.T
	s     core.Store
	p     core.Policy
	key   string
	st    storekit.State
	steps int
	// allowed and denied count decisions with a positive cost.
	allowed, denied int
	// adjusting makes walk adjust (storekit.Adjuster) on some of its steps instead of taking;
	// adjusted and refused count them.
	adjusting         bool
	adjusted, refused int
}

func (m *model) take(at time.Time, cost int64) {
	m.t.Helper()
	st, want := storekit.Take(m.p, m.st, cost, at.UnixNano())
	if want.Allowed && cost > 0 {
		// Like core/memstore, a store keeps the state a decision spends, and nothing from a
		// peek: the same thing for a clock that only moves forward, but not for one that
		// goes back.
		m.st = st
	}
	got, err := m.s.Take(context.Background(), m.key, m.p, cost, at)
	if err != nil {
		m.t.Fatalf("step %d (t=%d cost=%d): %v", m.steps, at.UnixNano(), cost, err)
	}
	sameDecision(m.t, fmt.Sprintf("%s step %d (t=%d cost=%d)", m.p.Name, m.steps, at.UnixNano(), cost), got, want)
	m.steps++
	if cost > 0 {
		if got.Allowed {
			m.allowed++
		} else {
			m.denied++
		}
	}
}

const day = 24 * time.Hour

// boundaryPolicies have windows from a few nanoseconds to beyond 2^53 ns.
func boundaryPolicies(suffix string) []core.Policy {
	n := func(s string) string { return s + "-" + suffix }
	return []core.Policy{
		core.NewFixedWindow(n("fw-1s"), 3, time.Second),
		core.NewFixedWindow(n("fw-odd"), 4, 7*time.Millisecond+3),
		core.NewFixedWindow(n("fw-3000d"), 1000, 3000*day),
		core.NewMonthlyQuota(n("mq"), 5),
		core.NewSlidingWindow(n("sw-10s"), 10, 10*time.Second),
		core.NewSlidingWindow(n("sw-odd"), 1000, 999_999_937), // a prime number of ns
		core.NewSlidingWindow(n("sw-200d"), 1000, 200*day),    // elapsed beyond 2^53 ns
		core.NewSlidingWindow(n("sw-3000d"), 1_000_003, 3000*day),
		core.NewTokenBucket(n("tb-3"), 3, time.Second, 0), // interval 333333333 ns
		core.NewTokenBucket(n("tb-burst"), 5, time.Second, 8),
		core.NewTokenBucket(n("tb-3000d"), 1, 3000*day, 1), // tau 2.6e17 ns
		core.NewTokenBucket(n("tb-big"), 7, 1000*day, 20),  // tau beyond 2^53 ns
	}
}

// epochs are the clocks the sequences start from: now, and far from it.
func epochs() map[string]time.Time {
	return map[string]time.Time{
		"now":  time.Now(),
		"1971": time.Date(1971, 3, 1, 0, 0, 0, 0, time.UTC),
		"2200": time.Date(2200, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
	}
}

func TestBoundaries(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			s := newStore(t, b.client(t), false)
			steps := 400
			if b.name != "miniredis" {
				steps = 150
			}
			for ename, epoch := range epochs() {
				for _, p := range boundaryPolicies(ename) {
					t.Run(ename+"/"+p.Name, func(t *testing.T) {
						m := &model{t: t, s: s, p: p, key: "boundary"}
						walk(m, epoch, steps, rand.New(rand.NewSource(int64(len(p.Name))*7919)))
						if m.allowed == 0 || m.denied == 0 {
							t.Fatalf("the walk exercised allowed=%d denied=%d; it must exercise both", m.allowed, m.denied)
						}
					})
				}
			}
		})
	}
}

// walk drives m through steps decisions that keep landing on and around window boundaries
// (for token buckets: around the TAT and the bucket's capacity).
func walk(m *model, epoch time.Time, steps int, rng *rand.Rand) {
	p := m.p
	period := p.Window
	if p.Calendar == core.Monthly {
		period = 31 * day
	}
	if p.Algorithm == core.TokenBucket {
		period = p.EmissionInterval() * time.Duration(p.Capacity())
	}
	now := epoch.UnixNano()
	for i := 0; i < steps; i++ {
		switch rng.Intn(6) {
		case 0: // same instant
		case 1: // one nanosecond
			now++
		case 2: // onto a boundary, or one nanosecond before or after it
			var edge int64
			if p.Algorithm == core.TokenBucket {
				edge = m.st.TAT - int64(p.EmissionInterval())*int64(rng.Intn(int(p.Capacity())+1))
			} else {
				_, edge = p.WindowBounds(now)
			}
			if edge > now {
				now = edge + int64(rng.Intn(3)) - 1
			}
		case 3: // a random part of the period
			now += rng.Int63n(int64(period)/3 + 1)
		case 4: // up to a few microseconds
			now += rng.Int63n(5000)
		case 5: // a whole period and a bit
			now += int64(period) + rng.Int63n(1000)
		}
		if now > epoch.UnixNano()+3*int64(period) {
			// Stay clear of int64's end, and see the clock go back, as it may across instances.
			now = epoch.UnixNano() + rng.Int63n(int64(period))
		}
		if m.adjusting && rng.Intn(3) == 0 {
			// Refunds, and charges that take the key into debt after a few steps.
			c := p.Capacity()
			m.adjust(time.Unix(0, now), rng.Int63n(2*c/3+4)-c/3-1)
			continue
		}
		cost := rng.Int63n(p.Capacity()/3 + 2)
		if rng.Intn(5) == 0 {
			cost = 0
		}
		m.take(time.Unix(0, now), cost)
	}
}

// TestSlidingWeightEdges checks the weighted previous count on the nanoseconds where
// floor(prev×(w−e)/w) steps, and where a different order of the same operations would round
// differently (10 × ((1e10−7e9)/1e10) is 2.9999999999999996 in doubles, 10 × 3e9 / 1e10 is 3),
// with windows up to a prime number of nanoseconds beyond 2^53 (not a double).
func TestSlidingWeightEdges(t *testing.T) {
	cases := []struct {
		window time.Duration
		prev   int64
	}{
		{10 * time.Second, 10},
		{10 * time.Second, 3},
		{time.Hour, 7},
		{999_999_937, 1000},
		{9_007_199_254_740_997, 1_000_003},
	}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			s := newStore(t, b.client(t), false)
			probes := 0
			for _, c := range cases {
				w := int64(c.window)
				p := core.NewSlidingWindow(fmt.Sprintf("sw-edges-%d-%d", w, c.prev), c.prev, c.window)
				start, _ := p.WindowBounds(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
				// For each probe, on fresh keys: fill the previous window, then spend exactly
				// what the weight leaves (allowed), or one more (denied). A script whose
				// weight differs by one from core's reaches the other verdict.
				probe := func(at int64) {
					room := p.Limit - storekit.SlidingWeight(p, c.prev, at)
					for _, cost := range []int64{room, room + 1} {
						if cost < 1 || cost > p.Limit {
							continue
						}
						m := &model{t: t, s: s, p: p, key: fmt.Sprintf("edges-%d-%d", at, cost)}
						m.take(time.Unix(0, start-w), c.prev)
						m.take(time.Unix(0, at), cost)
						probes++
					}
				}
				for k := int64(1); k < min(c.prev, 40); k++ {
					e := int64(float64(w) * float64(k) / float64(c.prev))
					for _, d := range []int64{-1, 0, 1} {
						probe(start + e + d)
					}
				}
				probe(start)
				probe(start + w - 1)
			}
			t.Logf("%d probes", probes)
		})
	}
}
