// Package s3store keeps Tollgate's limiter state in Amazon S3 (or an S3-compatible server),
// exactly: every write is conditional, so concurrent instances never lose or double-count an
// update.
//
// # Compare-and-swap mode (the default)
//
// One small JSON object per (policy name, key) holds core's state (a window count, a GCRA
// timestamp, or a set of leases). A decision reads the object and its ETag, applies core's
// pure algorithm ([storekit.Take], [storekit.AcquireLease], …) and writes the result back with
// PutObject If-Match: ETag (If-None-Match: * to create it). S3 accepts the write only if
// nobody wrote in between (conditional writes, November 2024); otherwise it answers 412
// PreconditionFailed, 409 ConditionalRequestConflict, or 404 if the object was deleted, and
// the store re-reads and tries again after a full-jitter delay, within the decision's
// context (the limiter's time budget). Decisions are therefore exactly core's, for every
// algorithm, including concurrency leases.
//
// Requests per decision:
//
//   - 1: a decision that spends, on a key this process decided on before (the last ETag and
//     state are cached, Config.CacheSize keys): the If-Match PUT alone.
//   - 1: a decision that spends nothing (a denial, a cost-0 peek): a GET If-None-Match on the
//     cached ETag, answered 304 without a body when nothing changed. A [core.Limiter] in front
//     caches denials until they expire, so a flood of denied requests costs no request.
//   - 2: a key this process has not seen: GET, then PUT.
//   - +2 per lost race (GET, PUT), with a full-jitter wait before each retry after the first.
//   - 1: a lease release, always a PUT, even of a lease that is not held (see below).
//   - 1: an [Store.Adjust] (a cost settled after the response, [core.Rule.Settle], or a
//     refund) on a key this process knows: [storekit.Adjust] on the cached
//     state, then the If-Match PUT; 2 on a key it has not seen (GET, PUT), and one
//     conditional GET when the adjustment changes nothing (a refund of a key that spent
//     nothing). Races are retried as for Take. So a settled request costs 1 request when its
//     estimate was right and 2 when it was not (TestRequestsPerAdjust); TestSettleAcrossProcesses
//     settles random real costs from 4 processes × 16 goroutines on one key of versitygw and
//     checks the admitted cost against the overshoot bound [core.Rule.Settle] documents.
//
// Goroutines of one process that decide on the same key take turns locally instead of racing
// on S3, so contention costs requests only between processes.
//
// No orphan leases: an Acquire that its caller gave up on (time budget, canceled request) may
// still reach S3 later. The [core.ConcurrencyLimiter] releases such a lease in the background;
// for the case where the late Acquire arrives after that release, every write stores a new
// version in the object (so an ETag never repeats, although S3's ETag is the MD5 of the
// content) and a release writes even when the lease is not held: the late Acquire's If-Match
// names an older ETag and fails with 412 instead of holding a slot for the lease time.
//
// # Marker mode
//
// For S3-compatible servers that support If-None-Match: * but not If-Match, Config.Mode
// Marker keeps an exact fixed window with create-only writes: request i of a window creates
// the empty object "slot k"; slots fill in order, so the window's count is found by a binary
// search over HEADs, a 412 moves to the next slot, and a request is allowed iff its slot is
// below the limit. It costs 1 PUT per decision when this process knows the boundary, and
// O(log L) HEADs plus about one PUT otherwise; a window known to be full costs nothing. It
// supports fixed windows and monthly quotas with cost 0 or 1; other policies and costs get an
// error wrapping [core.ErrInvalidPolicy] or [core.ErrCostExceedsCapacity] (and [ErrMarkerMode]).
// It writes one object per admitted request, so it suits low limits (job admission, daily
// quotas of hundreds) rather than high ones.
//
// Marker mode cannot settle costs after the response or refund them ([core.Rule.Settle],
// adapters' skip rules): slots are create-only, so nothing can be added to or taken back from
// a window atomically. [Store.Adjust] returns an error wrapping [core.ErrInvalidPolicy] and
// [ErrMarkerMode]. A [core.Limiter] only checks that its store implements [storekit.Adjuster],
// which the Store type does in both modes, so call [Store.CheckAdjust] at startup for a
// limiter that settles; otherwise each settlement fails and is reported to the observer.
//
// # Clock skew
//
// Every instance decides on its own clock, and instances' clocks differ:
//
//   - compare-and-swap mode applies core's math to the stored state, so a fixed or sliding
//     window never goes back in time: an instance whose clock is in an older window than the
//     stored state is counted against the stored, newer window (core's rule), and each window
//     admits at most Limit whichever clocks spent in it. The token bucket's TAT only moves
//     forward; leases expire on the checking instance's clock;
//   - marker mode keeps one set of slot objects per window (the window start is in their
//     names), so an instance whose clock lags behind a boundary claims slots of its own,
//     older window: each window's slots admit at most Limit, whichever clocks claimed them.
//
// Either way, over any span the cost admitted is at most Limit × the number of windows that
// any instance's clock entered; core/storetest's RunSkew checks it with two instances 2 s and
// 50 ms apart (TestSkew).
//
// # Object names
//
// Objects are named Prefix + hex(SHA-256(policy name, NUL, key)) + "/state" (or
// "/w<window>/<slot>" in marker mode): any key bytes, of any length, become a safe
// fixed-length name, and the hash at the front spreads keys over S3's partitions. Names are
// at most Prefix + 106 bytes, so New refuses a Prefix over [MaxPrefix] (918) bytes, which S3's
// 1,024-byte key limit would refuse on every call. A concurrency limit above [MaxLeases] is
// refused by the limiter constructors ([Store.CheckPolicy]), and so are, in marker mode,
// policies other than fixed windows.
//
// # Setup and limits
//
// A lifecycle rule on the prefix ([PutLifecycleRule], or `tollgate s3-lifecycle`) deletes
// the state of keys that are no longer used; its expiry must outlast the longest window
// ([LifecycleDays]). Do not enable versioning on the bucket.
//
// Call [Store.Verify] at startup: it checks the bucket and the conditional writes the mode
// needs, and names what is wrong. The store needs s3:GetObject and s3:PutObject on the
// prefix (an If-Match write is authorised as a PutObject, and the store must read what it
// compares), and s3:ListBucket on the bucket: without it S3 answers a GET or HEAD of a
// missing object with 403 instead of 404, and a first decision on a new key fails. Verify
// also deletes its probe object if s3:DeleteObject is granted.
//
// S3 sustains about 3,500 writes per second per partitioned prefix and each decision is a
// round trip of tens of milliseconds: S3 suits low-rate, high-value limits (daily and monthly
// quotas, per-tenant job admission, concurrency of expensive jobs), not 10,000 requests per
// second on one hot key. Give a [core.Limiter] over this store a Timeout that fits S3's
// latency (the default 100 ms budget is tight for a cold key).
//
// # Measured
//
// Against versitygw v1.8.0 on loopback (2-core AMD EPYC VM shared with other builds, load
// average about 4; 2026-11-24), with
//
//	source scripts/servers.sh && servers_install && servers_start &&
//	go test -race -count=1 -v -run 'Exact|Requests' ./core/s3store/ &&
//	go test -run '^$' -bench 'BenchmarkTake/versitygw' -benchmem ./core/s3store/
//
// 4 processes × 8 goroutines × 4 takes on one key of a 60-per-hour window admitted exactly 60
// in both modes (1.4 requests per decision in compare-and-swap mode, 1.8 in marker mode); a
// limit of 3 leases had at most 3 holders. Uncontended: 1.00 request per decision; 4 stores ×
// 8 goroutines in one process: 1.1 to 1.5. Spending decisions per second: compare-and-swap
// about 550 on one key (1 or 8 goroutines: one key is sequential by nature) and 1,300 on 256
// keys with 8 goroutines; marker mode 750 to 2,000. About 54 KB and 600 allocations per
// decision, nearly all in the AWS SDK (signing, middleware). On AWS S3 a round trip takes
// tens of milliseconds, so expect about 20 to 50 decisions per second per key.
package s3store
