package core_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// plans is a PolicyFunc that counts its lookups and answers p for every key.
type plans struct {
	lookups int
	p       core.Policy
	err     error
}

func (f *plans) fn(_ context.Context, key string) (core.Policy, error) {
	f.lookups++
	return f.p, f.err
}

// TestPolicyCacheTTL: answers are kept for PolicyCacheTTL (default 1 minute), up to the last
// nanosecond before it.
func TestPolicyCacheTTL(t *testing.T) {
	for _, c := range []struct {
		ttl, want time.Duration
	}{{0, time.Minute}, {10 * time.Second, 10 * time.Second}} {
		f := &plans{p: core.NewFixedWindow("pro", 100, time.Hour)}
		l := newLimiter(t, core.Config{Store: memstore.New(), PolicyCacheTTL: c.ttl, Rules: []core.Rule{{PolicyFunc: f.fn}}})
		ctx := context.Background()
		for _, at := range []time.Duration{0, c.want - 1} {
			if res, err := l.AllowKeyAt(ctx, "k", 1, t0.Add(at)); err != nil || !res.Allowed {
				t.Fatalf("%+v %v", res, err)
			}
		}
		if f.lookups != 1 {
			t.Fatalf("TTL %v: %d lookups within %v, want 1", c.ttl, f.lookups, c.want)
		}
		_, _ = l.AllowKeyAt(ctx, "k", 1, t0.Add(c.want))
		if f.lookups != 2 {
			t.Fatalf("TTL %v: %d lookups at %v, want 2", c.ttl, f.lookups, c.want)
		}
	}
}

// TestPolicyCacheSize: the cache holds PolicyCacheSize keys; one more evicts some.
func TestPolicyCacheSize(t *testing.T) {
	for _, size := range []int{4, 8} {
		f := &plans{p: core.NewFixedWindow("pro", 100, time.Hour)}
		l := newLimiter(t, core.Config{Store: memstore.New(), PolicyCacheSize: size, Rules: []core.Rule{{PolicyFunc: f.fn}}})
		ctx := context.Background()
		ask := func(n int) int {
			before := f.lookups
			for i := 0; i < n; i++ {
				_, _ = l.AllowKeyAt(ctx, fmt.Sprint("k", i), 1, t0)
			}
			return f.lookups - before
		}
		ask(size)
		if n := ask(size); n != 0 {
			t.Fatalf("size %d: %d lookups for %d cached keys", size, n, size)
		}
		ask(size + 1)
		if n := ask(size + 1); n == 0 {
			t.Fatalf("size %d: %d keys all cached", size, size+1)
		}
	}
	// The default holds 10,000.
	f := &plans{p: core.NewFixedWindow("pro", 100, time.Hour)}
	l := newLimiter(t, core.Config{Store: memstore.New(), Rules: []core.Rule{{PolicyFunc: f.fn}}})
	for range 2 {
		for i := 0; i < 200; i++ {
			_, _ = l.AllowKeyAt(context.Background(), fmt.Sprint("k", i), 1, t0)
		}
	}
	if f.lookups != 200 {
		t.Fatalf("default size: %d lookups for 200 keys asked twice", f.lookups)
	}
}

// refusingStore holds only policies up to a limit of 10.
type refusingStore struct{ *memstore.Store }

func (refusingStore) CheckPolicy(p core.Policy) error {
	if p.Limit > 10 {
		return fmt.Errorf("%w: limit above 10", core.ErrInvalidPolicy)
	}
	return nil
}

// TestPolicyFuncErrors: an unknown key is the client's error; a lookup failure, an invalid
// policy, one the store cannot hold, or one of the wrong kind is a 503; none is cached.
func TestPolicyFuncErrors(t *testing.T) {
	cases := []struct {
		name    string
		p       core.Policy
		err     error
		missing bool
	}{
		{"unknown key", core.Policy{}, fmt.Errorf("no such API key: %w", core.ErrMissingKey), true},
		{"lookup failed", core.Policy{}, errors.New("db down"), false},
		{"invalid", core.NewFixedWindow("pro", 0, time.Minute), nil, false},
		{"store cannot hold it", core.NewFixedWindow("pro", 11, time.Minute), nil, false},
		{"concurrency for a rate limit", core.NewConcurrency("pro", 1, time.Minute), nil, false},
	}
	for _, c := range cases {
		f := &plans{p: c.p, err: c.err}
		l := newLimiter(t, core.Config{Store: refusingStore{memstore.New()}, Rules: []core.Rule{{PolicyFunc: f.fn}}})
		for range 2 {
			_, err := l.AllowKeyAt(context.Background(), "k", 1, t0)
			if err == nil || errors.Is(err, core.ErrMissingKey) != c.missing || errors.Is(err, core.ErrStoreUnavailable) == c.missing {
				t.Fatalf("%s: %v", c.name, err)
			}
			if c.err != nil && !errors.Is(err, c.err) {
				t.Fatalf("%s: %v does not wrap the PolicyFunc's error", c.name, err)
			}
		}
		if f.lookups != 2 {
			t.Fatalf("%s: %d lookups, want 2 (errors are not cached)", c.name, f.lookups)
		}
	}
}

// TestConcurrencyPlans: a concurrency limiter's PolicyFunc must answer concurrency policies.
func TestConcurrencyPlans(t *testing.T) {
	for _, c := range []struct {
		p  core.Policy
		ok bool
	}{{core.NewConcurrency("pro", 2, time.Minute), true}, {core.NewFixedWindow("pro", 2, time.Minute), false}} {
		f := &plans{p: c.p}
		cl := newConcurrency(t, core.ConcurrencyConfig{Store: memstore.New(), PolicyFunc: f.fn})
		lease, res, err := cl.AcquireKeyAt(context.Background(), "k", t0)
		if ok := err == nil && res.Allowed && lease.Policy() == c.p; ok != c.ok {
			t.Fatalf("plan %v: %v %+v %v", c.p.Algorithm, lease, res, err)
		}
		if !c.ok && (!errors.Is(err, core.ErrInvalidPolicy) || !errors.Is(err, core.ErrStoreUnavailable)) {
			t.Fatalf("plan %v: %v", c.p.Algorithm, err)
		}
	}
}
