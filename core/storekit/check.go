package storekit

import (
	"fmt"

	"github.com/tollgate-go/tollgate/core"
)

// CheckTake validates the arguments of a Take: stores call it first so that bad input gets the
// same error from every store and changes nothing.
func CheckTake(p core.Policy, cost int64) error {
	if p.Algorithm == core.Concurrency {
		return fmt.Errorf("%w %q: concurrency policies take leases, not cost", core.ErrInvalidPolicy, p.Name)
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if cost < 0 {
		return fmt.Errorf("%w: %d", core.ErrNegativeCost, cost)
	}
	if cost > p.Capacity() {
		return fmt.Errorf("%w: cost %d > %d (policy %q)", core.ErrCostExceedsCapacity, cost, p.Capacity(), p.Name)
	}
	return nil
}

// CheckAdjust validates the policy of an [Adjuster]'s Adjust: a valid rate policy.
func CheckAdjust(p core.Policy) error {
	if p.Algorithm == core.Concurrency {
		return &core.PolicyError{Name: p.Name, Problem: "concurrency policies take leases, not cost"}
	}
	return p.Validate()
}

// CheckLease validates the arguments of Acquire, Release and Extend: a concurrency policy, and
// a lease id of 1 to 128 printable ASCII bytes (the limiter's ids are 32 hex digits).
func CheckLease(p core.Policy, lease string) error {
	if p.Algorithm != core.Concurrency {
		return fmt.Errorf("%w %q: leases need a concurrency policy", core.ErrInvalidPolicy, p.Name)
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if lease == "" || len(lease) > 128 {
		return fmt.Errorf("%w: lease id must be 1 to 128 bytes", core.ErrInvalidKey)
	}
	for i := 0; i < len(lease); i++ {
		// Printable ASCII: every store can keep such an id as it is (a DynamoDB map key,
		// a JSON object key, a Redis member) without escaping or merging two ids.
		if c := lease[i]; c < 0x21 || c > 0x7e {
			return fmt.Errorf("%w: lease id must be printable ASCII without spaces", core.ErrInvalidKey)
		}
	}
	return nil
}
