package core

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultTimeout is the default per-decision time budget for stores that do I/O.
const DefaultTimeout = 100 * time.Millisecond

// DefaultMaxKeyLen is the default longest key a limiter accepts.
const DefaultMaxKeyLen = 1024

// ErrKeyTooLong is returned for a key longer than Config.MaxKeyLen; it wraps [ErrInvalidKey].
var ErrKeyTooLong = fmt.Errorf("%w: key too long", ErrInvalidKey)

// Rule is what a [Limiter] enforces: a policy, the key it counts under, and the cost of a
// request. (It was called Limit before v1; Policy.Limit and Decision.Limit are numbers.)
type Rule struct {
	// Policy is the rule's policy. Required unless PolicyFunc is set.
	Policy Policy
	// PolicyFunc returns the policy for a key: API-key plans and tiers. Its answers are cached
	// per key for Config.PolicyCacheTTL. An error wrapping [ErrMissingKey] (an unknown API
	// key) is a client error; any other error fails the request with 503. Each plan's
	// policy should carry its own name ("free", "pro"). Optional.
	PolicyFunc func(ctx context.Context, key string) (Policy, error)
	// Key turns a request into the key. Optional. Default: Config.Key.
	Key KeyFunc
	// Cost returns a request's weight. Optional. Default: 1 per request. A negative cost, or
	// one above the policy's capacity, is the application's bug: the request fails with 500
	// and an [EventError] reaches the observer.
	Cost func(Request) int64
	// Shadow evaluates and reports this rule but never enforces it. Optional.
	Shadow bool
	// Settle returns the real cost of an allowed request once its handler is done, when it
	// is only known then: tokens an upstream LLM reported, rows scanned, bytes served.
	// Cost (or 1) is then the estimate spent when the request arrived, and the adapter
	// settles the difference with one store request ([Limiter.Settle]); none when the
	// estimate was right. A cost above the estimate may take the key past its limit (debt:
	// the following requests are denied until the algorithm pays it back); one below gives
	// the difference back. Requires a store that implements storekit.Adjuster. Optional.
	//
	// Worst-case overshoot: a request is admitted against the estimates of the requests
	// before it, so the cost settled in one window (or one bucket) is at most Limit plus
	// the sum, over the requests in flight when the last one was admitted, of how far each
	// real cost exceeds its estimate: with at most K requests in flight fleet-wide and real
	// costs at most C above the estimate, Limit + K × C.
	Settle func(req Request, out Outcome) int64
	// Reserve turns on batched reservations for this rule: an instance reserves a batch of
	// allowance with one store request and admits from it locally (see [Reservations] for the
	// batch rule and the bounds). Optional. Default: nil, exact mode: one store request per
	// decision.
	Reserve *Reservations
}

