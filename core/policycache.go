package core

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// policyCache keeps PolicyFunc answers per key for a TTL, bounded in entries. Concurrent misses
// of one key may each call PolicyFunc; answers are idempotent, so that is only extra work.
type policyCache struct {
	store any // asked whether it can hold each answer (see storekit.PolicyChecker)
	ttl   time.Duration
	size  int
	mu    sync.RWMutex
	m     map[string]policyEntry
}

type policyEntry struct {
	p   Policy
	exp int64
}

func newPolicyCache(size int, ttl time.Duration, store any) *policyCache {
	if size <= 0 {
		size = 10000
	}
	if ttl <= 0 {
		ttl = time.Minute
	}
	return &policyCache{store: store, ttl: ttl, size: size, m: make(map[string]policyEntry)}
}

func (c *policyCache) get(ctx context.Context, fn func(context.Context, string) (Policy, error), key string, now time.Time) (Policy, error) {
	return c.getAny(ctx, fn, key, now, false)
}

// getAny returns the cached or fetched policy; concurrency says which kind of policy the
// caller needs.
func (c *policyCache) getAny(ctx context.Context, fn func(context.Context, string) (Policy, error), key string, now time.Time, concurrency bool) (Policy, error) {
	n := now.UnixNano()
	c.mu.RLock()
	e, ok := c.m[key]
	c.mu.RUnlock()
	if ok && n < e.exp {
		return e.p, nil
	}
	p, err := fn(ctx, key)
	if err != nil {
		if errors.Is(err, ErrMissingKey) {
			return Policy{}, fmt.Errorf("core: policy for key: %w", err)
		}
		return Policy{}, fmt.Errorf("%w: policy lookup: %w", ErrStoreUnavailable, err)
	}
	if err := p.Validate(); err != nil {
		return Policy{}, fmt.Errorf("%w: PolicyFunc returned %w", ErrStoreUnavailable, err)
	}
	if err := checkStore(c.store, p); err != nil {
		return Policy{}, fmt.Errorf("%w: PolicyFunc returned %w", ErrStoreUnavailable, err)
	}
	if (p.Algorithm == Concurrency) != concurrency {
		return Policy{}, fmt.Errorf("%w: %w %q: PolicyFunc returned a %v policy", ErrStoreUnavailable, ErrInvalidPolicy, p.Name, p.Algorithm)
	}
	c.mu.Lock()
	if len(c.m) >= c.size {
		for k, v := range c.m {
			if v.exp <= n || len(c.m) >= c.size {
				delete(c.m, k)
			}
			if len(c.m) < c.size*3/4 {
				break
			}
		}
	}
	c.m[key] = policyEntry{p: p, exp: n + int64(c.ttl)}
	c.mu.Unlock()
	return p, nil
}
