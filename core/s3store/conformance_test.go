package s3store_test

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
	"github.com/tollgate-go/tollgate/core/s3store"
	"github.com/tollgate-go/tollgate/core/storekit"
	"github.com/tollgate-go/tollgate/core/storetest"
)

// fleet is several Stores over one bucket, as several app instances would be: each call goes
// to the next store in turn, so caches are stale and compare-and-swap races are lost and
// retried, within one test process. storetest run over a fleet proves that the decisions
// stay exactly core's when instances interleave.
type fleet []*s3store.Store

var next atomic.Uint64

func (f fleet) pick() *s3store.Store { return f[next.Add(1)%uint64(len(f))] }

func (f fleet) Take(ctx context.Context, key string, p core.Policy, cost int64, now time.Time) (core.Decision, error) {
	return f.pick().Take(ctx, key, p, cost, now)
}

func (f fleet) Adjust(ctx context.Context, key string, p core.Policy, delta int64, now time.Time) (core.Decision, error) {
	return f.pick().Adjust(ctx, key, p, delta, now)
}

func (f fleet) Acquire(ctx context.Context, key string, p core.Policy, lease string, now time.Time) (core.Decision, error) {
	return f.pick().Acquire(ctx, key, p, lease, now)
}

func (f fleet) Release(ctx context.Context, key string, p core.Policy, lease string, now time.Time) error {
	return f.pick().Release(ctx, key, p, lease, now)
}

func (f fleet) Extend(ctx context.Context, key string, p core.Policy, lease string, now time.Time) (core.Decision, error) {
	return f.pick().Extend(ctx, key, p, lease, now)
}

func newFleet(t testing.TB, b backendS3, n int, cfg s3store.Config) fleet {
	f := make(fleet, n)
	for i := range f {
		f[i] = newStore(t, b.client, cfg)
	}
	return f
}

func backends(t *testing.T) map[string]func(testing.TB) backendS3 {
	return map[string]func(testing.TB) backendS3{"gofakes3": fakeS3, "versitygw": versity}
}

func TestConformanceCAS(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			s := newStore(t, b.client, s3store.Config{Bucket: b.bucket})
			t.Run("OneStore", func(t *testing.T) {
				storetest.Run(t, s, storetest.Options{})
				storetest.RunConcurrency(t, s, storetest.Options{})
			})
			t.Run("FleetOfFour", func(t *testing.T) {
				f := newFleet(t, b, 4, s3store.Config{Bucket: b.bucket, Prefix: "fleet/"})
				storetest.Run(t, f, storetest.Options{})
				storetest.RunConcurrency(t, f, storetest.Options{})
			})
			t.Run("NoCache", func(t *testing.T) {
				s := newStore(t, b.client, s3store.Config{Bucket: b.bucket, Prefix: "nocache/", CacheSize: -1})
				storetest.Run(t, s, storetest.Options{Steps: 60})
			})
		})
	}
}

// TestConformanceAdjust is storetest's section for Adjust (settling costs after the response,
// refunds) in compare-and-swap mode: one store, a fleet of four whose caches go stale and
// whose writes race, and a store that caches nothing.
func TestConformanceAdjust(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			t.Run("OneStore", func(t *testing.T) {
				storetest.RunAdjust(t, newStore(t, b.client, s3store.Config{Bucket: b.bucket}), storetest.Options{})
			})
			t.Run("FleetOfFour", func(t *testing.T) {
				storetest.RunAdjust(t, newFleet(t, b, 4, s3store.Config{Bucket: b.bucket, Prefix: "fleet/"}), storetest.Options{})
			})
			t.Run("NoCache", func(t *testing.T) {
				storetest.RunAdjust(t, newStore(t, b.client, s3store.Config{Bucket: b.bucket, Prefix: "nocache/", CacheSize: -1}), storetest.Options{Steps: 60})
			})
		})
	}
}