// Config configures a [Limiter]. Zero values are the documented defaults.
type Config struct {
	// Store holds the shared state. Required (core/memstore is the in-process default).
	Store Store
	// Rules are checked in order; all must pass. 1 to MaxRules. A request denied by one
	// rule may already have spent from the rules before it, so put the rule that denies
	// most often first. Rules after an enforced denial are not evaluated.
	Rules []Rule
	// Key is the key function of rules that set none. Optional. Default: [KeyByIP], or the
	// client address behind Proxies when Proxies is set.
	Key KeyFunc
	// Proxies, when set, makes the default key the client address behind these trusted
	// reverse proxies ([KeyByIPBehindProxies]). NewLimiter validates it and names a bad
	// entry, so that a typo in a CIDR cannot silently fall back to keying every client by
	// the load balancer's address. Optional. Default: none (clients connect directly).
	// Setting both Key and Proxies is refused: say which key you mean.
	Proxies ProxyConfig
	// Timeout is the per-decision time budget of a store call (a context deadline); past it
	// the failure policy decides. Optional. Default: DefaultTimeout. Negative: no deadline.
	// Stores that implement storekit.InProcess never get a deadline.
	Timeout time.Duration
	// Failure is what happens when the store fails. Optional. Default: FailOpen.
	Failure FailurePolicy
	// Fallback is the local store used under FailFallback (a core/memstore). Required with
	// FailFallback.
	Fallback Store
	// FallbackInstances divides every limit for the fallback store (see [FallbackPolicy]).
	// Optional. Default: 1.
	FallbackInstances int
	// Breaker configures the circuit breaker in front of the store. Optional.
	Breaker BreakerConfig
	// DenialCacheSize bounds the denial cache (entries): a key the store denied until T is
	// denied locally, without a store call, until T. While the cache is full of live
	// denials, a key is cached on a repeated denial (usually its second), so that a flood of
	// one-off keys cannot evict the repeat offenders it is for. Optional. Default: 10,000.
	// Negative disables it.
	DenialCacheSize int
	// PolicyCacheTTL is how long PolicyFunc answers are kept. Optional. Default: 1m.
	PolicyCacheTTL time.Duration
	// PolicyCacheSize bounds the policy cache (entries). Optional. Default: 10,000.
	PolicyCacheSize int
	// MaxKeyLen is the longest key accepted, in bytes. Optional. Default: DefaultMaxKeyLen.
	MaxKeyLen int
	// Shadow puts every limit in shadow mode: evaluate, emit headers and events, never deny.
	Shadow bool
	// Observer receives every decision and store error. Optional. Default: none for
	// decisions; store errors, breaker changes and application errors are logged through
	// slog.Default at Warn (at most one store-error line per second, with a count of those
	// left out), so that a failing store is never silent. An explicit Observer replaces that
	// logging; core.ObserverFunc(func(context.Context, core.Event) {}) silences it.
	Observer Observer
	// Now is the clock. Optional. Default: the wall clock, read once a second and advanced
	// by the monotonic clock in between (one clock read per decision instead of time.Now's
	// two; a step of the wall clock is seen within a second).
	Now func() time.Time
}

// Limiter decides whether requests may proceed under several limits. It is safe for
// concurrent use; build it once with [NewLimiter] and share it.
type Limiter struct {
	store   Store
	limits  []rule
	pending [][]Policy // pending[i]: the static policies of limits i and after
	settleState
	timeout   time.Duration
	failure   FailurePolicy
	fallback  Store
	instances int
	breaker   *breaker
	deny      *denyCache
	maxKeyLen int
	shadow    bool
	observer  Observer
	timed     bool     // time store calls: an observer is set and the store does I/O
	inProcess bool     // the store never waits on I/O (storekit.InProcess)
	problems  Observer // the default for problem events when observer is nil (logProblems)
	now       func() time.Time
	clock     wallClock // the default now
	wallNow   bool      // now is clock.now: its times carry no monotonic reading
}

type rule struct {
	Rule
	key      KeyFunc
	policies *policyCache // this rule's PolicyFunc answers, per key (nil without one)
	batches  *batches     // reservations (nil in exact mode)
}

