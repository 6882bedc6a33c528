package otelmetrics

import (
	"context"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/observe"
)

// errorTypes are the error.type values store metrics carry, indexed as errorTypeIndex says;
// "" is a successful call.
var errorTypes = [...]string{"", "timeout", "canceled", "circuit_open", "_OTHER"}

func errorTypeIndex(t string) int {
	for i, name := range errorTypes {
		if name == t {
			return i
		}
	}
	return len(errorTypes) - 1
}

// numOps bounds the store operations with prebuilt attribute sets: core.OpNone to
// core.OpAdjust. An operation the core adds later is recorded as "none" until it is added
// here (TestOperationsCovered fails first).
const numOps = int(core.OpAdjust) + 1

func opIndex(op core.Op) int {
	if int(op) < numOps {
		return int(op)
	}
	return int(core.OpNone)
}

// otherPolicy is the tollgate.policy value past MaxPolicies distinct names.
const otherPolicy = "_OTHER"

// How a decision was answered, the decisions' second dimension: by the store (or the failure
// policy), by the denial cache (tollgate.cached) or from a reserved batch (tollgate.local).
// The two are exclusive: a batch answers before the denial cache is asked, and a cached
// denial reserves nothing.
const (
	viaStore = iota
	viaCache
	viaLocal
	numVia
)

func via(e *core.Event) int {
	switch {
	case e.Local:
		return viaLocal
	case e.Cached:
		return viaCache
	}
	return viaStore
}

// settlement indexes: [direction][failed].
const numDirections = 2

// limiterObserver is one limiter's observer. Its hot path (an allowed decision) reads the
// policy map without a lock and adds to atomic counters.
type limiterObserver struct {
	m          *Metrics
	name       string
	store      string
	durations  bool
	limiterSet attribute.Set
	open       atomic.Bool

	// Option slices built once: passing a prebuilt slice to a variadic instrument method
	// allocates nothing.
	durationOpts   [numOps][len(errorTypes)][]metric.RecordOption
	errorOpts      [numOps][len(errorTypes)][]metric.AddOption
	transitionOpts [2][]metric.AddOption // closed, open

	// policies maps a policy name to its counters. Copied on write and read without a lock:
	// a read lock would be a write to a shared cache line on every decision.
	policies atomic.Pointer[map[string]*policyCells]
	mu       sync.Mutex // serialises writers of policies
	// first is the first policy's cells, set once: most limiters have one policy, whose
	// decisions then skip the map's string hashing (half the observer's cost). Never
	// rewritten, so decisions only read its cache line.
	first atomic.Pointer[policyCells]
}

// policyCells are one policy's counters.
type policyCells struct {
	name      string
	decisions [observe.NumOutcomes][numVia]atomic.Int64 // [outcome][via]
	nearLimit atomic.Int64
	leases    atomic.Int64 // granted
	released  atomic.Int64 // of those, released
	// keyed replaces decisions when Options.KeyBuckets is set: [outcome][via][bucket].
	keyed [observe.NumOutcomes][numVia][]atomic.Int64
	// sets are the attribute sets of decisions, built with the cells.
	sets [observe.NumOutcomes][numVia]attribute.Set

	reservations atomic.Int64 // batches reserved from the store
	reserved     atomic.Int64 // their allowance
	settlements  [numDirections][2]atomic.Int64
	settled      [numDirections][2]atomic.Int64 // allowance
	settleSets   [numDirections][2]attribute.Set

	plain   attribute.Set // limiter and policy
	heldOpt []metric.RecordOption
	limiter string
}

func (o *limiterObserver) Observe(ctx context.Context, e core.Event) {
	switch e.Kind {
	case core.EventDecision:
		o.decision(ctx, &e)
	case core.EventStoreError:
		o.storeError(ctx, &e)
	case core.EventLeaseReleased:
		o.released(ctx, &e)
	case core.EventBreakerOpen:
		o.open.Store(true)
		o.m.transitions.Add(ctx, 1, o.transitionOpts[1]...)
	case core.EventBreakerClosed:
		o.open.Store(false)
		o.m.transitions.Add(ctx, 1, o.transitionOpts[0]...)
	}
}

