package core

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Store keeps rate-limit state shared by every limiter that uses it.
//
// Take spends cost from key's allowance under p at now and returns the decision; a denied
// Take spends nothing. State is identified by (p.Name, key). key may be any bytes, including
// binary and very long strings: a store maps it to a safe name itself (hashing or escaping)
// and either handles it or returns an error wrapping [ErrInvalidKey] without touching other
// keys' state. Every store returns the same decisions as [Policy.Take] for the same sequence
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
// lease for another p.Lease, or returns [ErrLeaseNotFound]. Each mirrors [AcquireLease],
// [ReleaseLease] and [ExtendLease]; the key and error contract is that of [Store].
type ConcurrencyStore interface {
	Acquire(ctx context.Context, key string, p Policy, lease string, now time.Time) (Decision, error)
	Release(ctx context.Context, key string, p Policy, lease string, now time.Time) error
	Extend(ctx context.Context, key string, p Policy, lease string, now time.Time) (Decision, error)
}

// InProcess is implemented by stores that never wait on I/O (the memory store). The limiters
// skip the per-decision deadline for them, which saves a context and a timer per decision.
type InProcess interface {
	InProcess() bool
}

// PolicyChecker is implemented by stores that cannot hold every policy [Policy.Validate]
// accepts: more leases than one DynamoDB item holds, numbers past what a Lua script computes
// exactly, and the like. The limiters call CheckPolicy when they are built, for every static
// policy, and on every PolicyFunc answer, so that a policy the store cannot hold is refused up
// front instead of failing every request later. The error wraps [ErrInvalidPolicy] and names
// the field and the bound.
type PolicyChecker interface {
	CheckPolicy(p Policy) error
}

// checkStore asks store whether it can hold p, if it says.
func checkStore(store any, p Policy) error {
	if pc, ok := store.(PolicyChecker); ok {
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

// CheckTake validates the arguments of a Take: stores call it first so that bad input gets the
// same error from every store and changes nothing.
func CheckTake(p Policy, cost int64) error {
	if p.Algorithm == Concurrency {
		return fmt.Errorf("%w %q: concurrency policies take leases, not cost", ErrInvalidPolicy, p.Name)
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if cost < 0 {
		return fmt.Errorf("%w: %d", ErrNegativeCost, cost)
	}
	if cost > p.Capacity() {
		return fmt.Errorf("%w: cost %d > %d (policy %q)", ErrCostExceedsCapacity, cost, p.Capacity(), p.Name)
	}
	return nil
}

// CheckAdjust validates the policy of an [Adjuster]'s Adjust: a valid rate policy.
func CheckAdjust(p Policy) error {
	if p.Algorithm == Concurrency {
		return &PolicyError{Name: p.Name, Problem: "concurrency policies take leases, not cost"}
	}
	return p.Validate()
}

// CheckLease validates the arguments of Acquire, Release and Extend: a concurrency policy, and
// a lease id of 1 to 128 printable ASCII bytes (the limiter's ids are 32 hex digits).
func CheckLease(p Policy, lease string) error {
	if p.Algorithm != Concurrency {
		return fmt.Errorf("%w %q: leases need a concurrency policy", ErrInvalidPolicy, p.Name)
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if lease == "" || len(lease) > 128 {
		return fmt.Errorf("%w: lease id must be 1 to 128 bytes", ErrInvalidKey)
	}
	for i := 0; i < len(lease); i++ {
		// Printable ASCII: every store can keep such an id as it is (a DynamoDB map key,
		// a JSON object key, a Redis member) without escaping or merging two ids.
		if c := lease[i]; c < 0x21 || c > 0x7e {
			return fmt.Errorf("%w: lease id must be printable ASCII without spaces", ErrInvalidKey)
		}
	}
	return nil
}

// isCallerError reports whether err is the caller's fault rather than the backend's.
func isCallerError(err error) bool {
	return errors.Is(err, ErrInvalidKey) || errors.Is(err, ErrInvalidPolicy) ||
		errors.Is(err, ErrCostExceedsCapacity) || errors.Is(err, ErrNegativeCost)
}
