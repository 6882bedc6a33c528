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
// Every decision a limiter makes arrives as exactly one event: core.EventDecision of a take
// or an acquire for decisions the store, the denial cache, a batch reserved earlier
// (core.Event's Local: core.Reservations), FailOpen or the fallback made (the EventDecision
// of a settlement, core.OpAdjust, reports the store's state after it and is no decision),
// and core.EventStoreError of a take or an acquire with core.DegradedClosed for a request
// FailClosed refused (no EventDecision follows it). Other store errors are followed by their
// EventDecision, or concern a release or an extend, and are not decisions themselves. A denial
// in shadow mode is ShadowDenied whoever decided it.
func Classify(e *core.Event) (Outcome, bool) {
	if e.Op != core.OpTake && e.Op != core.OpAcquire {
		return 0, false
	}
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

// StoreCalled reports whether e is the report of a call to the limiter's store: e.Op names
// the operation and e.Latency is the call's duration (zero for stores that run in process,
// see storekit.InProcess). The core reports each store call by exactly one event (a successful
// extend by none):
//
//   - a take, an acquire or a settlement (adjust) that succeeded, by its core.EventDecision; a
//     decision the denial cache answered (Cached) made no call, nor did one answered from a
//     batch of allowance reserved earlier (Local, core.Reservations), and one the failure
//     policy made (Degraded) follows the core.EventStoreError that reported its failed call,
//     or its refusal by the breaker;
//   - a release that succeeded, by its core.EventLeaseReleased;
//   - a take, acquire, release or extend that failed, by its core.EventStoreError, unless its
//     Err is core.ErrBreakerOpen: the open circuit breaker refused the call, so the store was
//     never asked. (The core.EventLeaseReleased of a failed release follows its store error
//     and is not a second report of the call.) A settlement is retried within a budget before
//     its one core.EventStoreError: that event stands for all of its failed calls.
func StoreCalled(e *core.Event) bool {
	if e.Op == core.OpNone {
		return false
	}
	switch e.Kind {
	case core.EventDecision:
		return !e.Cached && !e.Local && e.Degraded == core.NotDegraded
	case core.EventLeaseReleased:
		return e.Err == nil
	case core.EventStoreError:
		return !errors.Is(e.Err, core.ErrBreakerOpen)
	}
	return false
}

// ErrorType returns a short, bounded description of a store error, the value of the error.type
// attribute (as in OpenTelemetry's semantic conventions): "circuit_open" for a call the
// circuit breaker refused (core.ErrBreakerOpen), "timeout" for the time budget
// (context.DeadlineExceeded), "canceled" for context.Canceled, and "_OTHER" for anything else.
// The error's text is never used: it may carry keys or backend details, and it is unbounded.
func ErrorType(e *core.Event) string {
	switch {
	case errors.Is(e.Err, core.ErrBreakerOpen):
		return "circuit_open"
	case errors.Is(e.Err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(e.Err, context.Canceled):
		return "canceled"
	}
	return "_OTHER"
}
