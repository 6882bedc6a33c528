package reply_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/reply"
)

// TestPolicyValues: the one-element slice adapters put in an http.Header is PolicyItem's value,
// the same slice on every call (no allocation per response), and full (len == cap), so that
// code appending to the header copies instead of writing into the shared array.
func TestPolicyValues(t *testing.T) {
	p := core.NewSlidingWindow("pv", 30, time.Minute)
	v := reply.PolicyValues(p)
	if len(v) != 1 || cap(v) != 1 || v[0] != `"pv";q=30;w=60` || v[0] != reply.PolicyItem(p) {
		t.Fatalf("PolicyValues = %q (len %d, cap %d), want [%q] with len == cap == 1", v, len(v), cap(v), reply.PolicyItem(p))
	}
	if w := reply.PolicyValues(p); &w[0] != &v[0] {
		t.Error("a second call returned another slice; want the cached one")
	}
	if n := testing.AllocsPerRun(100, func() { _ = reply.PolicyValues(p) }); n != 0 {
		t.Errorf("PolicyValues of a cached policy allocates %v times, want 0", n)
	}
	// A limiter's policies all stay rendered: alternating between two costs nothing.
	q := core.NewFixedWindow("pv-day", 1000, 24*time.Hour)
	_ = reply.PolicyValues(q)
	if n := testing.AllocsPerRun(100, func() { _, _ = reply.PolicyValues(p), reply.PolicyValues(q) }); n != 0 {
		t.Errorf("PolicyValues alternating between two cached policies allocates %v times, want 0", n)
	}
	if w := reply.PolicyValues(p); &w[0] != &v[0] {
		t.Error("rendering another policy dropped this one's cached slice")
	}
	a := append(v, "other")
	if reply.PolicyValues(p)[0] != `"pv";q=30;w=60` || len(reply.PolicyValues(p)) != 1 || &a[0] == &v[0] {
		t.Error("appending to the returned slice changed the cached one")
	}
}

// TestPolicyItemManyPolicies: more distinct policies than the cache keeps, from several
// goroutines, each still rendered right (the cache starts afresh; it never answers for
// another policy).
func TestPolicyItemManyPolicies(t *testing.T) {
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 6000; i++ {
				// One name, numbers that vary: only the whole policy identifies an item.
				p := core.NewFixedWindow(fmt.Sprintf("n%d", i%50), int64(i+1), time.Second)
				if got, want := reply.PolicyItem(p), fmt.Sprintf(`"n%d";q=%d;w=1`, i%50, i+1); got != want {
					t.Errorf("PolicyItem = %s, want %s", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}