func (o *limiterObserver) decision(ctx context.Context, e *core.Event) {
	out, ok := observe.Classify(e)
	if !ok { // a settlement's report: a store call, not a decision
		o.settlement(e)
		if o.durations && observe.StoreCalled(e) {
			o.m.duration.Record(ctx, e.Latency.Seconds(), o.durationOpts[opIndex(e.Op)][0]...)
		}
		return
	}
	d := &e.Decision
	pc := o.cells(d.Policy.Name)
	o.count(pc, out, via(e), e.Key)
	if e.Reserved > 0 {
		pc.reservations.Add(1)
		pc.reserved.Add(e.Reserved)
	}
	if d.Allowed {
		if f := o.m.nearLimit; f > 0 && d.Limit > 0 && float64(d.Limit-d.Remaining) >= f*float64(d.Limit) {
			pc.nearLimit.Add(1)
		}
		if d.Policy.Algorithm == core.Concurrency && e.Degraded != core.DegradedOpen {
			pc.leases.Add(1)
		}
	}
	if o.durations && observe.StoreCalled(e) {
		o.m.duration.Record(ctx, e.Latency.Seconds(), o.durationOpts[opIndex(e.Op)][0]...)
	}
}

// released counts a lease given back and records how long it was held, whether or not the
// store call succeeded: the application let the slot go (a failed release is retried in the
// background by the core, and the store expires the lease at worst).
func (o *limiterObserver) released(ctx context.Context, e *core.Event) {
	pc := o.cells(e.Decision.Policy.Name)
	pc.released.Add(1)
	o.m.held.Record(ctx, max(e.Held, 0).Seconds(), pc.heldOpt...)
	if o.durations && observe.StoreCalled(e) {
		o.m.duration.Record(ctx, e.Latency.Seconds(), o.durationOpts[opIndex(e.Op)][0]...)
	}
}

// settlement counts the settlement or refund e reports, if it reports one.
func (o *limiterObserver) settlement(e *core.Event) {
	s, ok := observe.ClassifySettlement(e)
	if !ok {
		return
	}
	pc := o.cells(e.Decision.Policy.Name)
	f := 0
	if s.Failed {
		f = 1
	}
	pc.settlements[s.Direction][f].Add(1)
	pc.settled[s.Direction][f].Add(s.Amount)
}

func (o *limiterObserver) storeError(ctx context.Context, e *core.Event) {
	if out, ok := observe.Classify(e); ok {
		o.count(o.cells(e.Decision.Policy.Name), out, viaStore, e.Key)
	}
	o.settlement(e)
	if !observe.StoreCalled(e) {
		return
	}
	op, et := opIndex(e.Op), errorTypeIndex(observe.ErrorType(e))
	o.m.errors.Add(ctx, 1, o.errorOpts[op][et]...)
	if o.durations {
		o.m.duration.Record(ctx, e.Latency.Seconds(), o.durationOpts[op][et]...)
	}
}

func (o *limiterObserver) count(pc *policyCells, out observe.Outcome, via int, key string) {
	if n := o.m.keyBuckets; n > 0 {
		pc.keyed[out][via][fnv1a(key)%uint64(n)].Add(1)
		return
	}
	pc.decisions[out][via].Add(1)
}

