package status

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/observe"
)

// Defaults and bounds of [Options].
const (
	DefaultTopKeys = 10
	MaxTopKeys     = 100
	DefaultWindow  = time.Minute
	DefaultRefresh = 5 * time.Second
	// RateWindow is the span decision rates are computed over.
	RateWindow = time.Minute
	// MaxPolicies bounds the policies shown per limiter; decisions under further names
	// (a PolicyFunc inventing names) are counted under "_OTHER".
	MaxPolicies = 256
)

// Options configures [New]. Zero values are the documented defaults.
type Options struct {
	// Keys says how the most denied keys are shown. Optional. Default: KeysHashed.
	Keys KeyDisplay
	// KeySecret is the HMAC key of hashed keys. Set it (16 bytes or more) to get the same
	// hashes across restarts and instances. Optional. Default: random, per process.
	KeySecret []byte
	// TopKeys is how many of the most denied keys each limiter shows. Optional.
	// Default: DefaultTopKeys (10). At most MaxTopKeys.
	TopKeys int
	// Window is the span denials are counted over for the most denied keys: the current
	// and the previous window. Optional. Default: DefaultWindow (1 minute).
	Window time.Duration
	// Refresh is how often the HTML page reloads itself. Optional. Default: DefaultRefresh
	// (5 s). Negative: never.
	Refresh time.Duration
	// Title heads the page. Optional. Default: "Tollgate status".
	Title string
	// Now is the clock. Optional. Default: time.Now.
	Now func() time.Time
}

// Page collects what its observers see and serves it as HTML or JSON. Build it with [New];
// it is safe for concurrent use.
type Page struct {
	keys     KeyDisplay
	secret   []byte
	topKeys  int
	window   time.Duration
	refresh  time.Duration
	title    string
	now      func() time.Time
	started  time.Time
	mu       sync.Mutex // guards limiters and every policy's rate samples
	limiters []*limiterState
}

