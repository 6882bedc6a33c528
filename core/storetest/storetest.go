// Package storetest is the conformance suite every Tollgate store runs. A store is done when
// it passes: the same decisions as core's pure algorithms on scripted (time, cost) sequences
// for every policy, exact limits under many goroutines, lease expiry and release, and bad keys
// (empty, 1 MiB, binary, unicode) handled without corrupting other keys.
//
// Call [Run] (rate policies) and [RunConcurrency] (leases) from a store's tests:
//
//	func TestConformance(t *testing.T) {
//		s := memstore.New()
//		storetest.Run(t, s, storetest.Options{})
//		storetest.RunConcurrency(t, s, storetest.Options{})
//	}
//
// The suite makes policy names unique per run, so a store shared with other tests (a table on
// a shared DynamoDB server, a bucket, a Redis database) is fine.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// Options tunes the suite for slow backends. Zero values are the documented defaults.
type Options struct {
	// Steps is the length of each scripted sequence. Optional. Default: 120.
	Steps int
	// Goroutines is the number of concurrent callers in the exactness tests. Optional.
	// Default: 32.
	Goroutines int
	// HugeKeyBytes is the size of the huge-key case. Optional. Default: 1 MiB.
	HugeKeyBytes int
	// Context returns the context for each store call. Optional. Default: a 30 s timeout.
	Context func() (context.Context, context.CancelFunc)
}

func (o *Options) defaults() {
	if o.Steps == 0 {
		o.Steps = 120
	}
	if o.Goroutines == 0 {
		o.Goroutines = 32
	}
	if o.HugeKeyBytes == 0 {
		o.HugeKeyBytes = 1 << 20
	}
	if o.Context == nil {
		o.Context = func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 30*time.Second)
		}
	}
}

var runID atomic.Int64

// uniq returns a policy name unique to this process and call.
func uniq(base string) string {
	return fmt.Sprintf("%s-%d-%d", base, time.Now().UnixNano()%1e6, runID.Add(1))
}

// base returns a time aligned to the hour near the real clock: stores that derive TTLs from
// now keep the state alive, and every window used below divides an hour.
func base() time.Time { return time.Now().Truncate(time.Hour).Add(-time.Hour) }

// Run checks a rate-limit store.
func Run(t *testing.T, s core.Store, o Options) {
	o.defaults()
	t.Run("ScriptedSequences", func(t *testing.T) { scripted(t, s, o) })
	t.Run("CostZeroPeeks", func(t *testing.T) { peek(t, s, o) })
	t.Run("Independence", func(t *testing.T) { independence(t, s, o) })
	t.Run("ExactUnderConcurrency", func(t *testing.T) { exact(t, s, o) })
	t.Run("BadInput", func(t *testing.T) { badInput(t, s, o) })
	t.Run("BadKeys", func(t *testing.T) { badKeys(t, s, o) })
}

func policies() []core.Policy {
	return []core.Policy{
		core.NewFixedWindow(uniq("fw"), 10, 10*time.Second),
		core.NewSlidingWindow(uniq("sw"), 10, 10*time.Second),
		core.NewTokenBucket(uniq("tb"), 5, time.Second, 8),
		core.NewTokenBucket(uniq("tb3"), 3, time.Second, 0), // a 333333333.33 ns interval
		core.NewMonthlyQuota(uniq("mq"), 25),
	}
}

// sameDecision fails the test when got differs from want.
func sameDecision(t *testing.T, step string, got, want core.Decision) {
	t.Helper()
	if got.Allowed != want.Allowed || got.Limit != want.Limit || got.Remaining != want.Remaining ||
		got.RetryAfter != want.RetryAfter || got.ResetAfter != want.ResetAfter || got.Policy != want.Policy {
		t.Fatalf("%s:\n got  allowed=%v limit=%d remaining=%d retry=%v reset=%v policy=%q\n want allowed=%v limit=%d remaining=%d retry=%v reset=%v policy=%q",
			step, got.Allowed, got.Limit, got.Remaining, got.RetryAfter, got.ResetAfter, got.Policy.Name,
			want.Allowed, want.Limit, want.Remaining, want.RetryAfter, want.ResetAfter, want.Policy.Name)
	}
}

