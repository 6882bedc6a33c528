// Package core is Tollgate's framework-neutral limiter. It answers one question: may this key
// spend this cost under this policy now? It imports no web framework and no AWS package.
//
// The parts:
//
//   - [Policy]: a name, an algorithm ([FixedWindow], [SlidingWindow], [TokenBucket] as GCRA,
//     [Concurrency]) and its numbers. The pure algorithms (core/storekit: Take, Adjust and
//     the lease functions) live once; every store either applies it under its own atomic primitive
//     or expresses the same arithmetic natively, and the conformance suite in core/storetest
//     proves that every store returns the same [Decision] for the same sequence of (time, cost).
//   - [Store] and [ConcurrencyStore]: where the shared state lives (core/memstore in process;
//     DynamoDB, S3 and Redis stores in their own packages).
//   - [Request] and [KeyFunc]: what a framework adapter shows the core of a request, and how a
//     request becomes a key (client IP behind trusted proxies, a header, the route, composites).
//   - [Limiter] and [ConcurrencyLimiter]: several limits per request, per-key dynamic policies,
//     cost per request, a per-decision time budget, a failure policy with a circuit breaker, a
//     denial cache, shadow mode and an [Observer].
//
// Two packages beside it serve other audiences. core/reply is for adapter authors: it renders
// a [Result] as HTTP (the IETF RateLimit and RateLimit-Policy fields, Retry-After, the
// optional X-RateLimit-* fields, the RFC 9457 problem+json body, the status of an error).
// core/storekit is for store authors: the validation every store runs first, the pure lease
// algorithm, and the optional capabilities a store may implement (adjusting, resetting,
// refusing a policy it cannot hold).
//
// Time is always injected: stores take a now argument, and limiters take a clock in their
// Config, so tests drive a fake clock instead of sleeping.
package core