// TestAdjustMarkerMode: marker mode cannot adjust; Adjust and CheckAdjust say so with an
// error wrapping core.ErrInvalidPolicy and s3store.ErrMarkerMode that names marker mode, and
// nothing is written.
func TestAdjustMarkerMode(t *testing.T) {
	b := fakeS3(t)
	api := &counting{API: b.client}
	s := newStore(t, api, s3store.Config{Bucket: b.bucket, Mode: s3store.Marker})
	p := core.NewFixedWindow(uniq("marker-adjust"), 5, time.Minute)
	for _, delta := range []int64{3, -1} {
		_, err := s.Adjust(ctx30(t), "k", p, delta, time.Now())
		if !errors.Is(err, core.ErrInvalidPolicy) || !errors.Is(err, s3store.ErrMarkerMode) || !strings.Contains(err.Error(), "marker mode cannot adjust") {
			t.Errorf("Adjust(%+d) in marker mode: %v; want an error wrapping ErrInvalidPolicy and ErrMarkerMode that names marker mode", delta, err)
		}
	}
	if err := s.CheckAdjust(p); !errors.Is(err, s3store.ErrMarkerMode) {
		t.Errorf("CheckAdjust in marker mode: %v; want ErrMarkerMode", err)
	}
	if n := api.total(); n != 0 {
		t.Errorf("refused adjustments made %d requests (%s); want none", n, api)
	}
	cas := newStore(t, b.client, s3store.Config{Bucket: b.bucket})
	if err := cas.CheckAdjust(p); err != nil {
		t.Errorf("CheckAdjust in compare-and-swap mode: %v", err)
	}
	if err := cas.CheckAdjust(core.NewConcurrency(uniq("c"), 1, time.Minute)); !errors.Is(err, core.ErrInvalidPolicy) {
		t.Errorf("CheckAdjust of a concurrency policy: %v; want ErrInvalidPolicy", err)
	}
}

// TestConformanceMarker is marker mode's conformance suite. storetest.Run cannot run as is:
// its scripted sequences include sliding windows and token buckets and costs of 2, which
// marker mode refuses by design. This test applies storetest's checks to what marker mode
// supports — fixed windows and monthly quotas with costs 0 and 1 — against core's
// storekit.Take, plus exactness under contention, bad input and bad keys.
func TestConformanceMarker(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			cfg := s3store.Config{Bucket: b.bucket, Mode: s3store.Marker}
			s := newStore(t, b.client, cfg)
			cfg.Prefix = "fleet/"
			f := newFleet(t, b, 4, cfg)
			for _, c := range []struct {
				name string
				s    core.Store
			}{{"OneStore", s}, {"FleetOfFour", f}} {
				t.Run(c.name, func(t *testing.T) {
					t.Run("Scripted", func(t *testing.T) { markerScripted(t, c.s) })
					t.Run("Exact", func(t *testing.T) { markerExact(t, c.s) })
					t.Run("BadInput", func(t *testing.T) { markerBadInput(t, c.s) })
					t.Run("BadKeys", func(t *testing.T) { markerBadKeys(t, c.s) })
				})
			}
		})
	}
}

var uniqN atomic.Int64

func uniq(base string) string {
	return fmt.Sprintf("%s-%d-%d", base, time.Now().UnixNano()%1e6, uniqN.Add(1))
}

func sameDecision(t *testing.T, step string, got, want core.Decision) {
	t.Helper()
	if got.Allowed != want.Allowed || got.Limit != want.Limit || got.Remaining != want.Remaining ||
		got.RetryAfter != want.RetryAfter || got.ResetAfter != want.ResetAfter || got.Policy != want.Policy {
		t.Fatalf("%s:\n got  %+v\n want %+v", step, got, want)
	}
}

func markerScripted(t *testing.T, s core.Store) {
	base := time.Now().Truncate(time.Hour).Add(-time.Hour)
	month := time.Date(base.Year(), base.Month(), 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		p     core.Policy
		start time.Time
		step  time.Duration
	}{
		{core.NewFixedWindow(uniq("fw"), 5, 10*time.Second), base, 10 * time.Second / 7},
		{core.NewFixedWindow(uniq("fw1"), 1, time.Second), base, time.Second / 3},
		{core.NewMonthlyQuota(uniq("mq"), 12), month.Add(-40 * 5 * time.Second), 10 * time.Second},
	} {
		t.Run(c.p.Name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(42))
			now := c.start
			var st storekit.State
			allowed, denied := 0, 0
			for i := 0; i < 80; i++ {
				now = now.Add(time.Duration(rng.Int63n(int64(c.step))) + time.Millisecond*time.Duration(rng.Intn(3)))
				cost := int64(rng.Intn(4)) % 2 // 0 or 1, mostly 1
				if rng.Intn(3) > 0 {
					cost = 1
				}
				var want core.Decision
				st, want = storekit.Take(c.p, st, cost, now.UnixNano())
				got, err := s.Take(ctx30(t), "scripted-key", c.p, cost, now)
				if err != nil {
					t.Fatalf("step %d: Take: %v", i, err)
				}
				sameDecision(t, fmt.Sprintf("step %d (t=%s cost=%d)", i, now.Format(time.RFC3339Nano), cost), got, want)
				if cost > 0 && got.Allowed {
					allowed++
				} else if cost > 0 {
					denied++
				}
			}
			if allowed == 0 || denied == 0 {
				t.Fatalf("the script exercised allowed=%d denied=%d; it must exercise both", allowed, denied)
			}
		})
	}
}