func scripted(t *testing.T, s core.Store, o Options) {
	for _, p := range policies() {
		t.Run(p.Algorithm.String()+"/"+p.Name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(42))
			now := base()
			step := p.Window / 7
			if p.Calendar == core.Monthly {
				// Cross a month boundary.
				now = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).Add(-time.Duration(o.Steps/2) * 5 * time.Second)
				step = 10 * time.Second
			}
			var st storekit.State
			key := "scripted-key"
			allowed, denied := 0, 0
			for i := 0; i < o.Steps; i++ {
				now = now.Add(time.Duration(rng.Int63n(int64(step))) + time.Millisecond*time.Duration(rng.Intn(3)))
				cost := int64(rng.Intn(3)) // 0, 1 or 2
				var want core.Decision
				st, want = storekit.Take(p, st, cost, now.UnixNano())
				ctx, cancel := o.Context()
				got, err := s.Take(ctx, key, p, cost, now)
				cancel()
				if err != nil {
					t.Fatalf("step %d (t=%v cost=%d): Take: %v", i, now, cost, err)
				}
				sameDecision(t, fmt.Sprintf("step %d (t=%s cost=%d)", i, now.Format(time.RFC3339Nano), cost), got, want)
				if cost > 0 {
					if got.Allowed {
						allowed++
					} else {
						denied++
					}
				}
			}
			if allowed == 0 || denied == 0 {
				t.Fatalf("the script exercised allowed=%d denied=%d; it must exercise both", allowed, denied)
			}
		})
	}
}

func peek(t *testing.T, s core.Store, o Options) {
	p := core.NewFixedWindow(uniq("peek"), 3, time.Minute)
	now := base()
	ctx, cancel := o.Context()
	defer cancel()
	for i := 0; i < 3; i++ {
		d, err := s.Take(ctx, "k", p, 0, now)
		if err != nil || !d.Allowed || d.Remaining != 3 {
			t.Fatalf("peek %d: got %+v, %v; want allowed with remaining 3 (cost 0 spends nothing)", i, d, err)
		}
	}
	if d, err := s.Take(ctx, "k", p, 3, now); err != nil || !d.Allowed || d.Remaining != 0 {
		t.Fatalf("take 3 after peeks: got %+v, %v; want allowed, remaining 0", d, err)
	}
}

func independence(t *testing.T, s core.Store, o Options) {
	p1 := core.NewFixedWindow(uniq("ind-a"), 2, time.Minute)
	p2 := core.NewFixedWindow(uniq("ind-b"), 2, time.Minute)
	now := base()
	ctx, cancel := o.Context()
	defer cancel()
	for i := 0; i < 2; i++ {
		if d, err := s.Take(ctx, "alice", p1, 1, now); err != nil || !d.Allowed {
			t.Fatalf("alice/%s take %d: %+v, %v", p1.Name, i, d, err)
		}
	}
	if d, _ := s.Take(ctx, "alice", p1, 1, now); d.Allowed {
		t.Fatalf("alice's third take under %s was allowed; limit is 2", p1.Name)
	}
	if d, err := s.Take(ctx, "bob", p1, 1, now); err != nil || !d.Allowed || d.Remaining != 1 {
		t.Fatalf("bob under %s shares alice's state: %+v, %v", p1.Name, d, err)
	}
	if d, err := s.Take(ctx, "alice", p2, 1, now); err != nil || !d.Allowed || d.Remaining != 1 {
		t.Fatalf("alice under another policy name shares state: %+v, %v", d, err)
	}
	// Keys that differ only in their last byte, or are prefixes of each other.
	for _, k := range []string{"alice\x00", "alic", "alice ", "ALICE"} {
		if d, err := s.Take(ctx, k, p1, 1, now); err != nil || !d.Allowed || d.Remaining != 1 {
			t.Fatalf("key %q shares alice's state: %+v, %v", k, d, err)
		}
	}
}

