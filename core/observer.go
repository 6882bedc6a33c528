package core

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// EventKind says what an [Event] reports.
type EventKind uint8

const (
	// EventDecision reports a decision (allowed, denied, or shadow-denied).
	EventDecision EventKind = iota + 1
	// EventStoreError reports a store call that failed or exceeded the time budget; the
	// failure policy then decided (Event.Degraded says how).
	EventStoreError
	// EventBreakerOpen reports that the circuit breaker stopped calling the store.
	EventBreakerOpen
	// EventBreakerClosed reports that the store answered again and is used again.
	EventBreakerClosed
	// EventError reports a request that failed for a reason on the application's side, not
	// the store's or the client's: a Limit's Cost function returning a cost no policy can
	// take. Err says what.
	EventError
	// EventLeaseReleased reports a concurrency lease given back (its first Release): Held is
	// how long it was held, Latency the release call's duration, Err its error if it failed
	// (the limiter then keeps releasing it in the background).
	EventLeaseReleased
)

// Op names the store operation an event is about.
type Op uint8

const (
	// OpNone: no store operation (breaker changes, application errors).
	OpNone Op = iota
	// OpTake is a rate decision ([Store].Take).
	OpTake
	// OpAcquire takes a concurrency lease.
	OpAcquire
	// OpRelease gives a lease back.
	OpRelease
	// OpExtend renews a lease.
	OpExtend
	// OpAdjust settles a cost known after the response, or refunds one (storekit.Adjuster).
	OpAdjust
)

// String names the operation as metrics and logs use it.
func (o Op) String() string {
	switch o {
	case OpTake:
		return "take"
	case OpAcquire:
		return "acquire"
	case OpRelease:
		return "release"
	case OpExtend:
		return "extend"
	case OpAdjust:
		return "adjust"
	}
	return "none"
}

// String names the kind.
func (k EventKind) String() string {
	switch k {
	case EventDecision:
		return "decision"
	case EventStoreError:
		return "store-error"
	case EventBreakerOpen:
		return "breaker-open"
	case EventBreakerClosed:
		return "breaker-closed"
	case EventError:
		return "error"
	case EventLeaseReleased:
		return "lease-released"
	}
	return "unknown"
}

// Degradation says how a decision was made when the store could not make it.
type Degradation uint8

const (
	// NotDegraded: the store decided.
	NotDegraded Degradation = iota
	// DegradedOpen: the store failed and the request was allowed (FailOpen).
	DegradedOpen
	// DegradedClosed: the store failed and the request was refused (FailClosed).
	DegradedClosed
	// DegradedFallback: the store failed and the local fallback store decided (FailFallback).
	DegradedFallback
)

// String names the degradation.
func (d Degradation) String() string {
	switch d {
	case NotDegraded:
		return "none"
	case DegradedOpen:
		return "fail-open"
	case DegradedClosed:
		return "fail-closed"
	case DegradedFallback:
		return "fallback"
	}
	return "unknown"
}

// Event is what an [Observer] receives. Fields that do not apply to the Kind are zero.
type Event struct {
	Kind EventKind
	// Key is the key the decision was about.
	Key string
	// Decision is the decision (EventDecision).
	Decision Decision
	// Cached reports a denial answered by the denial cache, with no store call.
	Cached bool
	// Degraded says whether and how the failure policy decided.
	Degraded Degradation
	// Err is the store's error (EventStoreError, EventBreakerOpen).
	Err error
	// Latency is the store call's duration (EventDecision from the store, EventStoreError,
	// EventLeaseReleased). Zero for stores that never wait on I/O (see storekit.InProcess): timing
	// them would cost more than the call.
	Latency time.Duration
	// Op is the store operation the event is about (decisions, store errors, releases).
	Op Op
	// Held is how long a released lease was held (EventLeaseReleased).
	Held time.Duration
	// Delta is the amount an Adjust changed (Op OpAdjust: a settlement's difference from
	// the estimate, a refund's negative cost, a reservation given back).
	Delta int64
	// Reserved is, for a decision of a limit with reservations, the batch this decision
	// reserved from the store (0 when it was answered from a batch already held, Local).
	Reserved int64
	// Local reports a decision answered from a reserved batch, with no store call.
	Local bool
}

