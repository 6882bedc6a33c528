package backoff_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core/backoff"
)

func TestWindow(t *testing.T) {
	p := backoff.Policy{Base: 10 * time.Millisecond, Cap: time.Second}
	tests := []struct {
		n    int
		want time.Duration
	}{
		{-1, 10 * time.Millisecond},
		{0, 10 * time.Millisecond},
		{1, 20 * time.Millisecond},
		{6, 640 * time.Millisecond},
		{7, time.Second},
		{62, time.Second},
		{1000, time.Second},
	}
	for _, tt := range tests {
		if got := p.Window(tt.n); got != tt.want {
			t.Errorf("Window(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
}

func TestZeroPolicyDefaults(t *testing.T) {
	var p backoff.Policy
	if got := p.Window(0); got != backoff.DefaultBase {
		t.Errorf("zero Policy Window(0) = %v, want DefaultBase %v", got, backoff.DefaultBase)
	}
	if got := p.Window(100); got != backoff.DefaultCap {
		t.Errorf("zero Policy Window(100) = %v, want DefaultCap %v", got, backoff.DefaultCap)
	}
	p.Base, p.Cap = -time.Second, -time.Second
	if got := p.Window(0); got != backoff.DefaultBase {
		t.Errorf("negative Base: Window(0) = %v, want DefaultBase %v", got, backoff.DefaultBase)
	}
}

func TestDelayFixedRand(t *testing.T) {
	base, capD := 100*time.Millisecond, time.Second
	tests := []struct {
		name   string
		jitter backoff.Jitter
		r      float64
		n      int
		want   time.Duration
	}{
		{"full half", backoff.FullJitter, 0.5, 0, 50 * time.Millisecond},
		{"full half n=2", backoff.FullJitter, 0.5, 2, 200 * time.Millisecond},
		{"full capped", backoff.FullJitter, 0.5, 10, 500 * time.Millisecond},
		{"full r=0", backoff.FullJitter, 0, 3, 0},
		{"full r above 1 clamped", backoff.FullJitter, 7, 3, 800 * time.Millisecond},
		{"full r negative clamped", backoff.FullJitter, -3, 3, 0},
		{"full r NaN clamped", backoff.FullJitter, math.NaN(), 3, 0},
		{"equal r=0", backoff.EqualJitter, 0, 2, 200 * time.Millisecond},
		{"equal r=1", backoff.EqualJitter, 1, 2, 400 * time.Millisecond},
		{"none", backoff.NoJitter, 0.3, 3, 800 * time.Millisecond},
		{"none capped", backoff.NoJitter, 0.3, 30, time.Second},
		{"decorrelated n=0 r=0", backoff.DecorrelatedJitter, 0, 0, 100 * time.Millisecond},
		{"decorrelated n=0 r=1", backoff.DecorrelatedJitter, 1, 0, 300 * time.Millisecond},
		{"decorrelated n=3 r=1 uses Window(2)", backoff.DecorrelatedJitter, 1, 3, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := backoff.Policy{Base: base, Cap: capD, Jitter: tt.jitter, Rand: constRand(tt.r)}
			if got := p.Delay(tt.n); got != tt.want {
				t.Errorf("Delay(%d) = %v, want %v", tt.n, got, tt.want)
			}
		})
	}
}

func TestNextDelayDecorrelatedUsesPrev(t *testing.T) {
	p := backoff.Policy{Base: 10 * time.Millisecond, Cap: time.Second, Jitter: backoff.DecorrelatedJitter, Rand: constRand(1)}
	if got, want := p.NextDelay(0, 50*time.Millisecond), 150*time.Millisecond; got != want {
		t.Errorf("NextDelay(0, 50ms) with r=1 = %v, want 3*prev = %v", got, want)
	}
	if got, want := p.NextDelay(0, 500*time.Millisecond), time.Second; got != want {
		t.Errorf("NextDelay(0, 500ms) with r=1 = %v, want Cap %v", got, want)
	}
}

// TestFullJitterDistribution checks, with a seeded source, that full jitter is
// uniform on [0, window]: every value inside the window, none above the cap,
// the mean near window/2 and the deciles near uniform.
func TestFullJitterDistribution(t *testing.T) {
	const samples = 20000
	src := rand.New(rand.NewPCG(1, 2))
	p := backoff.Policy{Base: 10 * time.Millisecond, Cap: 500 * time.Millisecond, Rand: src.Float64}
	for n := 0; n <= 8; n++ {
		w := p.Window(n)
		if w > p.Cap {
			t.Fatalf("Window(%d) = %v above Cap %v", n, w, p.Cap)
		}
		var sum float64
		var buckets [10]int
		for i := 0; i < samples; i++ {
			d := p.Delay(n)
			if d < 0 || d > w {
				t.Fatalf("Delay(%d) = %v outside [0, %v]", n, d, w)
			}
			sum += float64(d)
			b := int(float64(d) / float64(w) * 10)
			buckets[min(b, 9)]++
		}
		mean := sum / samples
		// Uniform on [0, w]: sd of the mean is w/sqrt(12*samples) ≈ 0.002w;
		// 2% is ten standard deviations.
		if rel := mean/float64(w) - 0.5; math.Abs(rel) > 0.02 {
			t.Errorf("n=%d: mean %v, want about %v (window/2)", n, time.Duration(mean), w/2)
		}
		for i, c := range buckets {
			if c < samples/10*85/100 || c > samples/10*115/100 {
				t.Errorf("n=%d: decile %d holds %d of %d samples, want about %d", n, i, c, samples, samples/10)
			}
		}
	}
}

func TestEqualAndDecorrelatedJitterBounds(t *testing.T) {
	const samples = 20000
	src := rand.New(rand.NewPCG(3, 4))
	base, capD := 10*time.Millisecond, 500*time.Millisecond
	eq := backoff.Policy{Base: base, Cap: capD, Jitter: backoff.EqualJitter, Rand: src.Float64}
	for n := 0; n <= 8; n++ {
		w := eq.Window(n)
		var sum float64
		for i := 0; i < samples; i++ {
			d := eq.Delay(n)
			if d < w/2 || d > w {
				t.Fatalf("equal jitter Delay(%d) = %v outside [%v, %v]", n, d, w/2, w)
			}
			sum += float64(d)
		}
		if rel := sum / samples / float64(w); math.Abs(rel-0.75) > 0.02 {
			t.Errorf("equal jitter n=%d: mean/window = %.3f, want 0.75", n, rel)
		}
	}
	dec := backoff.Policy{Base: base, Cap: capD, Jitter: backoff.DecorrelatedJitter, Rand: src.Float64}
	var prev time.Duration
	for i := 0; i < samples; i++ {
		d := dec.NextDelay(i, prev)
		lo := base
		hi := 3 * max(prev, base)
		if d < lo || d > min(hi, capD) {
			t.Fatalf("decorrelated NextDelay(%d, %v) = %v outside [%v, min(%v, %v)]", i, prev, d, lo, hi, capD)
		}
		prev = d
	}
}

func TestJitterString(t *testing.T) {
	for j, want := range map[backoff.Jitter]string{
		backoff.FullJitter: "full", backoff.EqualJitter: "equal",
		backoff.DecorrelatedJitter: "decorrelated", backoff.NoJitter: "none", 99: "unknown",
	} {
		if got := j.String(); got != want {
			t.Errorf("Jitter(%d).String() = %q, want %q", j, got, want)
		}
	}
}
