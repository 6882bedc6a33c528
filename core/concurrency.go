package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ConcurrencyConfig configures a [ConcurrencyLimiter]. Zero values are the documented defaults.
//
// The settings both limiter kinds share (Key, Proxies, Timeout, Failure, FallbackInstances,
// Breaker, PolicyCacheTTL, PolicyCacheSize, MaxKeyLen, Shadow, Observer, Now) are those of the
// embedded [Config] and mean what they mean there, so they are written and documented once:
//
//	core.ConcurrencyConfig{
//		Store:  store,
//		Policy: core.NewConcurrency("uploads", 4, time.Minute),
//		Config: core.Config{Failure: core.FailClosed, Timeout: 50 * time.Millisecond},
//	}
//
// The rate limiter's own fields of the embedded Config (Store, Fallback, Rules,
// DenialCacheSize) have no meaning here and are refused when set, naming the field:
// ConcurrencyConfig's Store and Fallback (which hold leases, not rate state) and Policy take
// their place. Under FailOpen the request runs without a lease.
type ConcurrencyConfig struct {
	// Store holds the leases. Required.
	Store ConcurrencyStore
	// Fallback is the local store for FailFallback (a core/memstore store). Required with
	// FailFallback; its limit is Policy's divided by FallbackInstances.
	Fallback ConcurrencyStore
	// Policy is a Concurrency policy. Required unless PolicyFunc is set.
	Policy Policy
	// PolicyFunc returns the policy per key (plans), cached for PolicyCacheTTL. Optional.
	PolicyFunc func(ctx context.Context, key string) (Policy, error)
	// Config holds the shared settings (see above).
	Config
}

// ConcurrencyLimiter bounds how many requests per key run at once, across every instance that
// shares its store. Each admitted request holds a lease that expires unless extended, so a
// crashed instance cannot leak a slot. Safe for concurrent use.
type ConcurrencyLimiter struct {
	lim    Limiter // the shared machinery: budget, breaker, failure policy, observer, clock
	cstore ConcurrencyStore
	cfall  ConcurrencyStore
	rule   rule
	// orphans releases leases whose Acquire outcome is unknown, or whose Release failed.
	orphans orphans
}

// NewConcurrencyLimiter validates cfg and returns a limiter.
//
// No slot outlives an unknown outcome: when an Acquire fails or runs out of its time budget,
// the store may still apply it later, so the limiter releases that lease id in the background
// (with its own per-call budget, retried until the store answers, then once more to catch an
// acquire the store applied late). A stalled store's slots are thus free again about one
// release round trip after it recovers, not after the lease time.
func NewConcurrencyLimiter(cfg ConcurrencyConfig) (*ConcurrencyLimiter, error) {
	if cfg.Store == nil {
		return nil, errors.New("core: ConcurrencyConfig.Store is required (core/memstore is the in-process store)")
	}
	switch {
	case cfg.Config.Store != nil:
		return nil, errors.New("core: ConcurrencyConfig.Config.Store is set: a concurrency limiter's store is ConcurrencyConfig.Store")
	case cfg.Config.Fallback != nil:
		return nil, errors.New("core: ConcurrencyConfig.Config.Fallback is set: a concurrency limiter's fallback is ConcurrencyConfig.Fallback")
	case cfg.Config.Rules != nil:
		return nil, errors.New("core: ConcurrencyConfig.Config.Rules is set: a concurrency limiter's rule is ConcurrencyConfig.Policy or PolicyFunc")
	case cfg.Config.DenialCacheSize != 0:
		return nil, errors.New("core: ConcurrencyConfig.Config.DenialCacheSize is set: a concurrency limiter keeps no denial cache")
	}
	c := &ConcurrencyLimiter{
		cstore: cfg.Store,
		cfall:  cfg.Fallback,
		rule:   rule{Rule: Rule{Policy: cfg.Policy, PolicyFunc: cfg.PolicyFunc}},
	}
	c.orphans.c = c
	key, err := c.lim.init(&cfg.Config, "ConcurrencyConfig", cfg.Store, cfg.Fallback)
	if err != nil {
		return nil, err
	}
	c.rule.key = key
	if cfg.PolicyFunc != nil {
		c.rule.policies = newPolicyCache(cfg.PolicyCacheSize, cfg.PolicyCacheTTL, cfg.Store)
	} else if cfg.Policy.Algorithm != Concurrency {
		return nil, at("ConcurrencyConfig.Policy", fmt.Errorf("%w %q: leases need a concurrency policy", ErrInvalidPolicy, cfg.Policy.Name))
	} else if err := cfg.Policy.Validate(); err != nil {
		return nil, at("ConcurrencyConfig.Policy", err)
	} else if err := checkStore(cfg.Store, cfg.Policy); err != nil {
		return nil, at("ConcurrencyConfig.Policy", err)
	}
	return c, nil
}