// New validates o and returns a page.
func New(o Options) (*Page, error) {
	p := &Page{keys: o.Keys, secret: o.KeySecret, topKeys: o.TopKeys, window: o.Window,
		refresh: o.Refresh, title: o.Title, now: o.Now}
	if p.keys > KeysHidden {
		return nil, fmt.Errorf("status: unknown key display %d", p.keys)
	}
	if p.topKeys < 0 || p.topKeys > MaxTopKeys {
		return nil, fmt.Errorf("status: TopKeys %d must be 0 to %d", p.topKeys, MaxTopKeys)
	}
	if p.window < 0 {
		return nil, errors.New("status: Window must not be negative")
	}
	if len(p.secret) == 0 {
		var err error
		if p.secret, err = newSecret(); err != nil {
			return nil, err
		}
	}
	if p.topKeys == 0 {
		p.topKeys = DefaultTopKeys
	}
	if p.window == 0 {
		p.window = DefaultWindow
	}
	if p.refresh == 0 {
		p.refresh = DefaultRefresh
	}
	if p.title == "" {
		p.title = "Tollgate status"
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.started = p.now()
	return p, nil
}

// Observer registers the limiter l describes and returns its observer. Limiters are shown in
// the order they were registered; registering a name again returns the same observer (their
// counts are added together) and adds any new declared policies.
func (p *Page) Observer(l observe.Limiter) core.Observer {
	l = l.Normalize()
	p.mu.Lock()
	defer p.mu.Unlock()
	var s *limiterState
	for _, have := range p.limiters {
		if have.name == l.Name {
			s = have
		}
	}
	if s == nil {
		s = &limiterState{page: p, name: l.Name, store: l.StoreName, inProcess: l.InProcess(), failure: l.Failure,
			denied: newTopK(int64(p.window), 8*p.topKeys), holders: newHolders(MaxHolderKeys)}
		p.limiters = append(p.limiters, s)
	}
	for _, pol := range l.Policies {
		s.policy(pol).declared = true
	}
	return s
}

// limiterState is one limiter's observer and what it has counted.
type limiterState struct {
	page      *Page
	name      string
	store     string
	inProcess bool // the store's calls are not timed
	failure   core.FailurePolicy

	// policies maps a name to its counters; copied on write, read without a lock.
	policies atomic.Pointer[map[string]*policyState]
	mu       sync.Mutex     // serialises writers of policies and order
	order    []*policyState // first declared or seen first
	// first is the first policy's counters, set once, so that the decisions of a limiter
	// with one policy skip the map's string hashing.
	first atomic.Pointer[policyState]

	breakerOpen  atomic.Bool
	breakerSince atomic.Int64 // Unix ns of the last transition
	opened       atomic.Int64
	closed       atomic.Int64

	storeCalls   atomic.Int64 // successful store calls
	storeNanos   atomic.Int64 // their total duration (zero for in-process stores)
	storeErrors  atomic.Int64
	lastError    atomic.Int64 // Unix ns
	lastErrType  atomic.Value // string
	lastDegraded atomic.Int64 // Unix ns of the last failure-policy decision

	denied  *topK
	holders *holders
}

// policyState counts one policy's decisions.
type policyState struct {
	policy   core.Policy
	declared bool
	created  int64 // Unix ns
	counts   [observe.NumOutcomes]atomic.Int64
	cached   atomic.Int64
	leases   atomic.Int64 // granted
	released atomic.Int64 // of those, released
	heldNs   atomic.Int64 // the released leases' total hold time

	reservations atomic.Int64       // batches reserved from the store
	reserved     atomic.Int64       // their allowance
	local        atomic.Int64       // decisions answered from them
	settlements  [2][2]atomic.Int64 // [observe.Direction][failed]
	settled      [2][2]atomic.Int64 // their allowance

	samples []sample // guarded by Page.mu
}

// sample is the counts at one page load, for rates.
type sample struct {
	at     int64
	counts [observe.NumOutcomes]int64
}

func (s *limiterState) Observe(_ context.Context, e core.Event) {
	switch e.Kind {
	case core.EventDecision, core.EventStoreError:
		s.decision(&e)
	case core.EventLeaseReleased:
		s.released(&e)
	case core.EventBreakerOpen:
		s.breakerOpen.Store(true)
		s.breakerSince.Store(s.page.now().UnixNano())
		s.opened.Add(1)
	case core.EventBreakerClosed:
		s.breakerOpen.Store(false)
		s.breakerSince.Store(s.page.now().UnixNano())
		s.closed.Add(1)
	}
}

func (s *limiterState) decision(e *core.Event) {
	if out, ok := observe.Classify(e); ok {
		ps := s.lookup(&e.Decision.Policy)
		ps.counts[out].Add(1)
		if e.Cached {
			ps.cached.Add(1)
		}
		if e.Local {
			ps.local.Add(1)
		}
		if e.Reserved > 0 {
			ps.reservations.Add(1)
			ps.reserved.Add(e.Reserved)
		}
		d := &e.Decision
		if d.Allowed && d.Policy.Algorithm == core.Concurrency && e.Degraded != core.DegradedOpen {
			ps.leases.Add(1)
			s.holders.acquire(ps.policy.Name, e.Key)
		}
		switch out {
		case observe.Denied, observe.ShadowDenied, observe.FallbackDenied:
			s.denied.add(ps.policy.Name, e.Key, out == observe.ShadowDenied, s.page.now().UnixNano())
		}
		if e.Degraded != core.NotDegraded {
			s.lastDegraded.Store(s.page.now().UnixNano())
		}
	} else if st, ok := observe.ClassifySettlement(e); ok {
		ps := s.lookup(&e.Decision.Policy)
		f := 0
		if st.Failed {
			f = 1
		}
		ps.settlements[st.Direction][f].Add(1)
		ps.settled[st.Direction][f].Add(st.Amount)
	}
	s.storeCall(e)
}

// released counts a lease given back (whether or not its store call succeeded: the
// application let the slot go, and the core retries a failed release in the background).
func (s *limiterState) released(e *core.Event) {
	ps := s.lookup(&e.Decision.Policy)
	ps.released.Add(1)
	ps.heldNs.Add(int64(max(e.Held, 0)))
	s.holders.release(ps.policy.Name, e.Key)
	s.storeCall(e)
}

// storeCall counts the store call e reports, if it reports one.
func (s *limiterState) storeCall(e *core.Event) {
	if !observe.StoreCalled(e) {
		return
	}
	if e.Kind == core.EventStoreError {
		s.storeErrors.Add(1)
		s.lastError.Store(s.page.now().UnixNano())
		s.lastErrType.Store(observe.ErrorType(e))
		return
	}
	s.storeCalls.Add(1)
	if e.Latency > 0 { // in-process stores are not timed: save the atomic add
		s.storeNanos.Add(int64(e.Latency))
	}
}

// lookup returns the counters of p's policy, creating them on first use.
func (s *limiterState) lookup(p *core.Policy) *policyState {
	if ps := s.first.Load(); ps != nil && ps.policy.Name == p.Name {
		return ps
	}
	if m := s.policies.Load(); m != nil {
		if ps, ok := (*m)[p.Name]; ok {
			return ps
		}
	}
	return s.policy(*p)
}

// policy returns the counters of p's policy, creating them under the lock.
func (s *limiterState) policy(p core.Policy) *policyState {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.policies.Load()
	if old != nil {
		if ps, ok := (*old)[p.Name]; ok {
			return ps
		}
		if len(*old) >= MaxPolicies {
			if ps, ok := (*old)["_OTHER"]; ok {
				return ps
			}
			p = core.Policy{Name: "_OTHER"}
		}
	}
	m := make(map[string]*policyState, 1+len(s.order))
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	ps := &policyState{policy: p, created: s.page.now().UnixNano()}
	m[p.Name] = ps
	s.order = append(s.order, ps)
	s.policies.Store(&m)
	s.first.CompareAndSwap(nil, ps)
	return ps
}