// NewLimiter validates cfg and returns a limiter, or an error saying what is wrong.
func NewLimiter(cfg Config) (*Limiter, error) {
	if cfg.Store == nil {
		return nil, errors.New("core: Config.Store is required (core/memstore is the in-process store)")
	}
	if len(cfg.Rules) == 0 || len(cfg.Rules) > MaxRules {
		return nil, fmt.Errorf("core: a limiter needs 1 to %d limits, got %d", MaxRules, len(cfg.Rules))
	}
	l := &Limiter{store: cfg.Store, fallback: cfg.Fallback}
	key, err := l.init(&cfg, "Config", cfg.Store, cfg.Fallback)
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.DenialCacheSize == 0:
		l.deny = newDenyCache(10000)
	case cfg.DenialCacheSize > 0:
		l.deny = newDenyCache(cfg.DenialCacheSize)
	}
	names := map[string]bool{}
	dynamic := false
	for i, lim := range cfg.Rules {
		r := rule{Rule: lim, key: lim.Key}
		if r.key == nil {
			r.key = key
		}
		if lim.Settle != nil {
			if _, ok := cfg.Store.(adjuster); !ok {
				return nil, fmt.Errorf("core: Rules[%d].Settle: the store (%T) cannot adjust a spent cost (storekit.Adjuster)", i, cfg.Store)
			}
			if ac, ok := cfg.Store.(adjustChecker); ok && lim.PolicyFunc == nil {
				if err := ac.CheckAdjust(lim.Policy); err != nil {
					return nil, fmt.Errorf("core: Rules[%d].Settle: %w", i, err)
				}
			}
			l.settles = true
		}
		if lim.Reserve != nil {
			rc := lim.Reserve
			if rc.Interval < 0 || rc.MaxBatch < 0 || rc.Shrink < 0 || rc.MaxKeys < 0 {
				return nil, fmt.Errorf("core: Rules[%d].Reserve: Interval, MaxBatch, Shrink and MaxKeys must not be negative", i)
			}
			r.batches = newBatches(*rc)
		}
		if lim.PolicyFunc != nil {
			dynamic = true
		} else {
			if err := lim.Policy.Validate(); err != nil {
				return nil, at(fmt.Sprintf("Rules[%d]", i), err)
			}
			if lim.Policy.Algorithm == Concurrency {
				return nil, fmt.Errorf("core: Rules[%d]: policy %q is a concurrency policy; it belongs in a ConcurrencyLimiter", i, lim.Policy.Name)
			}
			if err := checkStore(cfg.Store, lim.Policy); err != nil {
				return nil, at(fmt.Sprintf("Rules[%d]", i), err)
			}
			if names[lim.Policy.Name] {
				return nil, fmt.Errorf("core: Rules[%d]: policy name %q is used twice; names identify state", i, lim.Policy.Name)
			}
			names[lim.Policy.Name] = true
		}
		l.limits = append(l.limits, r)
	}
	l.adjuster, _ = cfg.Store.(adjuster)
	l.pending = make([][]Policy, len(l.limits)+1)
	for i := len(l.limits) - 1; i >= 0; i-- {
		l.pending[i] = l.pending[i+1]
		if l.limits[i].PolicyFunc == nil {
			l.pending[i] = append([]Policy{l.limits[i].Policy}, l.pending[i+1]...)
		}
	}
	if dynamic {
		// One cache per rule: two PolicyFunc limits (a plan's rate and its quota) answer
		// different policies for the same key.
		for i := range l.limits {
			if l.limits[i].PolicyFunc != nil {
				l.limits[i].policies = newPolicyCache(cfg.PolicyCacheSize, cfg.PolicyCacheTTL, cfg.Store)
			}
		}
	}
	return l, nil
}

// proxyKey returns the default key function given Key and Proxies of a configuration named
// cfg: key itself, or the proxy-aware client address when proxies is set.
func proxyKey(cfg string, key KeyFunc, proxies ProxyConfig) (KeyFunc, error) {
	if proxies.isZero() {
		return key, nil
	}
	if key != nil {
		return nil, fmt.Errorf("core: %s.Key and %s.Proxies are both set: build the key with KeyByIPBehindProxies, or drop Key", cfg, cfg)
	}
	return proxyIPKey(cfg+".Proxies", proxies)
}

// problem reports an event that is not a decision (store errors, breaker changes,
// application errors) to the observer, or without one to the default logger.
func (l *Limiter) problem(ctx context.Context, e Event) {
	switch {
	case l.observer != nil:
		l.observer.Observe(ctx, e)
	case l.problems != nil:
		l.problems.Observe(ctx, e)
	}
}

// init applies the settings both limiter kinds share, from cfg (the Config itself, or the
// one a ConcurrencyConfig embeds; name is the configuration's type, for errors), with their
// defaults, and returns the default key function (never nil). store and fallback are the
// limiter's stores (fallback nil when unset).
func (l *Limiter) init(cfg *Config, name string, store, fallback any) (KeyFunc, error) {
	l.timeout = cfg.Timeout
	l.failure = cfg.Failure
	l.instances = max(cfg.FallbackInstances, 1)
	l.breaker = newBreaker(cfg.Breaker)
	l.maxKeyLen = cfg.MaxKeyLen
	l.shadow = cfg.Shadow
	l.observer = cfg.Observer
	l.problems = defaultProblems(cfg.Observer)
	l.now = cfg.Now
	if l.timeout == 0 {
		l.timeout = DefaultTimeout
	}
	inProcess := false
	if ip, ok := store.(inProcessStore); ok && ip.InProcess() {
		l.timeout = -1
		inProcess = true
	}
	l.timed = l.observer != nil && !inProcess
	l.inProcess = inProcess
	if l.maxKeyLen <= 0 {
		l.maxKeyLen = DefaultMaxKeyLen
	}
	if l.now == nil {
		l.now, l.wallNow = l.clock.now, true
	}
	switch cfg.Failure {
	case FailOpen, FailClosed:
	case FailFallback:
		if fallback == nil {
			return nil, fmt.Errorf("core: FailFallback needs %s.Fallback (a core/memstore store)", name)
		}
	default:
		return nil, fmt.Errorf("core: %s.Failure: unknown failure policy %d", name, cfg.Failure)
	}
	key, err := proxyKey(name, cfg.Key, cfg.Proxies)
	if err != nil {
		return nil, err
	}
	if key == nil {
		key = KeyByIP()
	}
	return key, nil
}

