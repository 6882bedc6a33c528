package core

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// resetter is implemented by stores that can forget a key's state (storekit.Resetter).
type resetter interface {
	ResetAt(ctx context.Context, key string, p Policy, now time.Time) error
}

// ErrNoSuchPolicy is returned by [Limiter.Grant] for a policy name none of the limiter's
// limits has.
var ErrNoSuchPolicy = errors.New("core: the limiter has no policy of that name")

// Usage reads key's state under every limit of l without spending: one cost-0 decision per
// limit, in order (the denial cache is not consulted, and a limit in debt does not stop the
// others from being read). Each decision's Remaining is what may still be spent now and
// ResetAfter when the allowance is whole again; a key past its limit (in debt after a
// settlement, say) reads as not Allowed, with the RetryAfter of its debt. A limit with a
// PolicyFunc reads the key's plan. Store failures are returned, not degraded: an operator
// asking for usage wants to know the store did not answer.
func (l *Limiter) Usage(ctx context.Context, key string) ([]Decision, error) {
	return l.UsageAt(ctx, key, l.now())
}

// UsageAt is [Limiter.Usage] at the given time.
func (l *Limiter) UsageAt(ctx context.Context, key string, now time.Time) ([]Decision, error) {
	out := make([]Decision, 0, len(l.limits))
	for i := range l.limits {
		p, err := l.policyOf(ctx, &l.limits[i], key, now)
		if err != nil {
			return out, err
		}
		d, err := l.store.Take(ctx, key, p, 0, now)
		if err != nil {
			return out, fmt.Errorf("core: usage of %q under policy %q: %w", key, p.Name, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// Grant gives key n units of its allowance back under the named policy, for the current
// window (or, for a token bucket, as n tokens): an operator's goodwill, what API Gateway's
// UpdateUsage does. It is a storekit.Adjuster request of −n, so it restores what the key spent, up
// to a whole allowance, never more: to raise a key's limit for good, give it another plan
// (a PolicyFunc). It returns the key's state afterwards.
func (l *Limiter) Grant(ctx context.Context, key, policy string, n int64) (Decision, error) {
	if n < 1 {
		return Decision{}, fmt.Errorf("core: Grant of %d units: give at least 1", n)
	}
	if l.adjuster == nil {
		return Decision{}, fmt.Errorf("core: Grant: the store (%T) cannot adjust a spent cost (storekit.Adjuster)", l.store)
	}
	now := l.now()
	for i := range l.limits {
		p, err := l.policyOf(ctx, &l.limits[i], key, now)
		if err != nil {
			return Decision{}, err
		}
		if p.Name != policy {
			continue
		}
		d, err := l.adjuster.Adjust(ctx, key, p, -n, now)
		if err == nil {
			l.deny.forget(p.Name, key)
		}
		return d, err
	}
	return Decision{}, fmt.Errorf("%w: %q", ErrNoSuchPolicy, policy)
}

// Reset forgets key's state under every limit of l: the key starts afresh. The store must
// implement storekit.Resetter.
func (l *Limiter) Reset(ctx context.Context, key string) error {
	r, ok := l.store.(resetter)
	if !ok {
		return fmt.Errorf("core: Reset: the store (%T) cannot reset a key (storekit.Resetter)", l.store)
	}
	now := l.now()
	for i := range l.limits {
		p, err := l.policyOf(ctx, &l.limits[i], key, now)
		if err != nil {
			return err
		}
		if err := r.ResetAt(ctx, key, p, now); err != nil {
			return fmt.Errorf("core: reset of %q under policy %q: %w", key, p.Name, err)
		}
		l.deny.forget(p.Name, key)
	}
	return nil
}

// policyOf returns r's policy for key: its static policy, or its PolicyFunc's answer.
func (l *Limiter) policyOf(ctx context.Context, r *rule, key string, now time.Time) (Policy, error) {
	if r.PolicyFunc == nil {
		return r.Policy, nil
	}
	return r.policies.get(ctx, r.PolicyFunc, key, now)
}
