// Package backoff holds Tollgate's retry machinery: a full-jitter exponential
// backoff Policy, a Retry loop and a context-aware Sleep for the stores'
// compare-and-swap loops, a retry Budget, the one place that configures the
// AWS SDK's retryer for every S3 and DynamoDB client of the project, and a
// retrying http.RoundTripper for users' HTTP clients.
//
// # Policy
//
// A Policy waits random(0, min(Cap, Base*2^n)) before retry n+1 ("full
// jitter", as AWS recommends). The zero value is usable: Base 25ms (about one
// S3 or DynamoDB round trip, so a lost race is retried soon), Cap 2s (a
// rate-limit decision on the request path must not wait longer; the failure
// policy takes over), 3 attempts (the AWS SDK's default). Equal, decorrelated
// and no jitter are available for comparison. Rand, Now and Sleep are
// injectable, so tests need no real sleeping.
//
// # Stores
//
// Every AWS client is built from one aws.Config:
//
//	cfg, err := backoff.LoadAWSConfig(ctx, backoff.Policy{AttemptTimeout: 2 * time.Second})
//	ddb := dynamodb.NewFromConfig(cfg)
//
// or, for a config built elsewhere, config.WithRetryer(backoff.AWSRetryer(p)).
// The SDK then retries throttling (ThrottlingException,
// ProvisionedThroughputExceededException, RequestLimitExceeded, SlowDown,
// 429), 500/502/503/504 and connection errors with our jitter, and never a
// lost race: S3's 412 PreconditionFailed and 409 ConditionalRequestConflict
// and DynamoDB's ConditionalCheckFailedException come straight back. The
// store re-reads and tries again itself:
//
//	err := backoff.Retry(ctx, p, func(ctx context.Context) error {
//		state, etag, err := read(ctx)
//		...
//		return writeIfMatch(ctx, next, etag)
//	}, backoff.IsConditionalFailure)
//
// Retry stops before a wait that would pass the context's deadline and
// returns the last error wrapped with ErrDeadline, so the loop is bounded by
// the decision's time budget. A loop that sleeps by itself uses
// Policy.Delay(n) and Sleep(ctx, d), which also refuses to sleep past the
// deadline.
//
// # Why full jitter: the simulation
//
// N clients start together and each must update one shared object once with
// compare-and-swap; an attempt reads, then commits 20ms later, and loses if
// someone committed in between (AWS's "Exponential Backoff And Jitter"
// study). Virtual time, zero Policy with the given jitter, mean of 20 seeds.
// Printed by:
//
//	go test -run TestSimulation -v ./core/backoff/
//
// Output (deterministic: seeded sources, virtual time):
//
//	clients  jitter           calls   completion
//	10       none                55       7.375s
//	10       full                35        486ms
//	10       equal               39        798ms
//	10       decorrelated        29        515ms
//	25       none               325      37.675s
//	25       full               124       1.636s
//	25       equal              130       2.305s
//	25       decorrelated       103       1.265s
//	50       none              1275    1m28.175s
//	50       full               300       2.981s
//	50       equal              313       4.238s
//	50       decorrelated       269       2.834s
//	100      none              5050     3m9.175s
//	100      full               719        4.98s
//	100      equal              728       6.611s
//	100      decorrelated       703       5.371s
//
// Without jitter the clients stay one herd: every round has one winner, so
// 100 clients make n(n+1)/2 = 5050 calls and take three minutes. Any jitter
// cuts calls 2-7x and completion 15-40x. Full jitter beats equal jitter on
// both counts. Decorrelated jitter needs 2-17% fewer calls here, yet full
// jitter is the default because it is stateless: Delay(n) depends only on n,
// which is all the AWS SDK's BackoffDelayer and a store's loop have (the SDK
// shares one retryer across concurrent calls, so it cannot carry each call's
// previous wait), and its worst case, Window(n), is known in advance when
// fitting retries into a time budget. Under the SDK, DecorrelatedJitter falls
// back to a stateless approximation (see Policy.Delay).
//
// # Retry budget
//
// A Budget is the AWS SDK's retry quota as a type: 500 tokens, 5 per retry
// (10 after a timeout), refunded when the retry succeeds, plus 1 per
// first-attempt success. During an outage it empties and clients stop
// retrying, so a fleet sends about one call per request instead of
// MaxAttempts. Set Policy.Budget to share one among Retry, Transport and the
// AWS retryer; the AWS retryer otherwise makes one per client, as the SDK
// does.
//
// # HTTP clients
//
// NewTransport wraps an http.RoundTripper: it retries 429 and 503 (and
// connection errors of idempotent requests), waits the server's Retry-After or
// RateLimit t plus the jittered backoff, never waits past the request's
// deadline (it returns the last response), never retries POST or PATCH unless
// told to, rewinds bodies with Request.GetBody, and reports every attempt.
//
// # Benchmarks
//
// Re-run with:
//
//	go test -run '^$' -bench . -benchmem -benchtime=200ms ./core/backoff/
//
// On 2026-11-24, linux/amd64, AMD EPYC, 2 cores shared with other builds
// (so read the figures as orders of magnitude), Go 1.26:
//
//	BenchmarkDelay/full            14 ns/op   0 allocs/op
//	BenchmarkDelay/decorrelated    26 ns/op   0 allocs/op
//	BenchmarkRetrySuccess          60 ns/op   0 allocs/op
//	BenchmarkTransportHotPath      57 ns/op   0 allocs/op (no retry needed)
package backoff
