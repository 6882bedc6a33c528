package core_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// policyMaxWindow is the longest window and lease Validate accepts: ten 366-day years.
const policyMaxWindow = 10 * 366 * 24 * time.Hour

// TestPolicyValidateBoundaries pins every bound of Validate on both sides: the last value
// accepted and the first refused, with the problem the error names.
func TestPolicyValidateBoundaries(t *testing.T) {
	name64 := strings.Repeat("n", core.MaxNameLen)
	// With Limit 1 and Window policyMaxWindow the interval is policyMaxWindow, so one unit of burst is
	// the most; with a 1 ns interval the burst may be policyMaxWindow in nanoseconds.
	cases := []struct {
		name    string
		p       core.Policy
		problem string // "" means valid
	}{
		{"name of 64 bytes", core.NewFixedWindow(name64, 1, time.Second), ""},
		{"name of 65 bytes", core.NewFixedWindow(name64+"n", 1, time.Second), "name must be 1 to 64 bytes"},
		{"name of 1 byte", core.NewFixedWindow("n", 1, time.Second), ""},
		{"empty name", core.NewFixedWindow("", 1, time.Second), "name must be 1 to 64 bytes"},
		{"tilde and space in name", core.NewFixedWindow("a ~b", 1, time.Second), ""},
		{"every printable byte but quote and backslash", core.NewFixedWindow(" !#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~", 1, time.Second), ""},
		{"DEL in name", core.NewFixedWindow("a\x7f", 1, time.Second), "name must be printable ASCII without quotes or backslashes"},
		{"unit separator in name", core.NewFixedWindow("a\x1f", 1, time.Second), "name must be printable ASCII without quotes or backslashes"},
		{"backslash in name", core.NewFixedWindow(`a\b`, 1, time.Second), "name must be printable ASCII without quotes or backslashes"},
		{"quote in name", core.NewFixedWindow(`a"b`, 1, time.Second), "name must be printable ASCII without quotes or backslashes"},
		{"limit 1", core.NewSlidingWindow("a", 1, time.Second), ""},
		{"limit 0", core.NewSlidingWindow("a", 0, time.Second), "limit 0 must be at least 1"},
		{"limit -5", core.NewSlidingWindow("a", -5, time.Second), "limit -5 must be at least 1"},
		{"window 1 ns", core.NewFixedWindow("a", 1, 1), ""},
		{"window 0", core.NewFixedWindow("a", 1, 0), "window 0s must be positive and at most 87840h0m0s"},
		{"window -1 ns", core.NewSlidingWindow("a", 1, -1), "window -1ns must be positive and at most 87840h0m0s"},
		{"window at the maximum", core.NewFixedWindow("a", 1, policyMaxWindow), ""},
		{"sliding window at the maximum", core.NewSlidingWindow("a", 1, policyMaxWindow), ""},
		{"window past the maximum", core.NewFixedWindow("a", 1, policyMaxWindow+1), "window 87840h0m0.000000001s must be positive and at most 87840h0m0s"},
		{"token bucket window at the maximum", core.NewTokenBucket("a", 1, policyMaxWindow, 0), ""},
		{"token bucket window past the maximum", core.NewTokenBucket("a", 1, policyMaxWindow+1, 0), "window 87840h0m0.000000001s must be positive and at most 87840h0m0s"},
		{"1 ns interval", core.NewTokenBucket("a", 1000, 1000, 0), ""},
		{"interval under 1 ns", core.NewTokenBucket("a", 1001, 1000, 0), "rate 1001 per 1µs is finer than a nanosecond"},
		{"burst 0 means limit", core.NewTokenBucket("a", 3, time.Second, 0), ""},
		{"burst -1", core.NewTokenBucket("a", 3, time.Second, -1), "burst -1 must not be negative"},
		{"burst at the maximum", core.NewTokenBucket("a", 1, 1, int64(policyMaxWindow)), ""},
		{"burst past the maximum", core.NewTokenBucket("a", 1, 1, int64(policyMaxWindow)+1), "burst 316224000000000001 is too large for the rate"},
		{"burst past the maximum at a coarse rate", core.NewTokenBucket("a", 1, policyMaxWindow, 2), "burst 2 is too large for the rate"},
		{"limit as burst past the maximum", core.NewTokenBucket("a", 2, 2*time.Nanosecond, 0), ""},
		{"burst on sliding window", core.Policy{Name: "a", Algorithm: core.SlidingWindow, Limit: 1, Window: time.Second, Burst: 1}, "burst applies to token buckets only"},
		{"lease on fixed window", core.Policy{Name: "a", Algorithm: core.FixedWindow, Limit: 1, Window: time.Second, Lease: time.Second}, "lease applies to concurrency policies only"},
		{"lease on token bucket", core.Policy{Name: "a", Algorithm: core.TokenBucket, Limit: 1, Window: time.Second, Lease: time.Second}, "lease applies to concurrency policies only"},
		{"monthly fixed window", core.NewMonthlyQuota("a", 1), ""},
		{"monthly ignores Window", core.Policy{Name: "a", Algorithm: core.FixedWindow, Limit: 1, Window: -1, Calendar: core.Monthly}, ""},
		{"monthly token bucket", core.Policy{Name: "a", Algorithm: core.TokenBucket, Limit: 1, Window: time.Second, Calendar: core.Monthly}, "calendar months apply to fixed windows only"},
		{"unknown calendar", core.Policy{Name: "a", Algorithm: core.FixedWindow, Limit: 1, Window: time.Second, Calendar: 2}, "unknown calendar 2"},
		{"lease 1 ns", core.NewConcurrency("a", 1, 1), ""},
		{"lease at the maximum", core.NewConcurrency("a", 1, policyMaxWindow), ""},
		{"lease past the maximum", core.NewConcurrency("a", 1, policyMaxWindow+1), "lease 87840h0m0.000000001s must be positive and at most 87840h0m0s"},
		{"lease 0", core.NewConcurrency("a", 1, 0), "lease 0s must be positive and at most 87840h0m0s"},
		{"lease -1 ns", core.NewConcurrency("a", 1, -1), "lease -1ns must be positive and at most 87840h0m0s"},
		{"concurrency with a window", core.Policy{Name: "a", Algorithm: core.Concurrency, Limit: 1, Lease: time.Second, Window: time.Second}, "window, burst and calendar do not apply to concurrency policies"},
		{"concurrency with a burst", core.Policy{Name: "a", Algorithm: core.Concurrency, Limit: 1, Lease: time.Second, Burst: 1}, "window, burst and calendar do not apply to concurrency policies"},
		{"concurrency with a calendar", core.Policy{Name: "a", Algorithm: core.Concurrency, Limit: 1, Lease: time.Second, Calendar: core.Monthly}, "window, burst and calendar do not apply to concurrency policies"},
		{"concurrency with limit 0", core.NewConcurrency("a", 0, time.Second), "limit 0 must be at least 1"},
		{"no algorithm", core.Policy{Name: "a", Limit: 1, Window: time.Second}, "unknown algorithm 0"},
		{"algorithm 5", core.Policy{Name: "a", Algorithm: 5, Limit: 1, Window: time.Second}, "unknown algorithm 5"},
	}
	for _, c := range cases {
		err := c.p.Validate()
		if c.problem == "" {
			if err != nil {
				t.Errorf("%s: %v, want valid", c.name, err)
			}
			continue
		}
		var pe *core.PolicyError
		if !errors.As(err, &pe) || !errors.Is(err, core.ErrInvalidPolicy) {
			t.Errorf("%s: %v, want a *PolicyError wrapping ErrInvalidPolicy", c.name, err)
			continue
		}
		if pe.Problem != c.problem || pe.Name != c.p.Name || pe.Where != "" {
			t.Errorf("%s: %+v, want Name %q and Problem %q", c.name, *pe, c.p.Name, c.problem)
		}
		if want := `core: policy "` + c.p.Name + `": ` + c.problem; err.Error() != want && !strings.ContainsAny(c.p.Name, "\"\\\x7f\x1f") {
			t.Errorf("%s: text %q, want %q", c.name, err, want)
		}
	}
}

