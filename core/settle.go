package core

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Outcome is what a settling rule ([Rule.Settle]) knows of a request once its handler is done.
// Adapters fill it in.
type Outcome struct {
	// Status is the response's status code.
	Status int
	// Written is the number of body bytes written.
	Written int64
	// Header returns a response header's value (an upstream's token usage, say). Never nil
	// when filled in by an adapter.
	Header func(name string) string
	// Reported is the cost the handler reported with [ReportCost], if it did (Reports > 0).
	Reported int64
	// Reports counts the handler's ReportCost calls (the last one wins).
	Reports int
}

// costReport is the slot in a request's context that [ReportCost] writes.
type costReport struct {
	cost  atomic.Int64
	calls atomic.Int32
}

type costReportKey struct{}

// WithCostReport returns a context in which a handler can report a request's real cost with
// [ReportCost], and a function that reads it back (the cost, and how many times it was
// reported). Adapters call it for limiters that settle ([Limiter.Settles]).
func WithCostReport(ctx context.Context) (context.Context, func() (int64, int)) {
	r := new(costReport)
	return context.WithValue(ctx, costReportKey{}, r), func() (int64, int) {
		return r.cost.Load(), int(r.calls.Load())
	}
}

// ReportCost reports the real cost of the current request from its handler, for rules whose
// Settle reads [Outcome.Reported]. It returns false when the request's context has no slot
// (the middleware in front does not settle).
func ReportCost(ctx context.Context, cost int64) bool {
	r, ok := ctx.Value(costReportKey{}).(*costReport)
	if !ok {
		return false
	}
	r.cost.Store(cost)
	r.calls.Add(1)
	return true
}

// Settles reports whether any of l's rules settles its cost after the response
// ([Rule.Settle]); adapters then record the response for [Limiter.Settle].
func (l *Limiter) Settles() bool { return l.settles }

// Settle charges each settling rule's real cost for a request that res allowed: for every
// decision the store spent, the rule's Settle computes the real cost from out, and the
// difference from the estimate is applied with one storekit.Adjuster request (none when it is zero).
// A refund (a real cost below the estimate) of a window that has ended since the decision is
// skipped: that window's allowance is gone, and giving it to a later window would over-admit.
//
// Settle never waits for a network store: the adjustments run in the background (an
// in-process store, such as core/memstore, is adjusted at once), each retried with
// backoff within a bounded budget (about 3 s); one that still fails follows the limiter's
// failure policy (FailFallback applies it to the fallback store; otherwise it is dropped) and
// is reported to the observer as an [EventStoreError] with Op [OpAdjust]. [Limiter.Flush]
// waits for them. The response that was served is never affected.
func (l *Limiter) Settle(ctx context.Context, req Request, res *Result, out Outcome) {
	if res.limiter != l || !l.settles {
		return
	}
	for i := 0; i < res.n; i++ {
		r := &l.limits[i]
		if r.Settle == nil || res.spent&(1<<i) == 0 {
			continue
		}
		l.adjust(ctx, res, i, r.Settle(req, out)-res.costs[i])
	}
}

// Refund gives back everything res spent, for adapters' skip rules (count only failed, or
// only successful, requests): one storekit.Adjuster request per limit that spent, in the background
// as [Limiter.Settle] does. A refund of a window that has ended is skipped.
func (l *Limiter) Refund(ctx context.Context, res *Result) {
	if res.limiter != l {
		return
	}
	for i := 0; i < res.n; i++ {
		if res.spent&(1<<i) != 0 {
			l.adjust(ctx, res, i, -res.costs[i])
		}
	}
}

