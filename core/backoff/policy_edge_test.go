package backoff_test

import (
	"math"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core/backoff"
)

// TestWindowBounds: the doubling stops exactly at the cap, at n = 62 and for
// caps that are not a power-of-two multiple of the base.
func TestWindowBounds(t *testing.T) {
	huge := time.Duration(math.MaxInt64)
	tests := []struct {
		name      string
		base, cap time.Duration
		n         int
		want      time.Duration
	}{
		{"one below a cap one above base<<n", 10, 81, 3, 80},
		{"at a cap equal to base<<n", 10, 80, 3, 80},
		{"past the cap", 10, 81, 4, 81},
		{"base equal to cap", 10, 10, 0, 10},
		{"base above cap", 20, 10, 0, 10},
		{"1ns base, n=61", 1, huge, 61, 1 << 61},
		{"1ns base, n=62 is the cap", 1, huge, 62, huge},
		{"1ns base, n=63 is the cap", 1, huge, 63, huge},
	}
	for _, tt := range tests {
		p := backoff.Policy{Base: tt.base, Cap: tt.cap}
		if got := p.Window(tt.n); got != tt.want {
			t.Errorf("%s: Policy{Base: %d, Cap: %d}.Window(%d) = %d, want %d", tt.name, tt.base, tt.cap, tt.n, got, tt.want)
		}
	}
}

// TestDelayAtFullRand: with Rand answering 1 every jitter reaches the top of
// its range, also for windows too large for a float64 to hold exactly.
func TestDelayAtFullRand(t *testing.T) {
	huge := time.Duration(math.MaxInt64)
	odd := time.Duration(1<<60 + 255) // rounds up as a float64
	tests := []struct {
		name   string
		jitter backoff.Jitter
		cap    time.Duration
		want   time.Duration
	}{
		{"full, largest cap", backoff.FullJitter, huge, huge},
		{"full, cap rounding up as a float", backoff.FullJitter, odd, odd},
		{"full, cap rounding down as a float", backoff.FullJitter, 1<<53 + 1, 1<<53 + 1},
		{"equal, largest cap", backoff.EqualJitter, huge, huge},
		{"none, largest cap", backoff.NoJitter, huge, huge},
	}
	for _, tt := range tests {
		p := backoff.Policy{Base: time.Millisecond, Cap: tt.cap, Jitter: tt.jitter, Rand: constRand(1)}
		if got := p.Delay(100); got != tt.want {
			t.Errorf("%s: Delay(100) with Rand 1 = %d, want %d", tt.name, got, tt.want)
		}
	}
}

// TestDecorrelatedDelayUsesPreviousWindow: the stateless Delay takes
// Window(n-1) as the previous wait; never less than Base.
func TestDecorrelatedDelayUsesPreviousWindow(t *testing.T) {
	p := backoff.Policy{Base: 100 * time.Millisecond, Cap: 10 * time.Second, Jitter: backoff.DecorrelatedJitter, Rand: constRand(1)}
	for n, want := range []time.Duration{300 * time.Millisecond, 300 * time.Millisecond, 600 * time.Millisecond, 1200 * time.Millisecond} {
		if got := p.Delay(n); got != want {
			t.Errorf("decorrelated Delay(%d) with Rand 1 = %v, want 3*Window(%d) = %v", n, got, n-1, want)
		}
	}
	if got := p.NextDelay(3, 10*time.Millisecond); got != 300*time.Millisecond {
		t.Errorf("decorrelated NextDelay(3, 10ms) with Rand 1 = %v, want 3*Base = 300ms", got)
	}
	p.Rand = constRand(0.5)
	if got := p.NextDelay(0, time.Second); got != 1550*time.Millisecond {
		t.Errorf("decorrelated NextDelay(0, 1s) with Rand 0.5 = %v, want Base + 0.5*(3s-Base) = 1.55s", got)
	}
}

// TestDefaultRand: without Rand, delays are drawn from math/rand/v2 and stay
// inside the window.
func TestDefaultRand(t *testing.T) {
	p := backoff.Policy{Base: time.Second, Cap: time.Second}
	distinct := map[time.Duration]bool{}
	for i := 0; i < 100; i++ {
		d := p.Delay(0)
		if d < 0 || d > time.Second {
			t.Fatalf("Delay(0) = %v outside [0, 1s]", d)
		}
		distinct[d] = true
	}
	if len(distinct) < 50 {
		t.Errorf("100 default-Rand delays gave %d distinct values, want random ones", len(distinct))
	}
}

// TestRandOutsideUnitInterval: Rand values are clamped to [0, 1].
func TestRandOutsideUnitInterval(t *testing.T) {
	for _, tt := range []struct {
		r    float64
		want time.Duration
	}{{1, 100}, {1.0000001, 100}, {math.Inf(1), 100}, {0, 0}, {-0.5, 0}, {math.Inf(-1), 0}, {0.25, 25}} {
		p := backoff.Policy{Base: 100, Cap: 100, Rand: constRand(tt.r)}
		if got := p.Delay(0); got != tt.want {
			t.Errorf("Rand %v: Delay(0) = %d, want %d", tt.r, got, tt.want)
		}
	}
}

// TestDecorrelatedDelayAtTheLargestCap: a draw that reaches the cap exactly
// as a float64 (2^63, which no Duration holds) returns the cap.
func TestDecorrelatedDelayAtTheLargestCap(t *testing.T) {
	huge := time.Duration(math.MaxInt64)
	p := backoff.Policy{Base: 1, Cap: huge, Jitter: backoff.DecorrelatedJitter, Rand: constRand(1)}
	prev := huge / 3 // 3*prev rounds to 2^63 as a float64
	if got := p.NextDelay(0, prev); got != huge {
		t.Errorf("decorrelated NextDelay(0, %d) with Rand 1 = %d, want the cap %d", prev, got, huge)
	}
}

// TestZeroPolicyDocumentedDefaults: the zero Policy and TransportOptions use
// the values their documentation states, not merely the named constants.
func TestZeroPolicyDocumentedDefaults(t *testing.T) {
	var p backoff.Policy
	if got := p.Window(0); got != 25*time.Millisecond {
		t.Errorf("zero Policy Window(0) = %v, want 25ms", got)
	}
	if got := p.Window(100); got != 2*time.Second {
		t.Errorf("zero Policy Window(100) = %v, want 2s", got)
	}
	if backoff.DefaultMaxAttempts != 3 || backoff.DefaultMaxWait != 30*time.Second {
		t.Errorf("DefaultMaxAttempts = %d, DefaultMaxWait = %v; want 3 and 30s", backoff.DefaultMaxAttempts, backoff.DefaultMaxWait)
	}
}
