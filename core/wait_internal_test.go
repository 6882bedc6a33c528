package core

import (
	"testing"
	"time"
)

// TestWaitDefaultDelay: the documented default pause before retry n is random(0, min(500ms,
// 10ms × 2^n)): never past that window, and spread over it (not stuck at 0).
func TestWaitDefaultDelay(t *testing.T) {
	var w Wait
	for n := 0; n < 10; n++ {
		window := 500 * time.Millisecond
		if n < 6 {
			window = 10 * time.Millisecond << n
		}
		var top time.Duration
		for i := 0; i < 2000; i++ {
			d := w.delay(n)
			if d < 0 || d > window {
				t.Fatalf("delay(%d) = %v, want within [0, %v]", n, d, window)
			}
			top = max(top, d)
		}
		if top < window/2 {
			t.Errorf("delay(%d): the longest of 2000 pauses was %v, want the window %v used (over half of it)", n, top, window)
		}
	}
	w.Delay = func(n int) time.Duration { return time.Duration(n) * time.Second }
	if d := w.delay(3); d != 3*time.Second {
		t.Errorf("a custom Delay: delay(3) = %v, want what it returns (3s)", d)
	}
}