// Flush waits until the settlements and refunds started so far have reached the store (or
// given up), or ctx ends. Call it at shutdown, after the server stopped taking requests.
func (l *Limiter) Flush(ctx context.Context) error {
	done := make(chan struct{})
	go func() { l.settling.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// adjust applies delta to decision i of res in the background.
func (l *Limiter) adjust(ctx context.Context, res *Result, i int, delta int64) {
	if delta == 0 {
		return
	}
	p := res.d[i].Policy
	key := res.keys[i]
	at := res.at
	if l.adjuster == nil {
		return // NewLimiter refuses settling rules without one; a refund has nothing to do
	}
	ctx = context.WithoutCancel(ctx)
	if l.inProcess {
		// An in-process store answers at once: settle before returning, so that the next
		// request already sees it.
		l.adjustNow(ctx, key, p, delta, at)
		return
	}
	if l.inflight.Add(1) > maxSettling {
		// The store has fallen this far behind (an outage, each settlement retrying for
		// settleBudget): do not pile up goroutines; the failure policy decides this one now.
		l.inflight.Add(-1)
		l.settleFailed(ctx, key, p, delta, ErrSettleBacklog)
		return
	}
	l.settling.Add(1)
	go func() {
		defer l.settling.Done()
		defer l.inflight.Add(-1)
		l.adjustNow(ctx, key, p, delta, at)
	}()
}

// maxSettling bounds the settlements a limiter has in flight in the background.
const maxSettling = 4096

// ErrSettleBacklog is the error of a settlement not attempted because maxSettling (4,096)
// settlements were already waiting for the store: it goes to the failure policy (the
// fallback store under FailFallback) and to the observer, like a settlement that failed.
var ErrSettleBacklog = errors.New("core: too many settlements waiting for the store")

// settleBudget bounds how long one settlement is retried.
const settleBudget = 3 * time.Second

func (l *Limiter) adjustNow(ctx context.Context, key string, p Policy, delta, at int64) {
	now := l.now()
	if delta < 0 && p.Algorithm != TokenBucket {
		s1, _ := p.WindowBounds(at)
		s2, _ := p.WindowBounds(now.UnixNano())
		if s1 != s2 {
			return // the window the cost was spent in has ended
		}
	}
	if delta < 0 && l.deny != nil {
		l.deny.forget(p.Name, key) // allowance given back: a cached denial may be wrong now
	}
	deadline := time.Now().Add(settleBudget)
	wait := 10 * time.Millisecond
	var err error
	for {
		sctx, cancel := l.budget(ctx)
		var start time.Time
		if l.timed {
			start = time.Now()
		}
		var d Decision
		d, err = l.adjuster.Adjust(sctx, key, p, delta, l.now())
		cancel()
		if err == nil {
			if l.observer != nil {
				ev := Event{Kind: EventDecision, Key: key, Decision: d, Op: OpAdjust, Delta: delta}
				if l.timed {
					ev.Latency = time.Since(start)
				}
				l.observer.Observe(ctx, ev)
			}
			return
		}
		if isCallerError(err) || time.Now().Add(wait).After(deadline) {
			break
		}
		time.Sleep(wait)
		wait = min(wait*2, time.Second)
	}
	l.settleFailed(ctx, key, p, delta, err)
}

// settleFailed reports a settlement the store did not take and applies the failure policy:
// under FailFallback the fallback store is adjusted; otherwise the settlement is dropped.
func (l *Limiter) settleFailed(ctx context.Context, key string, p Policy, delta int64, err error) {
	ev := Event{Kind: EventStoreError, Key: key, Err: fmt.Errorf("core: settling %+d: %w", delta, err), Decision: Decision{Policy: p}, Op: OpAdjust, Delta: delta}
	if l.failure == FailFallback && !isCallerError(err) {
		ev.Degraded = DegradedFallback
		if fa, ok := l.fallback.(adjuster); ok {
			fp := FallbackPolicy(p, l.instances)
			if _, ferr := fa.Adjust(ctx, key, fp, delta, l.now()); ferr != nil {
				ev.Err = errors.Join(ev.Err, ferr)
			}
		}
	}
	l.problem(ctx, ev)
}

// settleState is the part of a Limiter that settlement uses.
type settleState struct {
	settles  bool     // a rule settles
	adjuster adjuster // the store, when it can adjust
	settling sync.WaitGroup
	inflight atomic.Int64 // settlements running in the background
}
