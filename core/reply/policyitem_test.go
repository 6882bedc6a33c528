package reply_test

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/core/reply"
)

// TestPolicyValues: for a single policy, Fields.Values(0) is the one-element slice adapters
// put in an http.Header: PolicyItem's value, the same slice on every render, and full
// (len == cap), so that code appending to the header copies instead of writing into the
// shared array; and rendering such a result allocates nothing.
func TestPolicyValues(t *testing.T) {
	p := core.NewSlidingWindow("pv", 30, time.Minute)
	q := core.NewFixedWindow("pv-day", 1000, 24*time.Hour)
	result := func(p core.Policy) *core.Result {
		res, err := newLimiter(t, core.Config{Store: memstore.New(), Rules: []core.Rule{{Policy: p}}}).AllowKey(context.Background(), "k", 1)
		if err != nil {
			t.Fatal(err)
		}
		return &res
	}
	rp, rq := result(p), result(q)
	var f reply.Fields
	var items reply.PolicyItems
	values := func(r *core.Result) []string {
		f.Render(r, reply.HeaderOptions{}, &items)
		return f.Values(0)
	}
	v := values(rp)
	if len(v) != 1 || cap(v) != 1 || v[0] != `"pv";q=30;w=60` || v[0] != reply.PolicyItem(p) {
		t.Fatalf("Values(0) = %q (len %d, cap %d), want [%q] with len == cap == 1", v, len(v), cap(v), reply.PolicyItem(p))
	}
	if name, value, _ := f.Field(0); name != reply.HeaderRateLimitPolicy || string(value) != v[0] || cap(value) != len(value) {
		t.Errorf("Field(0) = %s: %q (cap %d), want %s: %q, full", name, value, cap(value), reply.HeaderRateLimitPolicy, v[0])
	}
	if f.Values(1) != nil {
		t.Errorf("Values(1) = %q, want nil: only RateLimit-Policy is cached", f.Values(1))
	}
	if w := values(rp); &w[0] != &v[0] {
		t.Error("a second render returned another slice; want the cached one")
	}
	if n := testing.AllocsPerRun(100, func() { _ = values(rp) }); n != 0 {
		t.Errorf("rendering a single cached policy allocates %v times, want 0", n)
	}
	// A limiter's policies all stay rendered: alternating between two costs nothing.
	_ = values(rq)
	if n := testing.AllocsPerRun(100, func() { _, _ = values(rp), values(rq) }); n != 0 {
		t.Errorf("alternating between two cached policies allocates %v times, want 0", n)
	}
	if w := values(rp); &w[0] != &v[0] {
		t.Error("rendering another policy dropped this one's cached slice")
	}
	a := append(v, "other")
	if values(rp)[0] != `"pv";q=30;w=60` || len(values(rp)) != 1 || &a[0] == &v[0] {
		t.Error("appending to the returned slice changed the cached one")
	}
	// Items are kept per PolicyItems (per limiter), not by the package: another one renders
	// its own, and none renders afresh each time, with the same text.
	var other reply.PolicyItems
	var g reply.Fields
	g.Render(rp, reply.HeaderOptions{}, &other)
	if w := g.Values(0); len(w) != 1 || w[0] != v[0] || &w[0] == &v[0] {
		t.Errorf("another PolicyItems gave %q (shared with the first: %v), want its own %q", w, len(w) == 1 && &w[0] == &v[0], v[0])
	}
	g.Render(rp, reply.HeaderOptions{}, nil)
	if _, value, _ := g.Field(0); g.Values(0) != nil || string(value) != v[0] {
		t.Errorf("nil PolicyItems: Field(0) = %q, Values(0) = %q; want %q and no kept slice", value, g.Values(0), v[0])
	}
}