func exact(t *testing.T, s core.Store, o Options) {
	for _, p := range []core.Policy{
		core.NewFixedWindow(uniq("exact-fw"), 50, time.Hour),
		core.NewSlidingWindow(uniq("exact-sw"), 50, time.Hour),
		core.NewTokenBucket(uniq("exact-tb"), 1, time.Hour, 50),
	} {
		t.Run(p.Algorithm.String(), func(t *testing.T) {
			now := base().Add(time.Minute) // every caller at the same instant: no refill
			var allowed, denied atomic.Int64
			var wg sync.WaitGroup
			perG := (int(p.Capacity())*2)/o.Goroutines + 2
			var firstErr atomic.Value
			for g := 0; g < o.Goroutines; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < perG; i++ {
						ctx, cancel := o.Context()
						d, err := s.Take(ctx, "hot", p, 1, now)
						cancel()
						if err != nil {
							firstErr.CompareAndSwap(nil, err)
							return
						}
						if d.Allowed {
							allowed.Add(1)
						} else {
							denied.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			if err, _ := firstErr.Load().(error); err != nil {
				t.Fatalf("Take under concurrency: %v", err)
			}
			if allowed.Load() != p.Capacity() {
				t.Fatalf("%d goroutines × %d takes: allowed %d, want exactly %d (denied %d)",
					o.Goroutines, perG, allowed.Load(), p.Capacity(), denied.Load())
			}
			t.Logf("%d goroutines × %d takes: allowed %d (limit %d), denied %d", o.Goroutines, perG, allowed.Load(), p.Capacity(), denied.Load())
		})
	}
}

func badInput(t *testing.T, s core.Store, o Options) {
	ctx, cancel := o.Context()
	defer cancel()
	now := base()
	p := core.NewFixedWindow(uniq("bad"), 5, time.Minute)
	cases := []struct {
		name string
		p    core.Policy
		cost int64
		want error
	}{
		{"cost over capacity", p, 6, core.ErrCostExceedsCapacity},
		{"negative cost", p, -1, core.ErrNegativeCost},
		{"invalid policy", core.Policy{Name: "x", Algorithm: core.FixedWindow}, 1, core.ErrInvalidPolicy},
		{"concurrency policy", core.NewConcurrency(uniq("c"), 1, time.Second), 1, core.ErrInvalidPolicy},
	}
	for _, c := range cases {
		if _, err := s.Take(ctx, "k", c.p, c.cost, now); !errors.Is(err, c.want) {
			t.Errorf("%s: got error %v, want %v", c.name, err, c.want)
		}
	}
	// None of them spent anything.
	if d, err := s.Take(ctx, "k", p, 5, now); err != nil || !d.Allowed {
		t.Fatalf("after refused calls, a full take: %+v, %v; want allowed (bad input must change nothing)", d, err)
	}
}

func badKeys(t *testing.T, s core.Store, o Options) {
	ctx, cancel := o.Context()
	defer cancel()
	now := base()
	p := core.NewFixedWindow(uniq("keys"), 2, time.Minute)
	control := "control"
	if d, err := s.Take(ctx, control, p, 1, now); err != nil || !d.Allowed {
		t.Fatalf("control take: %+v, %v", d, err)
	}
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	huge := strings.Repeat("k", o.HugeKeyBytes)
	keys := map[string]string{
		"empty":        "",
		"binary":       string(binary),
		"unicode":      "ключ-🔑-鍵",
		"invalid-utf8": "\xff\xfe\xfd",
		"slashes":      "../../etc/passwd",
		"huge":         huge,
		"huge2":        huge[:len(huge)-1] + "j", // differs from huge only in the last byte
	}
	for name, k := range keys {
		d, err := s.Take(ctx, k, p, 1, now)
		if err != nil {
			if !errors.Is(err, core.ErrInvalidKey) {
				t.Errorf("key %s: error %v does not wrap core.ErrInvalidKey", name, err)
			}
			continue
		}
		if !d.Allowed || d.Remaining != 1 {
			t.Errorf("key %s: first take %+v; want allowed with remaining 1 (fresh state)", name, d)
		}
	}
	if d, err := s.Take(ctx, control, p, 1, now); err != nil || !d.Allowed || d.Remaining != 0 {
		t.Fatalf("control key after bad keys: %+v, %v; want allowed with remaining 0 (untouched)", d, err)
	}
}

// RunConcurrency checks a lease store.
func RunConcurrency(t *testing.T, s core.ConcurrencyStore, o Options) {
	o.defaults()
	t.Run("AcquireReleaseExtend", func(t *testing.T) { leases(t, s, o) })
	t.Run("ScriptedLeases", func(t *testing.T) { scriptedLeases(t, s, o) })
	t.Run("NeverOverLimit", func(t *testing.T) { neverOver(t, s, o) })
	t.Run("BadInput", func(t *testing.T) { badLeases(t, s, o) })
}

func leases(t *testing.T, s core.ConcurrencyStore, o Options) {
	ctx, cancel := o.Context()
	defer cancel()
	p := core.NewConcurrency(uniq("sem"), 2, 10*time.Second)
	now := base()
	mustAcquire := func(id string, at time.Time, want bool) core.Decision {
		t.Helper()
		d, err := s.Acquire(ctx, "k", p, id, at)
		if err != nil {
			t.Fatalf("Acquire %s: %v", id, err)
		}
		if d.Allowed != want {
			t.Fatalf("Acquire %s at +%v: allowed=%v, want %v (%+v)", id, at.Sub(now), d.Allowed, want, d)
		}
		return d
	}
	mustAcquire("a", now, true)
	mustAcquire("b", now, true)
	d := mustAcquire("c", now, false)
	if d.RetryAfter <= 0 || d.RetryAfter > storekit.ConcurrencyRetryAfter {
		t.Fatalf("denial RetryAfter = %v, want in (0, %v]", d.RetryAfter, storekit.ConcurrencyRetryAfter)
	}
	mustAcquire("a", now, true) // re-acquiring a held lease renews it
	if err := s.Release(ctx, "k", p, "a", now); err != nil {
		t.Fatalf("Release a: %v", err)
	}
	if err := s.Release(ctx, "k", p, "a", now); err != nil {
		t.Fatalf("second Release a: %v (must be idempotent)", err)
	}
	mustAcquire("c", now, true)
	// b and c expire at +10s; extend c at +5s.
	if _, err := s.Extend(ctx, "k", p, "c", now.Add(5*time.Second)); err != nil {
		t.Fatalf("Extend c: %v", err)
	}
	// At +11s b has expired (its slot is free) but c is held until +15s.
	mustAcquire("d", now.Add(11*time.Second), true)
	mustAcquire("e", now.Add(11*time.Second), false)
	if _, err := s.Extend(ctx, "k", p, "b", now.Add(11*time.Second)); !errors.Is(err, core.ErrLeaseNotFound) {
		t.Fatalf("Extend of expired lease b: %v, want ErrLeaseNotFound", err)
	}
	if _, err := s.Extend(ctx, "k", p, "nobody", now.Add(11*time.Second)); !errors.Is(err, core.ErrLeaseNotFound) {
		t.Fatalf("Extend of unknown lease: %v, want ErrLeaseNotFound", err)
	}
	// A crashed holder: nobody releases, everything expires.
	mustAcquire("f", now.Add(time.Minute), true)
	mustAcquire("g", now.Add(time.Minute), true)
}

func scriptedLeases(t *testing.T, s core.ConcurrencyStore, o Options) {
	p := core.NewConcurrency(uniq("semscript"), 3, 4*time.Second)
	rng := rand.New(rand.NewSource(7))
	model := storekit.Leases{}
	now := base()
	for i := 0; i < o.Steps; i++ {
		now = now.Add(time.Duration(rng.Int63n(int64(900 * time.Millisecond))))
		id := fmt.Sprintf("l%d", rng.Intn(6))
		ctx, cancel := o.Context()
		step := fmt.Sprintf("step %d (+%v %s)", i, now.Sub(base()), id)
		switch op := rng.Intn(4); op {
		case 0, 1:
			want := storekit.AcquireLease(model, p, id, now)
			got, err := s.Acquire(ctx, "k", p, id, now)
			if err != nil {
				t.Fatalf("%s: Acquire: %v", step, err)
			}
			sameDecision(t, step+" acquire", got, want)
		case 2:
			storekit.ReleaseLease(model, id, now)
			if err := s.Release(ctx, "k", p, id, now); err != nil {
				t.Fatalf("%s: Release: %v", step, err)
			}
		case 3:
			want, werr := storekit.ExtendLease(model, p, id, now)
			got, err := s.Extend(ctx, "k", p, id, now)
			if errors.Is(werr, core.ErrLeaseNotFound) != errors.Is(err, core.ErrLeaseNotFound) {
				t.Fatalf("%s: Extend error %v, want %v", step, err, werr)
			}
			if werr == nil {
				sameDecision(t, step+" extend", got, want)
			}
		}
		cancel()
	}
}

func neverOver(t *testing.T, s core.ConcurrencyStore, o Options) {
	p := core.NewConcurrency(uniq("semhot"), 4, time.Minute)
	var held, peak, granted atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	rounds := 6
	for g := 0; g < o.Goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				id := fmt.Sprintf("g%d-%d", g, i)
				ctx, cancel := o.Context()
				d, err := s.Acquire(ctx, "hot", p, id, time.Now())
				cancel()
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				if !d.Allowed {
					continue
				}
				granted.Add(1)
				h := held.Add(1)
				for {
					old := peak.Load()
					if h <= old || peak.CompareAndSwap(old, h) {
						break
					}
				}
				held.Add(-1) // decremented before Release, so held never undercounts
				ctx, cancel = o.Context()
				err = s.Release(ctx, "hot", p, id, time.Now())
				cancel()
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		t.Fatalf("under concurrency: %v", err)
	}
	if peak.Load() > p.Limit {
		t.Fatalf("peak holders %d > limit %d", peak.Load(), p.Limit)
	}
	if granted.Load() == 0 {
		t.Fatalf("no lease was ever granted")
	}
	t.Logf("%d goroutines × %d rounds: %d leases granted, peak holders %d (limit %d)", o.Goroutines, rounds, granted.Load(), peak.Load(), p.Limit)
}

func badLeases(t *testing.T, s core.ConcurrencyStore, o Options) {
	ctx, cancel := o.Context()
	defer cancel()
	now := base()
	if _, err := s.Acquire(ctx, "k", core.NewFixedWindow(uniq("fw"), 1, time.Second), "id", now); !errors.Is(err, core.ErrInvalidPolicy) {
		t.Errorf("Acquire with a rate policy: %v, want ErrInvalidPolicy", err)
	}
	p := core.NewConcurrency(uniq("semkeys"), 1, time.Minute)
	if _, err := s.Acquire(ctx, "k", p, "", now); !errors.Is(err, core.ErrInvalidKey) {
		t.Errorf("Acquire with an empty lease id: %v, want ErrInvalidKey", err)
	}
	for _, id := range []string{"a b", "ключ", "x\x00y"} {
		if _, err := s.Acquire(ctx, "k", p, id, now); !errors.Is(err, core.ErrInvalidKey) {
			t.Errorf("Acquire with lease id %q (not printable ASCII): %v, want ErrInvalidKey", id, err)
		}
	}
	binary := string([]byte{0, 1, 2, 255, '/', '.', '.'})
	for _, k := range []string{"", binary, "ключ", strings.Repeat("x", o.HugeKeyBytes)} {
		d, err := s.Acquire(ctx, k, p, "id", now)
		if err != nil {
			if !errors.Is(err, core.ErrInvalidKey) {
				t.Errorf("key of %d bytes: %v does not wrap ErrInvalidKey", len(k), err)
			}
			continue
		}
		if !d.Allowed {
			t.Errorf("key of %d bytes: first acquire denied: %+v", len(k), d)
		}
	}
}