func markerExact(t *testing.T, s core.Store) {
	p := core.NewFixedWindow(uniq("exact"), 40, time.Hour)
	now := time.Now().Truncate(time.Hour).Add(time.Minute)
	var allowed, denied atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 6; i++ {
				d, err := s.Take(ctx30(t), "hot", p, 1, now)
				if err != nil {
					errs <- err
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
	close(errs)
	for err := range errs {
		t.Fatalf("Take under concurrency: %v", err)
	}
	if allowed.Load() != p.Limit {
		t.Fatalf("16 goroutines × 6 takes: allowed %d, want exactly %d (denied %d)", allowed.Load(), p.Limit, denied.Load())
	}
	t.Logf("16 goroutines × 6 takes: allowed %d (limit %d), denied %d", allowed.Load(), p.Limit, denied.Load())
}

func markerBadInput(t *testing.T, s core.Store) {
	now := time.Now()
	fw := core.NewFixedWindow(uniq("bad"), 5, time.Minute)
	for _, c := range []struct {
		name string
		p    core.Policy
		cost int64
		want error
	}{
		{"sliding window", core.NewSlidingWindow(uniq("sw"), 5, time.Minute), 1, core.ErrInvalidPolicy},
		{"token bucket", core.NewTokenBucket(uniq("tb"), 5, time.Minute, 5), 1, core.ErrInvalidPolicy},
		{"cost 2", fw, 2, core.ErrCostExceedsCapacity},
		{"cost over capacity", fw, 6, core.ErrCostExceedsCapacity},
		{"negative cost", fw, -1, core.ErrNegativeCost},
		{"concurrency policy", core.NewConcurrency(uniq("c"), 1, time.Second), 1, core.ErrInvalidPolicy},
	} {
		_, err := s.Take(ctx30(t), "k", c.p, c.cost, now)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got error %v, want %v", c.name, err, c.want)
		}
		if c.name == "sliding window" && !errors.Is(err, s3store.ErrMarkerMode) {
			t.Errorf("%s: error %v does not wrap s3store.ErrMarkerMode", c.name, err)
		}
	}
	if cs, ok := s.(core.ConcurrencyStore); ok {
		if _, err := cs.Acquire(ctx30(t), "k", core.NewConcurrency(uniq("c"), 1, time.Second), "id", now); !errors.Is(err, core.ErrInvalidPolicy) {
			t.Errorf("Acquire in marker mode: %v, want ErrInvalidPolicy", err)
		}
	}
	if d, err := s.Take(ctx30(t), "k", fw, 1, now); err != nil || !d.Allowed || d.Remaining != 4 {
		t.Fatalf("after refused calls, a take: %+v, %v; want allowed with remaining 4 (bad input must change nothing)", d, err)
	}
}

func markerBadKeys(t *testing.T, s core.Store) {
	now := time.Now()
	p := core.NewFixedWindow(uniq("keys"), 2, time.Minute)
	if d, err := s.Take(ctx30(t), "control", p, 1, now); err != nil || !d.Allowed {
		t.Fatalf("control take: %+v, %v", d, err)
	}
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	huge := strings.Repeat("k", 1<<20)
	for name, k := range map[string]string{
		"empty": "", "binary": string(binary), "unicode": "ключ-🔑-鍵", "invalid-utf8": "\xff\xfe",
		"slashes": "../../etc/passwd", "huge": huge, "huge2": huge[:len(huge)-1] + "j",
	} {
		d, err := s.Take(ctx30(t), k, p, 1, now)
		if err != nil || !d.Allowed || d.Remaining != 1 {
			t.Errorf("key %s: first take %+v, %v; want allowed with remaining 1 (fresh state)", name, d, err)
		}
	}
	if d, err := s.Take(ctx30(t), "control", p, 1, now); err != nil || !d.Allowed || d.Remaining != 0 {
		t.Fatalf("control key after bad keys: %+v, %v; want allowed with remaining 0 (untouched)", d, err)
	}
}