// Observer receives every decision and every store error. Observe is called on the request
// path, synchronously: it must be fast, must not block, and must not retain e.Decision's
// pointers beyond the call. Implementations are safe for concurrent use.
type Observer interface {
	Observe(ctx context.Context, e Event)
}

// ObserverFunc adapts a function to [Observer].
type ObserverFunc func(ctx context.Context, e Event)

// Observe calls f(ctx, e).
func (f ObserverFunc) Observe(ctx context.Context, e Event) { f(ctx, e) }

// SlogObserver logs events with l: store errors and breaker changes at Warn, denials at Info,
// allowed decisions at Debug (so they cost nothing unless the handler enables Debug).
func SlogObserver(l *slog.Logger) Observer {
	return ObserverFunc(func(ctx context.Context, e Event) {
		switch e.Kind {
		case EventDecision:
			lvl := slog.LevelDebug
			if !e.Decision.Allowed {
				lvl = slog.LevelInfo
			}
			if !l.Enabled(ctx, lvl) {
				return
			}
			l.LogAttrs(ctx, lvl, "tollgate decision",
				slog.String("policy", e.Decision.Policy.Name),
				slog.String("key", e.Key),
				slog.Bool("allowed", e.Decision.Allowed),
				slog.Bool("shadow", e.Decision.Shadow),
				slog.Int64("remaining", e.Decision.Remaining),
				slog.Duration("retry_after", e.Decision.RetryAfter),
				slog.Bool("cached", e.Cached),
				slog.String("degraded", e.Degraded.String()),
				slog.Duration("latency", e.Latency))
		case EventStoreError:
			l.LogAttrs(ctx, slog.LevelWarn, "tollgate store error",
				slog.String("policy", e.Decision.Policy.Name),
				slog.String("degraded", e.Degraded.String()),
				slog.Duration("latency", e.Latency),
				slog.Any("error", e.Err))
		case EventError:
			l.LogAttrs(ctx, slog.LevelError, "tollgate error",
				slog.String("policy", e.Decision.Policy.Name), slog.Any("error", e.Err))
		case EventBreakerOpen, EventBreakerClosed:
			l.LogAttrs(ctx, slog.LevelWarn, "tollgate circuit breaker",
				slog.String("state", e.Kind.String()), slog.Any("error", e.Err))
		}
	})
}

// defaultProblems returns the logger of problem events for a limiter configured with
// observer: nil when there is an observer.
func defaultProblems(observer Observer) Observer {
	if observer != nil {
		return nil
	}
	return &logProblems{}
}

// logProblems logs store errors, breaker changes and application errors through
// slog.Default, so that a limiter without an observer never fails silently (a missing
// DynamoDB table, a paused Redis). Store errors come once per request while a store is down,
// so at most one line a second is written, with the number left out since the last one.
type logProblems struct {
	last    atomic.Int64 // Unix ns of the last store-error line
	dropped atomic.Int64
}

func (p *logProblems) Observe(ctx context.Context, e Event) {
	l := slog.Default()
	switch e.Kind {
	case EventStoreError:
		now := time.Now().UnixNano()
		last := p.last.Load()
		if now-last < int64(time.Second) || !p.last.CompareAndSwap(last, now) {
			p.dropped.Add(1)
			return
		}
		l.LogAttrs(ctx, slog.LevelWarn, "tollgate store error",
			slog.String("policy", e.Decision.Policy.Name),
			slog.String("degraded", e.Degraded.String()),
			slog.Any("error", e.Err),
			slog.Int64("similar_errors_not_logged", p.dropped.Swap(0)))
	case EventBreakerOpen, EventBreakerClosed:
		l.LogAttrs(ctx, slog.LevelWarn, "tollgate circuit breaker",
			slog.String("state", e.Kind.String()), slog.Any("error", e.Err))
	case EventError:
		l.LogAttrs(ctx, slog.LevelError, "tollgate error",
			slog.String("policy", e.Decision.Policy.Name), slog.Any("error", e.Err))
	}
}
