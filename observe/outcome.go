package observe

import (
	"context"
	"errors"

	"github.com/tollgate-go/tollgate/core"
)

// Outcome is what became of one decision: the value of the tollgate.result metric attribute.
type Outcome uint8

const (
	// Allowed: the store decided and allowed.
	Allowed Outcome = iota
	// Denied: the store (or the denial cache) decided and the limit was enforced.
	Denied
	// ShadowDenied: a limit in shadow mode would have denied; the request went on.
	ShadowDenied
	// FailedOpen: the store failed and the failure policy allowed (core.FailOpen).
	FailedOpen
	// FailedClosed: the store failed and the failure policy refused (core.FailClosed).
	FailedClosed
	// Fallback: the store failed and the local fallback store allowed (core.FailFallback).
	Fallback
	// FallbackDenied: the store failed and the local fallback store denied.
	FallbackDenied

	// NumOutcomes is the number of outcomes, for arrays indexed by Outcome.
	NumOutcomes = int(FallbackDenied) + 1
)

var outcomeNames = [NumOutcomes]string{
	"allowed", "denied", "shadow_denied", "failed_open", "failed_closed", "fallback", "fallback_denied",
}

// String returns the outcome's attribute value: allowed, denied, shadow_denied, failed_open,
// failed_closed, fallback or fallback_denied.
func (o Outcome) String() string {
	if int(o) < NumOutcomes {
		return outcomeNames[o]
	}
	return "unknown"
}

// Classify returns the outcome of the decision e reports, and false when e reports no
// decision.
//
// Every decision a limiter makes arrives as exactly one event: core.EventDecision for
// decisions the store, the denial cache, FailOpen or the fallback made, and
// core.EventStoreError with core.DegradedClosed for a request FailClosed refused (no
// EventDecision follows it). Other store errors are followed by their EventDecision and are
// not decisions themselves. A denial in shadow mode is ShadowDenied whoever decided it.
func Classify(e *core.Event) (Outcome, bool) {
	switch e.Kind {
	case core.EventDecision:
	case core.EventStoreError:
		return FailedClosed, e.Degraded == core.DegradedClosed
	default:
		return 0, false
	}
	d := &e.Decision
	if !d.Allowed && d.Shadow {
		return ShadowDenied, true
	}
	switch e.Degraded {
	case core.DegradedOpen:
		return FailedOpen, true
	case core.DegradedClosed:
		return FailedClosed, true
	case core.DegradedFallback:
		if d.Allowed {
			return Fallback, true
		}
		return FallbackDenied, true
	}
	if d.Allowed {
		return Allowed, true
	}
	return Denied, true
}

// Operation is a store operation, the value of the tollgate.store.operation attribute.
type Operation uint8

const (
	// OpTake is core.Store.Take (rate limits).
	OpTake Operation = iota
	// OpAcquire is core.ConcurrencyStore.Acquire.
	OpAcquire
	// OpRelease is core.ConcurrencyStore.Release.
	OpRelease

	// NumOperations is the number of operations, for arrays indexed by Operation.
	NumOperations = int(OpRelease) + 1
)

var operationNames = [NumOperations]string{"take", "acquire", "release"}

// String returns the operation's attribute value: take, acquire or release.
func (op Operation) String() string {
	if int(op) < NumOperations {
		return operationNames[op]
	}
	return "unknown"
}

// OperationOf returns the store operation e is about. Events do not name it, so it is
// inferred: concurrency policies acquire, except that a store error the failure policy did not
// handle (core.NotDegraded) comes from a release; every other policy takes.
func OperationOf(e *core.Event) Operation {
	if e.Decision.Policy.Algorithm != core.Concurrency {
		return OpTake
	}
	if e.Kind == core.EventStoreError && e.Degraded == core.NotDegraded {
		return OpRelease
	}
	return OpAcquire
}

// StoreCalled reports whether e reports a store call, so that e.Latency is that call's
// duration (with a limiter that has an observer, the core times every store call). A decision
// from the denial cache or the failure policy made no call, and neither did a store error
// while the circuit breaker was open (it reports no latency). Release errors are calls, but
// the core does not time them: e.Latency is zero.
func StoreCalled(e *core.Event) bool {
	switch e.Kind {
	case core.EventDecision:
		return e.Degraded == core.NotDegraded && !e.Cached
	case core.EventStoreError:
		return e.Latency > 0 || OperationOf(e) == OpRelease
	}
	return false
}

// ErrorType returns a short, bounded description of a store error, the value of the error.type
// attribute (as in OpenTelemetry's semantic conventions): "timeout" for the time budget
// (context.DeadlineExceeded), "canceled" for context.Canceled, "circuit_open" for a call the
// circuit breaker refused, and "_OTHER" for anything else. The error's text is never used: it
// may carry keys or backend details, and it is unbounded.
func ErrorType(e *core.Event) string {
	switch {
	case e.Kind == core.EventStoreError && !StoreCalled(e):
		return "circuit_open"
	case errors.Is(e.Err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(e.Err, context.Canceled):
		return "canceled"
	}
	return "_OTHER"
}