// Allow decides whether req may proceed now, spending one unit (or the limit's Cost) from
// every limit. The error is non-nil only when no decision could be made for the request: a key
// function error or a key refused ([ErrMissingKey], [ErrInvalidKey]), a cost the policy can
// never allow, a PolicyFunc failure, or a store failure under FailClosed
// ([ErrStoreUnavailable]). core/reply's Status maps it to an HTTP status.
func (l *Limiter) Allow(ctx context.Context, req Request) (res Result, err error) {
	// The Result (several hundred bytes) is built in place in the caller's result slot:
	// each wrapper that returned a copy of it cost a measurable share of a decision.
	err = l.allow(ctx, req, l.now(), &res)
	return res, err
}

// AllowAt is [Limiter.Allow] at the given time.
func (l *Limiter) AllowAt(ctx context.Context, req Request, now time.Time) (res Result, err error) {
	err = l.allow(ctx, req, now, &res)
	return res, err
}

func (l *Limiter) allow(ctx context.Context, req Request, now time.Time, res *Result) error {
	res.Allowed = true
	res.at, res.limiter = now.UnixNano(), l
	for i := range l.limits {
		r := &l.limits[i]
		key, err := r.key(req)
		if err != nil {
			res.Allowed = false
			if !errors.Is(err, ErrMissingKey) && !errors.Is(err, ErrInvalidKey) {
				err = errors.Join(ErrMissingKey, err)
			}
			return err
		}
		cost := int64(1)
		if r.Cost != nil {
			cost = r.Cost(req)
		}
		if err := l.decide(ctx, r, key, cost, now, res); err != nil {
			if r.Cost != nil && (errors.Is(err, ErrNegativeCost) || errors.Is(err, ErrCostExceedsCapacity)) {
				// The application's Cost function answered what no policy can take: a bug
				// on the server's side, not the client's (500, not 400), and reported.
				err = fmt.Errorf("core: Rules[%d].Cost returned %d: %s", i, cost, err.Error())
				l.problem(ctx, Event{Kind: EventError, Key: key, Err: err, Decision: Decision{Policy: r.Policy}})
			}
			return err
		}
		if !res.Allowed {
			res.pending = l.pending[i+1]
			break
		}
	}
	return nil
}

// AllowKey decides for an explicit key instead of a request: every limit counts cost under
// key. For callers outside HTTP (job queues, gRPC interceptors).
func (l *Limiter) AllowKey(ctx context.Context, key string, cost int64) (res Result, err error) {
	err = l.takeKey(ctx, key, cost, l.now(), &res)
	return res, err
}

// AllowKeyAt is [Limiter.AllowKey] at the given time.
func (l *Limiter) AllowKeyAt(ctx context.Context, key string, cost int64, now time.Time) (res Result, err error) {
	err = l.takeKey(ctx, key, cost, now, &res)
	return res, err
}

func (l *Limiter) takeKey(ctx context.Context, key string, cost int64, now time.Time, res *Result) error {
	res.Allowed = true
	res.at, res.limiter = now.UnixNano(), l
	for i := range l.limits {
		if err := l.decide(ctx, &l.limits[i], key, cost, now, res); err != nil {
			return err
		}
		if !res.Allowed {
			res.pending = l.pending[i+1]
			break
		}
	}
	return nil
}