// TestPolicyErrorWhere: the limiter constructors say which configuration field held the bad
// policy, keeping the PolicyError inspectable.
func TestPolicyErrorWhere(t *testing.T) {
	_, err := core.NewLimiter(core.Config{Store: memstore.New(), Rules: []core.Rule{
		{Policy: core.NewFixedWindow("ok", 1, time.Second)},
		{Policy: core.NewFixedWindow("api", -5, time.Second)},
	}})
	if want := `core: Rules[1]: policy "api": limit -5 must be at least 1`; err == nil || err.Error() != want {
		t.Fatalf("NewLimiter: %v, want %q", err, want)
	}
	var pe *core.PolicyError
	if !errors.As(err, &pe) || pe.Where != "Rules[1]" || !errors.Is(err, core.ErrInvalidPolicy) {
		t.Fatalf("NewLimiter: %#v, want a *PolicyError with Where Rules[1]", err)
	}
	_, err = core.NewConcurrencyLimiter(core.ConcurrencyConfig{Store: memstore.New(), Policy: core.NewConcurrency("c", 1, 0)})
	if want := `core: ConcurrencyConfig.Policy: policy "c": lease 0s must be positive and at most 87840h0m0s`; err == nil || err.Error() != want {
		t.Fatalf("NewConcurrencyLimiter: %v, want %q", err, want)
	}
	// A policy the store cannot hold is not a PolicyError: it is prefixed with where.
	_, err = core.NewLimiter(core.Config{Store: policyRefusingStore{}, Rules: []core.Rule{{Policy: core.NewFixedWindow("p", 1, time.Second)}}})
	if err == nil || !strings.HasPrefix(err.Error(), "core: Rules[0]: ") || errors.As(err, &pe) || !errors.Is(err, errRefused) {
		t.Fatalf("NewLimiter with a store refusing the policy: %v", err)
	}
}

