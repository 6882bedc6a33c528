package storekit

import (
	"context"
	"time"

	"github.com/tollgate-go/tollgate/core"
)

// InProcess is implemented by stores that never wait on I/O (the memory store). The limiters
// skip the per-decision deadline for them, which saves a context and a timer per decision.
type InProcess interface {
	InProcess() bool
}

// PolicyChecker is implemented by stores that cannot hold every policy [core.Policy.Validate]
// accepts: more leases than one DynamoDB item holds, numbers past what a Lua script computes
// exactly, and the like. The limiters call CheckPolicy when they are built, for every static
// policy, and on every PolicyFunc answer, so that a policy the store cannot hold is refused up
// front instead of failing every request later. The error wraps [ErrInvalidPolicy] and names
// the field and the bound.
type PolicyChecker interface {
	CheckPolicy(p core.Policy) error
}

// Adjuster is implemented by stores that can change what a key has spent under a policy by a
// signed amount, without a limit check: one request on every store. It is how a cost known
// only after the response is settled (see [core.Rule.Settle]): a positive delta charges more than
// the estimate (the key may go into debt, past its limit, and is denied until the algorithm
// pays the debt back), a negative one gives the difference back (a refund).
//
// Adjust applies [storekit.Adjust] to the key's state and returns its decision; the key and
// error contract is that of [core.Store]. A limiter whose rules settle costs, or whose adapter
// refunds (skip rules), needs a store that implements it; NewLimiter says so otherwise.
type Adjuster interface {
	Adjust(ctx context.Context, key string, p core.Policy, delta int64, now time.Time) (core.Decision, error)
}

// AdjustChecker is implemented by stores that can adjust some policies but not others (an
// S3 store in marker mode adjusts none). NewLimiter asks it for every settling limit's static
// policy, so a limit the store cannot settle is refused at construction.
type AdjustChecker interface {
	CheckAdjust(p core.Policy) error
}

// Resetter is implemented by stores that can forget a key's state under a policy: the key
// starts afresh (a full allowance; for concurrency, no leases). It is what an operator's
// "reset this key" is ([core.Limiter.Reset], the CLI's usage reset).
type Resetter interface {
	ResetAt(ctx context.Context, key string, p core.Policy, now time.Time) error
}