// decide runs one limit and adds its decision to res. A non-nil error means the request must
// fail instead (res.Allowed is then false).
func (l *Limiter) decide(ctx context.Context, r *rule, key string, cost int64, now time.Time, res *Result) error {
	p := &r.Policy
	var dynamic Policy
	if r.PolicyFunc != nil {
		p = &dynamic
	}
	err := l.check(ctx, r, key, cost, now, p)
	var info takeInfo
	var d *Decision
	if err == nil {
		// The decision is written straight into its slot of res; it only counts once
		// res.n moves past it. NewLimiter allows at most MaxRules limits, so the slot
		// exists; the guard keeps a broken invariant from panicking on a request.
		var spare Decision
		d = &spare
		if res.n < MaxRules {
			d = &res.d[res.n]
		}
		if r.batches != nil {
			info, err = l.reserveTake(ctx, r, key, p, cost, now, d)
		} else {
			info, err = l.take(ctx, key, p, cost, now, d)
		}
	}
	if err != nil {
		res.Allowed = false
		return err
	}
	shadow := r.Shadow || l.shadow
	if !d.Allowed && shadow {
		d.Shadow = true
	}
	if res.n < MaxRules {
		res.keys[res.n], res.costs[res.n] = key, cost
		// A cost of 0 counts as spent too: a rule whose estimate is 0 is settled to its
		// real cost (a refund of it is zero and does nothing).
		if d.Allowed && !info.cached && info.degraded == NotDegraded {
			res.spent |= 1 << res.n
		}
		res.n++
	}
	if info.degraded > res.Degraded {
		res.Degraded = info.degraded
	}
	if l.observer != nil {
		l.observer.Observe(ctx, Event{
			Kind: EventDecision, Key: key, Decision: *d, Op: OpTake,
			Cached: info.cached, Degraded: info.degraded, Latency: info.latency,
			Local: info.local, Reserved: info.reserved,
		})
	}
	if !d.Allowed && !shadow {
		res.Allowed = false
	}
	return nil
}

// check validates key and cost for r; with a PolicyFunc it first resolves the key's policy
// into *p.
func (l *Limiter) check(ctx context.Context, r *rule, key string, cost int64, now time.Time, p *Policy) error {
	if key == "" {
		return ErrMissingKey
	}
	if len(key) > l.maxKeyLen {
		return ErrKeyTooLong
	}
	if r.PolicyFunc != nil {
		var err error
		if *p, err = l.policyOf(ctx, r, key, now); err != nil {
			return err
		}
	}
	if cost < 0 {
		return fmt.Errorf("%w: %d", ErrNegativeCost, cost)
	}
	if cost > p.Capacity() {
		return fmt.Errorf("%w: cost %d > %d (policy %q)", ErrCostExceedsCapacity, cost, p.Capacity(), p.Name)
	}
	return nil
}

// takeInfo is what take reports besides the decision.
type takeInfo struct {
	cached   bool          // answered by the denial cache
	local    bool          // answered from a reserved batch
	reserved int64         // the batch reserved from the store by this decision
	degraded Degradation   // decided by the failure policy
	latency  time.Duration // of the store call, when an observer wants it
}

// take asks the denial cache, then the store (through the breaker and the time budget), then
// the failure policy, and writes the decision to *d.
func (l *Limiter) take(ctx context.Context, key string, p *Policy, cost int64, now time.Time, d *Decision) (takeInfo, error) {
	n := now.UnixNano()
	// The common cases (no cached denials, a closed breaker) are one atomic load each,
	// checked here so that they cost no call.
	if l.deny != nil && l.deny.n.Load() != 0 {
		if cd, ok := l.deny.get(p, key, cost, n); ok {
			*d = cd
			return takeInfo{cached: true}, nil
		}
	}
	lat, failed, err := l.storeCall(ctx, n, func(sctx context.Context) (err error) {
		*d, err = l.store.Take(sctx, key, *p, cost, now)
		return err
	})
	if failed {
		return l.degrade(ctx, key, p, cost, now, err, lat, d)
	}
	if err != nil {
		return takeInfo{}, err
	}
	if !d.Allowed {
		l.deny.put(key, d, cost, n)
	}
	return takeInfo{latency: lat}, nil
}