var errRefused = errors.New("refusing: policy not supported")

// policyRefusingStore refuses every policy through the optional check the constructors call.
type policyRefusingStore struct{}

func (policyRefusingStore) Take(context.Context, string, core.Policy, int64, time.Time) (core.Decision, error) {
	return core.Decision{}, errRefused
}

func (policyRefusingStore) CheckPolicy(core.Policy) error { return errRefused }

func TestAlgorithmString(t *testing.T) {
	for a, want := range map[core.Algorithm]string{
		core.FixedWindow:   "fixed-window",
		core.SlidingWindow: "sliding-window",
		core.TokenBucket:   "token-bucket",
		core.Concurrency:   "concurrency",
		0:                  "Algorithm(0)",
		200:                "Algorithm(200)",
	} {
		if got := a.String(); got != want {
			t.Errorf("Algorithm(%d).String() = %q, want %q", uint8(a), got, want)
		}
	}
}

// TestPolicyNumbers pins Capacity and EmissionInterval, which stores use to agree exactly.
func TestPolicyNumbers(t *testing.T) {
	cases := []struct {
		p        core.Policy
		capacity int64
		interval time.Duration
	}{
		{core.NewFixedWindow("fw", 7, time.Second), 7, time.Second / 7},
		{core.NewSlidingWindow("sw", 7, time.Second), 7, time.Second / 7},
		{core.NewTokenBucket("tb", 3, time.Second, 0), 3, 333333333},
		{core.NewTokenBucket("tb", 3, time.Second, 10), 10, 333333333},
		{core.NewTokenBucket("tb", 10, time.Second, 1), 1, 100 * time.Millisecond},
		{core.NewConcurrency("c", 4, time.Second), 4, 0},
	}
	for _, c := range cases {
		if got := c.p.Capacity(); got != c.capacity {
			t.Errorf("%+v: Capacity %d, want %d", c.p, got, c.capacity)
		}
		if got := c.p.EmissionInterval(); got != c.interval {
			t.Errorf("%+v: EmissionInterval %v, want %v", c.p, got, c.interval)
		}
	}
}

// TestWindowBoundsBefore1970: windows are aligned to the epoch on both sides of it; a time
// before 1970 belongs to the window that starts at or before it, never after.
func TestWindowBoundsBefore1970(t *testing.T) {
	s := int64(time.Second)
	p := core.NewFixedWindow("fw", 1, 10*time.Second)
	for _, c := range []struct{ now, start int64 }{
		{0, 0},
		{1, 0},
		{10*s - 1, 0},
		{10 * s, 10 * s},
		{-1, -10 * s},
		{-10 * s, -10 * s},
		{-10*s + 1, -10 * s},
		{-10*s - 1, -20 * s},
	} {
		start, end := p.WindowBounds(c.now)
		if start != c.start || end != c.start+10*s {
			t.Errorf("WindowBounds(%d) = %d, %d; want %d, %d", c.now, start, end, c.start, c.start+10*s)
		}
	}
	m := core.NewMonthlyQuota("m", 1)
	dec31 := time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC)
	start, end := m.WindowBounds(dec31.UnixNano())
	if want := time.Date(1969, 12, 1, 0, 0, 0, 0, time.UTC); start != want.UnixNano() || end != 0 {
		t.Errorf("monthly WindowBounds(1969-12-31): %v, %v; want %v, the epoch", time.Unix(0, start).UTC(), time.Unix(0, end).UTC(), want)
	}
}