// cells returns the counters of the policy named name, creating them on first use.
func (o *limiterObserver) cells(name string) *policyCells {
	if pc := o.first.Load(); pc != nil && pc.name == name {
		return pc
	}
	if m := o.policies.Load(); m != nil {
		if pc, ok := (*m)[name]; ok {
			return pc
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	old := o.policies.Load()
	if old != nil {
		if pc, ok := (*old)[name]; ok {
			return pc
		}
	}
	m := make(map[string]*policyCells, 1+lenMap(old))
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
		if len(*old) >= MaxPolicies {
			// Past the bound every new name shares one set of cells; the name itself is not
			// remembered, so the map stops growing.
			if pc, ok := (*old)[otherPolicy]; ok {
				return pc
			}
			name = otherPolicy
		}
	}
	pc := o.newCells(name)
	m[name] = pc
	o.policies.Store(&m)
	o.first.CompareAndSwap(nil, pc)
	return pc
}

func lenMap(m *map[string]*policyCells) int {
	if m == nil {
		return 0
	}
	return len(*m)
}

func (o *limiterObserver) newCells(policy string) *policyCells {
	pc := &policyCells{name: policy, limiter: o.name}
	pc.plain = attribute.NewSet(AttrLimiter.String(o.name), AttrPolicy.String(policy))
	pc.heldOpt = []metric.RecordOption{metric.WithAttributeSet(pc.plain)}
	for out := range observe.NumOutcomes {
		for v := range numVia {
			pc.sets[out][v] = attribute.NewSet(AttrLimiter.String(o.name), AttrPolicy.String(policy),
				AttrResult.String(observe.Outcome(out).String()), AttrCached.Bool(v == viaCache), AttrLocal.Bool(v == viaLocal))
			if n := o.m.keyBuckets; n > 0 {
				pc.keyed[out][v] = make([]atomic.Int64, n)
			}
		}
	}
	for d := range numDirections {
		for f, result := range []string{"ok", "failed"} {
			pc.settleSets[d][f] = attribute.NewSet(AttrLimiter.String(o.name), AttrPolicy.String(policy),
				AttrSettlementDirection.String(observe.Direction(d).String()), AttrSettlementResult.String(result))
		}
	}
	return pc
}

// collect reports pc's counters; cells never counted are left out.
func (pc *policyCells) collect(m *Metrics, obs metric.Observer) {
	for out := range observe.NumOutcomes {
		for via := range numVia {
			if v := pc.decisions[out][via].Load(); v > 0 {
				obs.ObserveInt64(m.decisions, v, metric.WithAttributeSet(pc.sets[out][via]))
			}
			for b := range pc.keyed[out][via] {
				if v := pc.keyed[out][via][b].Load(); v > 0 {
					obs.ObserveInt64(m.decisions, v, metric.WithAttributes(AttrLimiter.String(pc.limiter),
						AttrPolicy.String(pc.name), AttrResult.String(observe.Outcome(out).String()),
						AttrCached.Bool(via == viaCache), AttrLocal.Bool(via == viaLocal), AttrKeyBucket.Int(b)))
				}
			}
		}
	}
	if v := pc.nearLimit.Load(); v > 0 {
		obs.ObserveInt64(m.nearLimits, v, metric.WithAttributeSet(pc.plain))
	}
	if v := pc.reservations.Load(); v > 0 {
		obs.ObserveInt64(m.reservations, v, metric.WithAttributeSet(pc.plain))
		obs.ObserveInt64(m.reserved, pc.reserved.Load(), metric.WithAttributeSet(pc.plain))
	}
	for d := range numDirections {
		for f := range 2 {
			if v := pc.settlements[d][f].Load(); v > 0 {
				obs.ObserveInt64(m.settlements, v, metric.WithAttributeSet(pc.settleSets[d][f]))
				obs.ObserveInt64(m.settled, pc.settled[d][f].Load(), metric.WithAttributeSet(pc.settleSets[d][f]))
			}
		}
	}
	// Released before granted: every release counted was granted before it, so the
	// difference never reads negative.
	released := pc.released.Load()
	if v := pc.leases.Load(); v > 0 {
		obs.ObserveInt64(m.leases, v, metric.WithAttributeSet(pc.plain))
		obs.ObserveInt64(m.active, v-released, metric.WithAttributeSet(pc.plain))
	}
}

// fnv1a is the 64-bit FNV-1a hash of s: stable across processes and releases, so a key's
// bucket is the same on every instance.
func fnv1a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