// storeCall is the one engine of both limiter kinds around a call to the shared store: the
// circuit breaker, the per-call time budget, the latency (when an observer wants it), and the
// classification of the outcome, which also tells the breaker:
//
//   - the store answered (err nil, or the caller's error, returned as is): a success;
//   - the request's own context ended: ErrStoreUnavailable wrapping ctx.Err(), and the
//     breaker is not told (not the store's fault);
//   - the store failed, or the open breaker let no call through (ErrBreakerOpen): failed is
//     true, and the caller hands err to its failure policy ([Limiter.failOver]).
func (l *Limiter) storeCall(ctx context.Context, n int64, call func(context.Context) error) (lat time.Duration, failed bool, err error) {
	b := l.breaker
	tk, ok := b.allow(n)
	if !ok {
		return 0, true, ErrBreakerOpen
	}
	var start time.Time
	if l.timed {
		start = time.Now()
	}
	sctx, cancel := l.budget(ctx)
	err = call(sctx)
	cancel()
	if l.timed {
		lat = time.Since(start)
	}
	switch {
	case err == nil || isCallerError(err):
		// The store answered: it is alive, whatever it thought of the input.
		if b.success(tk) {
			l.problem(ctx, Event{Kind: EventBreakerClosed})
		}
		return lat, false, err
	case ctx.Err() != nil:
		// The request itself was canceled: not the store's fault.
		b.abandon(tk)
		return lat, false, fmt.Errorf("%w: %w", ErrStoreUnavailable, ctx.Err())
	}
	if b.failure(tk, n) {
		l.problem(ctx, Event{Kind: EventBreakerOpen, Err: err})
	}
	return lat, true, err
}

// budget returns ctx with the per-call time budget of a store call (none when the limiter
// has no timeout, as with an in-process store) and its cancel function.
func (l *Limiter) budget(ctx context.Context) (context.Context, context.CancelFunc) {
	if l.timeout > 0 {
		return context.WithTimeout(ctx, l.timeout)
	}
	return ctx, func() {}
}

// failOver applies the failure policy after a store failure (ev is its EventStoreError, with
// ev.Err the cause), reports ev with its degradation, and returns that and the decision's
// error: under FailOpen open writes the decision; under FailClosed the error wraps the cause
// in ErrStoreUnavailable; under FailFallback fallback decides with the local store (its error
// wrapped in ErrStoreUnavailable too).
func (l *Limiter) failOver(ctx context.Context, ev Event, open func(), fallback func() error) (Degradation, error) {
	var err error
	switch l.failure {
	case FailOpen:
		ev.Degraded = DegradedOpen
		open()
	case FailClosed:
		ev.Degraded = DegradedClosed
		err = fmt.Errorf("%w: %w", ErrStoreUnavailable, ev.Err)
	case FailFallback:
		ev.Degraded = DegradedFallback
		if err = fallback(); err != nil {
			err = fmt.Errorf("%w: fallback: %w", ErrStoreUnavailable, err)
		}
	}
	l.problem(ctx, ev)
	return ev.Degraded, err
}

// degrade applies the failure policy to a rate decision and writes its decision to *d.
func (l *Limiter) degrade(ctx context.Context, key string, p *Policy, cost int64, now time.Time, cause error, lat time.Duration, d *Decision) (takeInfo, error) {
	ev := Event{Kind: EventStoreError, Key: key, Err: cause, Latency: lat, Decision: Decision{Policy: *p}, Op: OpTake}
	deg, err := l.failOver(ctx, ev, func() {
		*d = Decision{Allowed: true, Limit: p.Capacity(), Remaining: p.Capacity() - cost, Policy: *p}
	}, func() (err error) {
		fp := FallbackPolicy(*p, l.instances)
		*d, err = l.fallback.Take(ctx, key, fp, min(cost, fp.Capacity()), now)
		return err
	})
	return takeInfo{degraded: deg}, err
}

// ForgetDenial drops any cached denial for (policy name, key), for instance after an operator reset
// the key in the store.
func (l *Limiter) ForgetDenial(policy, key string) { l.deny.forget(policy, key) }