// Lease is a held concurrency slot. Release it when the work ends (adapters do, on every exit
// path); Extend it before it expires when the work runs long. A nil *Lease (no slot was taken,
// e.g. under FailOpen) is valid: its methods do nothing. Safe for concurrent use.
type Lease struct {
	c        *ConcurrencyLimiter
	store    ConcurrencyStore
	key      string
	id       string
	policy   Policy
	acquired time.Time // on the limiter's clock
	// held measures Held with the monotonic clock when the limiter's clock is the default
	// one (whose times carry no monotonic reading, so a wall-clock step between acquire and
	// release would show in their difference); set only when an observer wants Held.
	held     time.Time
	mu       sync.Mutex
	released bool
}

// Policy returns the policy the lease was granted under.
func (l *Lease) Policy() Policy {
	if l == nil {
		return Policy{}
	}
	return l.policy
}

// Acquire takes a slot for req now. It returns the lease (nil when denied, or when a failure
// policy let the request run without one), the result for headers, and an error when no
// decision could be made (see [Limiter.Allow]).
func (c *ConcurrencyLimiter) Acquire(ctx context.Context, req Request) (*Lease, Result, error) {
	return c.AcquireAt(ctx, req, c.lim.now())
}

// AcquireAt is [ConcurrencyLimiter.Acquire] at the given time.
func (c *ConcurrencyLimiter) AcquireAt(ctx context.Context, req Request, now time.Time) (*Lease, Result, error) {
	key, err := c.rule.key(req)
	if err != nil {
		if !errors.Is(err, ErrMissingKey) && !errors.Is(err, ErrInvalidKey) {
			err = errors.Join(ErrMissingKey, err)
		}
		return nil, Result{}, err
	}
	return c.AcquireKeyAt(ctx, key, now)
}

// AcquireKey takes a slot for an explicit key instead of a request, now: for callers outside
// HTTP (job queues, workers), as [Limiter.AllowKey] is for rate rules.
func (c *ConcurrencyLimiter) AcquireKey(ctx context.Context, key string) (*Lease, Result, error) {
	return c.AcquireKeyAt(ctx, key, c.lim.now())
}

// AcquireKeyAt is [ConcurrencyLimiter.AcquireKey] at the given time.
func (c *ConcurrencyLimiter) AcquireKeyAt(ctx context.Context, key string, now time.Time) (*Lease, Result, error) {
	if key == "" {
		return nil, Result{}, ErrMissingKey
	}
	if len(key) > c.lim.maxKeyLen {
		return nil, Result{}, ErrKeyTooLong
	}
	p := c.rule.Policy
	if c.rule.PolicyFunc != nil {
		var err error
		if p, err = c.rule.policies.getAny(ctx, c.rule.PolicyFunc, key, now, true); err != nil {
			return nil, Result{}, err
		}
	}
	id := newLeaseID()
	var d Decision
	store := c.cstore
	lat, failed, err := c.lim.storeCall(ctx, now.UnixNano(), func(sctx context.Context) (err error) {
		d, err = c.cstore.Acquire(sctx, key, p, id, now)
		if err != nil && !isCallerError(err) {
			// The outcome is unknown: the store may apply the acquire after the budget ran
			// out. Release it in the background so that it cannot hold a slot for the
			// whole lease time.
			c.orphans.add(c.cstore, key, p, id, now)
		}
		return err
	})
	var deg Degradation
	if failed {
		ev := Event{Kind: EventStoreError, Key: key, Err: err, Latency: lat, Decision: Decision{Policy: p}, Op: OpAcquire}
		deg, err = c.lim.failOver(ctx, ev, func() {
			d, store = Decision{Allowed: true, Limit: p.Limit, Remaining: p.Limit - 1, Policy: p}, nil
		}, func() (err error) {
			store, p = c.cfall, FallbackPolicy(p, c.lim.instances)
			d, err = store.Acquire(ctx, key, p, id, now)
			return err
		})
		if err != nil {
			return nil, Result{Degraded: deg}, err
		}
	} else if err != nil {
		return nil, Result{}, err
	}
	if !d.Allowed && c.lim.shadow {
		d.Shadow = true
	}
	res := Result{Allowed: d.Allowed || d.Shadow}
	res.add(d, deg)
	if c.lim.observer != nil {
		c.lim.observer.Observe(ctx, Event{Kind: EventDecision, Key: key, Decision: d, Op: OpAcquire, Latency: lat, Degraded: deg})
	}
	if !d.Allowed || store == nil {
		return nil, res, nil
	}
	lease := &Lease{c: c, store: store, key: key, id: id, policy: p, acquired: now}
	if c.lim.observer != nil && c.lim.wallNow {
		lease.held = time.Now()
	}
	return lease, res, nil
}

