// Package otelmetrics records OpenTelemetry metrics for Tollgate's limiters, built on
// core.Observer: build one [Metrics] per process with [New], and give each limiter its own
// observer with [Metrics.Observer]:
//
//	m, err := otelmetrics.New(otelmetrics.Options{}) // the global MeterProvider
//	lim, err := core.NewLimiter(core.Config{
//		Store:    store,
//		Rules:   limits,
//		Observer: m.Observer(observe.Limiter{Name: "api", Store: store}),
//	})
//
// For Prometheus scrapers, observe/promexport builds the same metrics on OpenTelemetry's
// Prometheus exporter; the Prometheus name of each metric is in the table.
//
// # Metrics
//
// Names, units and attributes follow OpenTelemetry's semantic-convention style, modelled on
// ASP.NET Core's aspnetcore.rate_limiting.* metrics and the HTTP conventions (durations in
// seconds, error.type for failures, {annotation} units for counts).
//
//	name                                  instrument     unit        attributes                                        recorded
//	tollgate.rate_limiting.decisions      Counter        {decision}  tollgate.limiter, tollgate.policy,                once per decision a limiter makes (per limit: a request
//	(tollgate_rate_limiting_decisions_total)                         tollgate.result, tollgate.cached,                 checked against two limits is two decisions), including a
//	                                                                 tollgate.local, [tollgate.key.bucket]             request FailClosed refused and those a reserved batch answered
//	tollgate.rate_limiting.near_limit     Counter        {decision}  tollgate.limiter, tollgate.policy                 an allowed decision that leaves at least Options.NearLimit
//	(tollgate_rate_limiting_near_limit_total)                                                                          of the limit spent (Limit-Remaining >= NearLimit*Limit)
//	tollgate.rate_limiting.leases.acquired Counter       {lease}     tollgate.limiter, tollgate.policy                 a concurrency lease granted (by the store or the fallback;
//	(tollgate_rate_limiting_leases_acquired_total)                                                                     FailOpen and shadow mode grant none)
//	tollgate.rate_limiting.active_leases  UpDownCounter  {lease}     tollgate.limiter, tollgate.policy                 up when a lease is granted, down when it is released (a failed
//	(tollgate_rate_limiting_active_leases, a gauge)                                                                    release included: the core retries it); reported once a lease
//	                                                                                                                   was granted
//	tollgate.rate_limiting.lease.duration Histogram      s           tollgate.limiter, tollgate.policy                 a lease released: how long it was held, on the limiter's clock
//	(tollgate_rate_limiting_lease_duration_seconds)                                                                    (LeaseDurationBuckets: 5 ms … 5 min)
//	tollgate.store.duration               Histogram      s           tollgate.limiter, tollgate.store,                 a store call's duration, successful or not (error.type set
//	(tollgate_store_duration_seconds)                                tollgate.store.operation, [error.type]            on failure); not for in-process stores (core/memstore); an
//	                                                                                                                   extend only when it failed (the core reports no other)
//	tollgate.store.errors                 Counter        {error}     tollgate.limiter, tollgate.store,                 a store call that failed or exceeded the time budget
//	(tollgate_store_errors_total)                                    tollgate.store.operation, error.type              (calls the open breaker refused are not store calls)
//	tollgate.breaker.transitions          Counter        {transition} tollgate.limiter, tollgate.store,                the circuit breaker opened or closed
//	(tollgate_breaker_transitions_total)                             tollgate.breaker.state
//	tollgate.breaker.open                 Gauge          {breaker}   tollgate.limiter, tollgate.store                  1 while the breaker is open, 0 while it is closed
//	(tollgate_breaker_open)
//	tollgate.rate_limiting.reservations   Counter        {reservation} tollgate.limiter, tollgate.policy               a decision reserved a batch of allowance from the store (a
//	(tollgate_rate_limiting_reservations_total)                                                                        limit with core.Reservations: one store request per batch)
//	tollgate.rate_limiting.reserved       Counter        {cost}      tollgate.limiter, tollgate.policy                 the allowance those batches reserved, in the policy's cost
//	(tollgate_rate_limiting_reserved_total)                                                                            units (core.Event's Reserved)
//	tollgate.rate_limiting.settlements    Counter        {settlement} tollgate.limiter, tollgate.policy,               a settlement (core.Rule's Settle) or refund (Limiter.Refund)
//	(tollgate_rate_limiting_settlements_total)                       tollgate.settlement.direction,                    the store took (ok) or that failed after the core's retries
//	                                                                 tollgate.settlement.result                        (failed); a settlement of zero makes no store call and none
//	tollgate.rate_limiting.settled        Counter        {cost}      as settlements                                    the allowance those settlements charged or refunded, in the
//	(tollgate_rate_limiting_settled_total)                                                                             policy's cost units (core.Event's Delta)
//
// Attributes:
//
//	tollgate.limiter          observe.Limiter.Name: "api", "login" (Prometheus: tollgate_limiter)
//	tollgate.policy           the policy's Name: "free", "pro" (policies from a PolicyFunc carry their own)
//	tollgate.result           allowed, denied, shadow_denied, failed_open, failed_closed, fallback, fallback_denied
//	                          (see observe.Classify)
//	tollgate.cached           true for a denial answered by the denial cache without a store call
//	tollgate.local            true for a decision answered from a batch reserved earlier (core.Reservations),
//	                          without a store call
//	tollgate.key.bucket       only with Options.KeyBuckets: FNV-1a(key) mod KeyBuckets, an integer
//	tollgate.store            memory, redis, dynamodb, s3, or observe.Limiter.StoreName
//	tollgate.store.operation  take, acquire, release, extend, adjust (core.Event's Op; adjust settles a cost)
//	error.type                timeout, canceled, _OTHER (see observe.ErrorType); never the error's text
//	tollgate.breaker.state    open, closed: the state the breaker moved to
//	tollgate.settlement.direction
//	                          charge (the real cost was above the estimate), refund (below it, or refunded
//	                          whole; see observe.ClassifySettlement)
//	tollgate.settlement.result
//	                          ok (the store took it), failed (it did not, after the core's retries)
//
// # Keys
//
// No attribute carries a key: keys are unbounded (one series per client IP would exhaust a
// metrics backend) and personal (IP addresses, API keys). Options.KeyBuckets opts in to a
// bounded, hashed form: the decisions counter gains tollgate.key.bucket, at most KeyBuckets
// values per policy and result, enough to see whether denials come from a few hot keys or
// from everyone. To find which key a hot bucket holds, use the status page (observe/status).
//
// # Leases
//
// A lease the application never releases (it dropped the *core.Lease) stays in
// tollgate.rate_limiting.active_leases: the store expires it after the policy's Lease, but no
// event says so. Adapters always release.
//
// # Reservations and settlements
//
// A decision answered from a reserved batch is a decision like any other (allowed, or denied
// while a token bucket's next batch accrues), so it is counted in
// tollgate.rate_limiting.decisions, told apart by tollgate.local=true rather than in a counter
// of its own: one counter keeps the sum over all decisions, shows local answers by result, and
// gives the share of store requests the reservations saved as one ratio over one metric, as
// tollgate.cached does for the denial cache. It is no store call: no tollgate.store.duration.
//
// A settlement or refund is a store call with operation adjust (tollgate.store.duration and
// tollgate.store.errors), never a decision; tollgate.rate_limiting.settlements and
// tollgate.rate_limiting.settled count it by direction and result. A failed one was dropped,
// or applied to the fallback store under core.FailFallback. A reserved batch given back by
// Limiter.Close is counted only when that fails (as a failed refund): the core reports no
// successful give-back.
//
// # Cost
//
// Counting a decision is one atomic add into a cell found by policy name (a map read without a
// lock); OpenTelemetry reads the cells when it collects, through observable instruments. The
// store duration histogram is a synchronous instrument (about 100 ns a record), so it is not
// recorded for in-process stores, whose calls take less than that (the core does not time
// them either: their events carry no latency). Store errors and breaker
// transitions are rare and use synchronous counters; so does the lease hold-time histogram,
// recorded once per release.
package otelmetrics
