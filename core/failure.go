package core

import (
	"errors"
	"time"
)

// FailurePolicy says what a limiter does when its store fails or exceeds the time budget.
type FailurePolicy uint8

const (
	// FailOpen allows the request, marks the result degraded and reports the error to the
	// observer. The default: a limiter outage does not become an application outage.
	FailOpen FailurePolicy = iota
	// FailClosed refuses the request with [ErrStoreUnavailable] (adapters answer 503). For
	// limits that guard something worth more than availability (login attempts, costly jobs).
	FailClosed
	// FailFallback decides with a local in-memory store while the shared store is failing,
	// with each policy's limit divided by the expected number of instances, so that the fleet
	// as a whole still enforces about the global limit.
	FailFallback
)

// String names the failure policy.
func (f FailurePolicy) String() string {
	switch f {
	case FailOpen:
		return "fail-open"
	case FailClosed:
		return "fail-closed"
	case FailFallback:
		return "fallback"
	}
	return "unknown"
}

// ErrStoreUnavailable is returned under [FailClosed] when the store failed; it wraps the store's
// error for logs. Adapters answer 503 and never show the wrapped text to the client.
var ErrStoreUnavailable = errors.New("core: limiter store unavailable")

// ErrBreakerOpen is the error of the [EventStoreError] events of decisions that the open
// circuit breaker sent to the failure policy without calling the store.
var ErrBreakerOpen = errors.New("core: circuit breaker open")

// FallbackPolicy returns p scaled for a local fallback limiter on one of instances app
// instances: Limit (and Burst) divided by instances, rounded up, at least 1. Windows and
// leases are unchanged. This is the documented rule FailFallback applies.
func FallbackPolicy(p Policy, instances int) Policy {
	if instances <= 1 {
		return p
	}
	div := func(v int64) int64 { return max((v+int64(instances)-1)/int64(instances), 1) }
	p.Limit = div(p.Limit)
	if p.Burst > 0 {
		p.Burst = div(p.Burst)
	}
	if p.Algorithm == TokenBucket && p.Window/time.Duration(p.Limit) < 1 {
		p.Limit = int64(p.Window)
	}
	return p
}
