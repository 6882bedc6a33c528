package core

import (
	"context"
	"errors"
	"time"
)

// Store keeps rate-limit state shared by every limiter that uses it.
//
// Take spends cost from key's allowance under p at now and returns the decision; a denied
// Take spends nothing. State is identified by (p.Name, key). key may be any bytes, including
// binary and very long strings: a store maps it to a safe name itself (hashing or escaping)
// and either handles it or returns an error wrapping [ErrInvalidKey] without touching other
// keys' state. Every store returns the same decisions as storekit.Take for the same sequence
// of (now, cost); core/storetest checks this.
//
// Errors: an error wrapping [ErrInvalidKey] or [ErrInvalidPolicy] is the caller's fault and
// is not retried; any other error is a backend failure, which the [Limiter]'s failure policy
// handles. Take honours ctx's deadline. Implementations are safe for concurrent use.
type Store interface {
	Take(ctx context.Context, key string, p Policy, cost int64, now time.Time) (Decision, error)
}

// ConcurrencyStore keeps concurrency leases shared by every limiter that uses it.
//
// Acquire grants lease under p at now when fewer than p.Limit unexpired leases are held for
// key, and renews it when it is already held (so retries are idempotent). Release frees the
// lease (releasing an unknown or expired lease is not an error). Extend renews an unexpired
// lease for another p.Lease, or returns [ErrLeaseNotFound]. Each mirrors the pure lease
// algorithm of core/storekit (AcquireLease, ReleaseLease, ExtendLease); the key and error
// contract is that of [Store].
type ConcurrencyStore interface {
	Acquire(ctx context.Context, key string, p Policy, lease string, now time.Time) (Decision, error)
	Release(ctx context.Context, key string, p Policy, lease string, now time.Time) error
	Extend(ctx context.Context, key string, p Policy, lease string, now time.Time) (Decision, error)
}

// inProcessStore is implemented by stores that never wait on I/O (storekit.InProcess).
type inProcessStore interface {
	InProcess() bool
}

// policyChecker is implemented by stores that cannot hold every valid policy
// (storekit.PolicyChecker).
type policyChecker interface {
	CheckPolicy(p Policy) error
}

// checkStore asks store whether it can hold p, if it says.
func checkStore(store any, p Policy) error {
	if pc, ok := store.(policyChecker); ok {
		return pc.CheckPolicy(p)
	}
	return nil
}

// ErrInvalidKey is wrapped by errors about a key a store or limiter refuses (too long, say).
var ErrInvalidKey = errors.New("core: invalid key")

// ErrCostExceedsCapacity is returned when a cost is larger than the policy could ever allow
// in one decision (see [Policy.Capacity]); such a request can never succeed, so it is refused
// instead of being told to retry.
var ErrCostExceedsCapacity = errors.New("core: cost exceeds the policy's capacity")

// ErrNegativeCost is returned for a negative cost.
var ErrNegativeCost = errors.New("core: negative cost")

// isCallerError reports whether err is the caller's fault rather than the backend's.
func isCallerError(err error) bool {
	return errors.Is(err, ErrInvalidKey) || errors.Is(err, ErrInvalidPolicy) ||
		errors.Is(err, ErrCostExceedsCapacity) || errors.Is(err, ErrNegativeCost)
}