// TestTakeBefore1970: a key never seen (the zero State) is a fresh allowance whatever the
// clock reads, as it is in the stores that keep no state for it; it is not a window or a TAT
// at the epoch, which a clock before 1970 would be caught up to.
func TestTakeBefore1970(t *testing.T) {
	s := time.Second
	before := time.Unix(0, 0).Add(-time.Hour - 3*s)
	cases := []struct {
		p                core.Policy
		remaining        int64
		reset, nextReset time.Duration
	}{
		{core.NewFixedWindow("fw", 2, 10*s), 1, 3 * s, 3 * s},
		{core.NewSlidingWindow("sw", 2, 10*s), 1, 3 * s, 3 * s},
		{core.NewTokenBucket("tb", 2, 10*s, 0), 1, 5 * s, 10 * s},
	}
	for _, c := range cases {
		st, d := storekit.Take(c.p, storekit.State{}, 1, before.UnixNano())
		if !d.Allowed || d.Remaining != c.remaining || d.ResetAfter != c.reset {
			t.Errorf("%s: first Take an hour before the epoch: %+v, want allowed, remaining %d, reset %v", c.p.Name, d, c.remaining, c.reset)
		}
		if st == (storekit.State{}) {
			t.Errorf("%s: the allowed Take kept the zero State", c.p.Name)
		}
		_, d = storekit.Take(c.p, st, 1, before.UnixNano())
		if !d.Allowed || d.Remaining != 0 || d.ResetAfter != c.nextReset {
			t.Errorf("%s: second Take: %+v, want allowed, remaining 0, reset %v", c.p.Name, d, c.nextReset)
		}
	}
	// State in the window that starts at the epoch is real state: a clock a second behind
	// it is caught up to that window (see TestWindowsNeverGoBack).
	fw := core.NewFixedWindow("fw", 1, 10*s)
	st, _ := storekit.Take(fw, storekit.State{}, 1, time.Unix(0, 0).UnixNano())
	if _, d := storekit.Take(fw, st, 1, time.Unix(0, 0).Add(-s).UnixNano()); d.Allowed || d.RetryAfter != 11*s {
		t.Errorf("a second behind a full epoch window: %+v, want denied for 11s", d)
	}
}

func TestPolicyValidate(t *testing.T) {
	ok := []core.Policy{
		core.NewFixedWindow("a", 1, time.Second),
		core.NewTokenBucket("b", 10, time.Second, 0),
		core.NewConcurrency("c", 1, time.Second),
		core.NewMonthlyQuota("d", 1),
	}
	for _, p := range ok {
		if err := p.Validate(); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
	bad := map[string]core.Policy{
		"empty name":      core.NewFixedWindow("", 1, time.Second),
		"quote in name":   core.NewFixedWindow(`a"b`, 1, time.Second),
		"non-ASCII name":  core.NewFixedWindow("é", 1, time.Second),
		"zero limit":      core.NewFixedWindow("a", 0, time.Second),
		"zero window":     core.NewFixedWindow("a", 1, 0),
		"no algorithm":    {Name: "a", Limit: 1, Window: time.Second},
		"burst on fixed":  {Name: "a", Algorithm: core.FixedWindow, Limit: 1, Window: time.Second, Burst: 2},
		"rate too fine":   core.NewTokenBucket("a", 10, 5*time.Nanosecond, 0),
		"no lease":        core.NewConcurrency("a", 1, 0),
		"monthly sliding": {Name: "a", Algorithm: core.SlidingWindow, Limit: 1, Calendar: core.Monthly},
		"huge window":     core.NewFixedWindow("a", 1, 100*365*24*time.Hour),
	}
	for name, p := range bad {
		if err := p.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
