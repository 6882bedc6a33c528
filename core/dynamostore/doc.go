// Package dynamostore keeps Tollgate's limiter state in one Amazon DynamoDB table, so every
// instance of an application enforces one limit together. It implements [core.Store] (fixed
// window, monthly quota, sliding window, token bucket), [storekit.Adjuster] (costs settled after
// the response, refunds) and [core.ConcurrencyStore] (leases), and returns, for the same sequence of (time, cost), the same decisions as core's pure
// algorithms: core/storetest proves it against a DynamoDB server.
//
// # Table
//
// One table with a string partition key (attribute "pk" by default, see
// [Config.PartitionKey]) and no sort key, on-demand billing, and Time to Live on a number
// attribute ("exp" by default) holding Unix seconds. [CreateTable] (or the
// `tollgate dynamodb-create-table` command) creates it. TTL only reclaims storage: every
// expiry that matters to a decision is checked in the condition expressions or by the core
// math, because DynamoDB deletes expired items up to a few days late. Items carry an "exp" one
// hour past their last relevant instant ([TTLGrace]), so an instance whose clock runs behind
// never sees state vanish early.
//
// # Partition keys
//
// A key may be any bytes (binary, huge, unicode). Its partition key is
//
//	KeyPrefix + tag + ":" + policy name + ":" + base64url(SHA-256(key)) [+ ":" + window start]
//
// where tag is "fw" (fixed window and quotas), "sw" (sliding window), "tb" (token bucket) or
// "cc" (concurrency) and the window start is in Unix nanoseconds. Hashing makes every key a
// short, safe string (KeyPrefix is [Config.KeyPrefix]), spreads load over partitions, and keeps client keys (IP addresses, API
// keys) out of the table. Two policies with different names or algorithms never share state.
// [Store.PartitionKey] returns the partition key of a (key, policy, time).
// A partition key is KeyPrefix and at most 132 more bytes, so New refuses a KeyPrefix over
// [MaxKeyPrefix] (1,916) bytes, which DynamoDB's 2,048-byte limit would refuse on every call;
// a concurrency limit above [MaxLeases] is refused by the limiter constructors
// ([Store.CheckPolicy]).
//
// # Round trips per decision
//
// Each decision is expressed in DynamoDB update and condition expressions, so it is atomic
// without locks, and costs (as measured by this package's tests):
//
//   - fixed window and quotas: ONE conditional UpdateItem
//     (ADD n :cost SET exp = if_not_exists(exp, :exp), condition
//     attribute_not_exists(n) OR n <= :limit-cost), one item per window. A denial of cost 1
//     needs nothing more (the count is then exactly the limit). A larger denied cost reads
//     the count from the failed condition (ReturnValuesOnConditionCheckFailure=ALL_OLD) or,
//     on servers that ignore it, with one GetItem.
//   - sliding window: the same single UpdateItem on the current window's item, with the
//     previous window's weighted count folded into the condition; the previous window's count
//     is read with one GetItem per key and window per Store, shared by the goroutines that
//     need it at once (singleflight), then cached (a past window is final). A denial reads
//     the current count from the failed condition (ALL_OLD) or, on servers that ignore it,
//     with one GetItem: its RetryAfter depends on the count, which a debt ([Store.Adjust])
//     may take past the limit. A cost that the previous window alone denies is one GetItem
//     and no write.
//   - token bucket (GCRA): one conditional UpdateItem in the common case — SET tat = :now+inc
//     when tat <= :now or absent, or SET tat = tat + :inc when :now < tat <= :now+tau-inc —
//     with the case chosen from the last TAT this process saw for the key. A wrong guess
//     learns the state from the failed condition (ALL_OLD) or a GetItem, and tries again with
//     the right case. A denial foreseen from the cached TAT is confirmed with one GetItem
//     (which also gives its numbers; a refund may have lowered the TAT since).
//   - concurrency: one item per key holding a map h of lease ID → expiry (Unix ns). Acquire is
//     SET h.#id = :exp with condition size(h) < :limit OR h.#id > :now (ALL_NEW returned, to
//     count live leases). When the map is full of expired leases, they are removed by a
//     second conditional update that also grants the lease. Release is REMOVE h.#id (and, for
//     a lease that is not held, a second update that records the release watermark, below);
//     Extend sets the expiry again if the lease is present and unexpired. Lease IDs are
//     stored as base64url, or hashed when over 48 bytes, so a map key is at most 64 bytes
//     and [MaxLeases] leases (about 311 KB) fit in DynamoDB's 400 KB item. The item is read
//     and written whole: on dynalite (2026-11-30, shared 2-core VM) an Acquire took 21 ms at
//     the median with 4,090 leases held against 1.3 ms with 10, half of it returning the
//     map (ALL_NEW, about 230 KB; the same update returning nothing took 10 ms). Give a
//     limiter over thousands of leases per key a Timeout to match.
//   - a cost of 0 (a peek) is one consistent GetItem and writes nothing.
//
// [Store.Adjust] (settling a cost after the response, [core.Rule.Settle], and refunds) changes
// what a key spent by a signed delta, without a limit check, in ONE UpdateItem in the common
// case:
//
//   - fixed and sliding windows: ADD n :delta on now's window item (unconditional for a
//     charge, which may take the count past the limit: a debt, denied until the window
//     ends or, for a sliding window, until its weight decays). A refund is conditional on
//     n >= |delta|; when that fails (the refund is more than what is left, or the item is
//     absent), a second UpdateItem sets n = 0 on condition n < |delta| (spending in between
//     makes it fail, and the ADD is tried again), so a count never goes below zero. A
//     sliding window's decision also needs the previous window's count, read and cached as
//     for Take.
//   - token bucket: the new TAT is max(max(tat, now) + delta×interval, now), which is one of
//     two writes: SET tat = tat + :off when tat > :h, else SET tat = :a (h = now, or now +
//     |off| for a refund; a = the resulting TAT). The two conditions partition every state,
//     so a wrong guess (from the TAT this process last saw) proves the other case and the
//     second write needs no read. A charge moves the item's expiry as far as the TAT, so TTL
//     never deletes a debt.
//   - a delta of 0 is one GetItem.
//
// Measured on dynalite (TestRequestsPerAdjust): 1.00 UpdateItem per Adjust for charges and
// refunds on every algorithm, a settled request 1 request when the estimate was right and 2
// when it was not; a refund of more than was spent 2 on windows, 1 on the token bucket.
// TestSettleAcrossProcesses settles random real costs from 4 processes × 16 goroutines on one
// key and checks the admitted cost against the overshoot bound [core.Rule.Settle] documents.
//
// The [core.Limiter]'s denial cache answers repeated denials with no DynamoDB call at all.
// One partition key takes about 1,000 write units per second: a single hot key beyond that
// needs the denial cache, or sharded limits.
//
// # Clock skew
//
// Every instance decides on its own clock, and instances' clocks differ. A fixed or sliding
// window lives in one item per window (the window start is part of the partition key), so an
// instance whose clock lags behind a window boundary spends from its own, older window's
// item, and never resets or reads back a newer one. The rule, and the bound it gives:
//
//   - each window item admits at most Limit, whichever instances' clocks spent in it (the
//     condition n <= Limit - cost holds for every write to it);
//   - so over any span, the cost admitted is at most Limit × the number of windows that any
//     instance's clock entered. With a skew S between instances, a window's item takes
//     admissions from its start minus S to its end, real time: around a boundary, up to
//     Limit more can be admitted within S than one clock would allow (a fixed window already
//     allows 2 × Limit across a boundary, so S only moves where that burst falls);
//   - sliding window: each item still admits at most Limit - the weighted previous count.
//     The previous window's count is read and cached when an instance first decides in the
//     new window; a lagging instance that keeps adding to the previous window during S is
//     not seen by instances that cached it, which then underestimate the weighted count by
//     at most what was added during S;
//   - token bucket (GCRA): the TAT only moves forward, except by a refund of what was spent
//     (the update is SET tat = tat + inc when the stored TAT is ahead of the caller's clock,
//     and a refund never moves it below the caller's now), so a lagging instance is stricter,
//     never looser, and an instance whose clock runs S ahead gains at most S / interval
//     once over the life of the key;
//   - leases expire on the clock of the instance that checks them: an instance S ahead
//     reclaims a lease S early (keep S well under the lease time).
//
// core/storetest's RunSkew checks the first bound with two instances 2 s and 50 ms apart
// (TestSkew), and TestSkewWindowItems checks each window item directly.
//
// # No orphan leases
//
// An Acquire whose caller gave up (its time budget ran out, the request was canceled) may
// still reach DynamoDB and be applied later. The [core.ConcurrencyLimiter] releases every
// such lease in the background; for an Acquire delivered after that release, the release of
// a lease that is not held records a release watermark in the item (r = the release's time,
// kept only if newer), and every update that grants a lease requires r < the time of its
// Acquire. The late Acquire fails its condition instead of holding a slot for the whole
// lease time. A live Acquire that meets a watermark at or after its own time (a release at
// the same instant, or by an instance whose clock is ahead) learns r from the failed
// condition and moves its stamp past it, at the cost of one more round trip. The residual
// case is a late Acquire from an instance whose clock is behind the watermark's writer and
// that retried past it (two stalls in a row); its lease expires with the lease time.
//
// # Retries and time budget
//
// Build the client with [NewClient]: it goes through core/backoff, so throttling
// (ThrottlingException, ProvisionedThroughputExceededException), 5xx and connection errors
// are retried with full-jitter exponential backoff, and never a failed condition. Every
// call honours the context: the limiter's per-decision deadline (core.Config.Timeout,
// 100 ms by default) bounds a decision including its retries, after which the limiter's
// failure policy (fail open, fail closed, or a local fallback) decides.
//
// # IAM permissions
//
// The store needs dynamodb:GetItem, dynamodb:UpdateItem and dynamodb:DeleteItem (Reset) on
// the table; [CreateTable] also needs dynamodb:CreateTable, dynamodb:DescribeTable,
// dynamodb:DescribeTimeToLive and dynamodb:UpdateTimeToLive:
//
//	{
//	  "Version": "2012-10-17",
//	  "Statement": [
//	    {
//	      "Sid": "TollgateStore",
//	      "Effect": "Allow",
//	      "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
//	      "Resource": "arn:aws:dynamodb:REGION:ACCOUNT:table/TABLE"
//	    },
//	    {
//	      "Sid": "TollgateSetup",
//	      "Effect": "Allow",
//	      "Action": ["dynamodb:CreateTable", "dynamodb:DescribeTable",
//	                 "dynamodb:DescribeTimeToLive", "dynamodb:UpdateTimeToLive"],
//	      "Resource": "arn:aws:dynamodb:REGION:ACCOUNT:table/TABLE"
//	    }
//	  ]
//	}
//
// Application instances need only the first statement, plus dynamodb:DescribeTable and
// dynamodb:DescribeTimeToLive if they call [Store.Verify] at startup (recommended); give the
// second to whoever provisions the table. To keep an application from resetting keys, drop
// dynamodb:DeleteItem from its statement.
//
// # Local servers
//
// The store works with dynalite and DynamoDB Local (set the endpoint with
// [ClientOptions.Endpoint] or AWS_ENDPOINT_URL_DYNAMODB). dynalite ignores
// ReturnValuesOnConditionCheckFailure, so there a wrong token-bucket guess or a concurrency
// denial costs one extra GetItem, and it has no TTL API, which [CreateTable] tolerates.
package dynamostore