// Release frees the slot. It is idempotent; only the first call talks to the store. The
// store call gets its own time budget and survives ctx's cancellation (a request that ended
// must still give its slot back). When the store fails, the error is returned and the limiter
// keeps releasing the lease in the background until the store answers, so the slot is not
// held for the rest of the lease time.
func (l *Lease) Release(ctx context.Context) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return nil
	}
	l.released = true
	l.mu.Unlock()
	sctx, cancel := l.c.lim.budget(context.WithoutCancel(ctx))
	defer cancel()
	now := l.c.lim.now()
	var start time.Time
	if l.c.lim.timed {
		start = time.Now()
	}
	err := l.store.Release(sctx, l.key, l.policy, l.id, now)
	var lat time.Duration
	if l.c.lim.timed {
		lat = time.Since(start)
	}
	if err != nil && !isCallerError(err) {
		// Keep trying in the background: a failed release would hold the slot until the
		// lease expires.
		l.c.orphans.add(l.store, l.key, l.policy, l.id, now)
	}
	if err != nil {
		l.c.lim.problem(ctx, Event{Kind: EventStoreError, Key: l.key, Err: err, Latency: lat, Decision: Decision{Policy: l.policy}, Op: OpRelease})
	}
	if o := l.c.lim.observer; o != nil {
		held := now.Sub(l.acquired)
		if !l.held.IsZero() {
			held = time.Since(l.held)
		}
		o.Observe(ctx, Event{Kind: EventLeaseReleased, Key: l.key, Err: err, Latency: lat,
			Decision: Decision{Policy: l.policy}, Op: OpRelease, Held: held})
	}
	return err
}

// Extend renews the lease for another Policy().Lease from now. [ErrLeaseNotFound] means the
// lease expired and its slot may be someone else's.
func (l *Lease) Extend(ctx context.Context) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	released := l.released
	l.mu.Unlock()
	if released {
		return ErrLeaseNotFound
	}
	sctx, cancel := l.c.lim.budget(ctx)
	defer cancel()
	var start time.Time
	if l.c.lim.timed {
		start = time.Now()
	}
	_, err := l.store.Extend(sctx, l.key, l.policy, l.id, l.c.lim.now())
	if err != nil && !errors.Is(err, ErrLeaseNotFound) && !isCallerError(err) {
		ev := Event{Kind: EventStoreError, Key: l.key, Err: err, Decision: Decision{Policy: l.policy}, Op: OpExtend}
		if l.c.lim.timed {
			ev.Latency = time.Since(start)
		}
		l.c.lim.problem(ctx, ev)
	}
	return err
}

// newLeaseID returns 128 random bits in hex.
func newLeaseID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Hold keeps the lease while work runs and gives it back after: it extends the lease every
// every (zero: half the policy's Lease; negative: never) until the returned function is called,
// which stops the extensions and releases the lease. Both use ctx's values but not its
// cancellation, since an aborted request must still give its slot back. Adapters call it as
// `defer lease.Hold(ctx, every)()`, so the release also runs when the handler panics. A nil
// lease returns a no-op.
func (l *Lease) Hold(ctx context.Context, every time.Duration) (done func()) {
	if l == nil {
		return func() {}
	}
	ctx = context.WithoutCancel(ctx)
	if every == 0 {
		every = l.policy.Lease / 2
	}
	stop := make(chan struct{})
	if every > 0 {
		go func() {
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					_ = l.Extend(ctx)
				}
			}
		}()
	}
	return func() {
		close(stop)
		_ = l.Release(ctx)
	}
}
