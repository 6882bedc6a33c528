// Package storekit is for authors of Tollgate stores: what a [core.Store] or
// [core.ConcurrencyStore] implementation needs besides the core types, and nothing an
// application calls.
//
//   - Validation every store runs first, so that bad input gets the same error from every
//     store and changes nothing: [CheckTake], [CheckLease], [CheckAdjust].
//   - The pure rate algorithms over a [State]: [Take] (fixed window, sliding window, GCRA
//     token bucket), [Adjust] (settling and refunds), [Expiry] and [SlidingWeight]; and the
//     pure lease algorithm of concurrency policies over a [Leases] map: [AcquireLease],
//     [ExtendLease], [ReleaseLease]. A store applies them under its own atomic primitive or
//     expresses the same arithmetic natively.
//   - The optional capabilities a store may implement, which the limiters look for:
//     [Adjuster] (settling and refunds), [AdjustChecker], [Resetter] (resetting a key),
//     [PolicyChecker] (refusing at construction a policy the store cannot hold) and
//     [InProcess] (no per-decision deadline).
//
// core/storetest's conformance suite proves that a store answers as these do.
package storekit
