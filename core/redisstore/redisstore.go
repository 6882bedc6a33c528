// Package redisstore keeps Tollgate's limiter state in Redis (or Valkey, ElastiCache,
// MemoryDB): a [core.Store], [storekit.Adjuster] and [core.ConcurrencyStore] on go-redis v9, so
// every instance of an app that shares the Redis enforces one limit together.
//
// # One round trip per decision
//
// Each algorithm and operation is one Lua script (fixed window, sliding window, token bucket
// as GCRA, each with a take and an adjust script; concurrency leases), run atomically by the
// server, so each call is one EVALSHA: one round trip. The scripts are sent by SHA-1; when a
// server does not know a script yet (first call, restart, failover, SCRIPT FLUSH) it answers
// NOSCRIPT and the source is sent once more with EVAL, which caches it: that call costs two
// round trips. [Store.LoadScripts] loads them ahead of time.
//
//	call                                          round trips
//	Take (any rate algorithm, allowed or denied)  1
//	Adjust (a settled cost, a refund)             1
//	Acquire, Release, Extend (leases)             1 each
//	a denial the limiter's denial cache answers   0
//	a request that settles (core.Rule.Settle)    1 when the estimate was right (Take),
//	                                              2 when not (Take, then Adjust)
//
// TestRoundTrips and TestAdjustRoundTrips count them with a go-redis hook.
//
// # Settling costs: Adjust
//
// [Store.Adjust] changes what a key has spent by a signed amount without a limit check, as
// [storekit.Adjust] does: a fixed or sliding window adds delta to the count of the window
// now is in (never below zero; a caller whose clock is behind the stored window adjusts that
// window, as Take counts it), a token bucket moves its TAT by delta emission intervals from
// max(TAT, now) (never below now). A [core.Limiter] uses it to settle a cost known only after
// the response ([core.Rule].Settle) and for refunds. Above the estimate, the key may go past
// its limit (debt) and is denied until the next window or the refill pays it back. Debt is
// bounded so that the scripts' arithmetic stays exact: a window's count at most
// [MaxWindowCount] (2^52), a token bucket's TAT at most [MaxTAT] (2240); an adjustment past
// them is refused with [ErrAdjustOutOfRange] and changes nothing. Across 4 processes × 16
// goroutines on one key, the cost settled stays within the bound core.Rule.Settle documents
// (TestSettleAcrossProcesses, on redis-server and a Cluster).
//
// # Same decisions as core
//
// The scripts decide (admit or deny, and the new state) and return the state they started
// from; the Go side then replays core's pure algorithm ([storekit.Take], or
// [storekit.Adjust] for Adjust, whose script also returns the state it wrote) on that
// state at the script's time to fill in the [core.Decision], and checks that both agree. So a
// decision from Redis is exactly what core/memstore would answer for the same sequence of
// (time, cost); core/storetest proves it on miniredis and on redis-server.
//
// Lua numbers are doubles, exact only up to 2^53, and a Unix time in nanoseconds is about
// 1.8e18. The scripts therefore never form a nanosecond timestamp as one number: times travel
// as decimal strings and are split into (seconds, nanoseconds) pairs, added and compared
// exactly. Counts are exact while they stay below 2^53, hence [MaxWindowLimit] and
// [MaxWindowCount]. The sliding
// window's weight, floor(prev × (window − elapsed) / window), is computed in doubles in the
// same order as [storekit.SlidingWeight], from the same correctly rounded inputs, so it is
// the same double.
//
// # Keys
//
// State for (policy name, key) lives under
//
//	<prefix>{<policy name>:<key>}:<algorithm>
//
// with the name and the key percent-escaped (space, bytes outside printable ASCII, and % : { } #), and
// a key longer than 64 bytes replaced by "#" and the base64url SHA-256 of its bytes, so any
// bytes are a valid key, a 1 MiB key costs no more than a short one, and no two keys collide.
// The braces are a Redis Cluster hash tag: the keys of one decision (two for leases) are in one
// slot, as Cluster requires of a script, while different keys spread over the cluster. Leases
// use <…>:cz (a sorted set of expiries) and <…>:ch (a hash of exact expiries).
//
// Every key gets a relative TTL (PEXPIRE) from the caller's clock: the time until its state
// can no longer affect a decision, plus one second for clock skew between instances.
// Correctness never depends on TTL deletion being prompt: stale state is recognised by its
// window or time (for skews beyond the second, see Clocks).
//
// # Clocks
//
// By default the now argument (the app's clock) decides, as for every store. Instances'
// clocks differ, and shared state never goes back in time: a fixed or sliding window already
// stored for a later window than the caller's clock is not reset; the caller is counted
// against it, evaluated at its start (core's rule, see [storekit.Take]), and told
// RetryAfter and ResetAfter on its own clock. So each window admits at most its Limit, whatever
// the skew between instances; a token bucket's TAT only moves forward (core/storetest's
// RunSkew checks both on miniredis, redis-server and a Redis Cluster). The one-second slack
// in every TTL (above) is what keeps state alive until the clocks that lag its last writer by
// up to a second are done with it. With a larger skew S, state last written by a leading
// instance can expire while a lagging one still needs it: a fixed window can then admit its
// Limit again (twice in all), a sliding window about Limit × (S − 1 s) / Window more, a token
// bucket (S − 1 s) / interval more (TestSkewWithinTTLSlack shows the windows). Keep instances' clocks within a
// second of each other (NTP keeps them within milliseconds), or use server time. With
// Config.UseServerTime the scripts read the Redis server's TIME instead and the now argument is
// ignored: every instance then agrees on window boundaries even when their clocks drift, at
// microsecond resolution. A test with a fake clock cannot use it, which is why core/storetest
// runs with the app's clock. The app's clock still helps the script find an epoch-aligned
// window, exactly for any skew up to 2^43 windows (278 years of 1 ms windows; beyond, an
// error); calendar months come from the server's clock alone. Times before 1970 are refused.
//
// # Performance
//
// On a shared 2-core AMD EPYC VM (linux/amd64, Go 1.26, redis-server 7.0.15 on loopback,
// 2026-11-24), with 1 and 16 goroutines on one client: token bucket 44 µs and 30 µs per
// decision (22,600 and 33,300 decisions/s), fixed window 45 and 33 µs, sliding window 46 and
// 34 µs, lease acquire+release 98 and 93 µs; 21 to 26 allocations per decision, mostly
// go-redis's. Re-run with the servers of scripts/servers.sh started:
//
//	go test -run '^$' -bench . -benchmem -benchtime=2s ./core/redisstore/
//
// Settling costs through a [core.Limiter] (BenchmarkSettle, same machine, 2026-11-30, median
// of -count=3, 1 and 16 goroutines): when the estimate was right, 1 store request per
// request and 39 to 61 µs per request; when it was not, 2 store requests (the Take, then the
// Adjust in the background, which the request does not wait for) and 81 to 124 µs, about
// twice the Redis work. Re-run with:
//
//	go test -run '^$' -bench Settle -benchmem -count=3 ./core/redisstore/
//
// # Time budget
//
// A [core.Limiter] gives each decision a deadline (core.Config.Timeout, 100 ms by default) and
// applies its failure policy past it. go-redis honours a context's deadline on the socket only
// when the client is built with ContextTimeoutEnabled (in redis.Options, ClusterOptions,
// RingOptions, FailoverOptions or UniversalOptions); without it, a server that hangs rather
// than refuses holds a decision for ReadTimeout (5 s by default). [New] therefore refuses such
// a client, naming the option. With a paused redis-server, a decision with a 100 ms budget
// returns in about 100 ms (TestDeadlineHolds). With core.Config.Timeout = -1 the limiter sets
// no deadline and the client's ReadTimeout and WriteTimeout bound each call; that spares each
// decision a context.WithTimeout (a timer and about five allocations), which is what separates
// Tollgate's GCRA from go-redis/redis_rate's in bench/RESULTS.md
// (tollgate-gcra-nocache against tollgate-gcra-nocache-nobudget).
//
// Redis Cluster, Sentinel and single nodes all work: pass any [redis.UniversalClient]. The
// test command runs the conformance suites and the multi-process exactness test on a
// 3-master redis-server cluster through a *redis.ClusterClient.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// DefaultPrefix is the key prefix when Config.Prefix is empty.
const DefaultPrefix = "tollgate:"

// Config configures a [Store]. Zero values are the documented defaults.
type Config struct {
	// Prefix starts every key the store writes, so that several apps, or tests, share a
	// database. It must not contain '{' or '}' (they would change the Cluster hash tag).
	// Optional. Default: DefaultPrefix.
	Prefix string
	// UseServerTime makes the scripts take the time from the Redis server (TIME) instead of
	// the now argument, which is then ignored. Optional. Default: false, the app's clock.
	UseServerTime bool
}

// Store is a [core.Store], [storekit.Adjuster] and [core.ConcurrencyStore] in Redis. The zero value is not usable;
// call [New]. Safe for concurrent use.
type Store struct {
	client redis.Scripter
	opts   clientOptions
	prefix string
	server bool
}

var (
	_ core.Store             = (*Store)(nil)
	_ core.ConcurrencyStore  = (*Store)(nil)
	_ storekit.PolicyChecker = (*Store)(nil)
)

// New returns a store that runs its scripts on client: a [redis.UniversalClient] (*redis.Client,
// *redis.ClusterClient, a Sentinel failover client, *redis.Ring) or anything else that runs
// scripts, such as a wrapper that counts or faults calls. New does no I/O; [Store.Verify]
// does, at startup.
//
// New refuses a go-redis client built without ContextTimeoutEnabled (or with socket
// deadlines disabled by a negative ReadTimeout or WriteTimeout), with an error that names the
// option: such a client ignores the context's deadline on the socket, so a Redis that hangs
// rather than refuses would hold every decision for ReadTimeout (5 s by default) instead of
// the limiter's time budget (100 ms by default), and the failure policy would act seconds
// late. Refusing is what a user expects from a one-line mistake: the fix is one option, found
// at startup, and costs nothing per decision. The alternative, a store that enforces the
// deadline itself, would have to run each call on another goroutine and walk away from it,
// which allocates on every decision and, while Redis stalls, leaves abandoned calls holding
// pool connections until ReadTimeout. Clients New cannot inspect (a wrapper that does not
// embed a go-redis client) are trusted to honour the context's deadline.
func New(client redis.Scripter, cfg Config) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: a Redis client is required")
	}
	opts := inspect(client)
	if err := opts.check(); err != nil {
		return nil, err
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(cfg.Prefix, "{}") {
		return nil, fmt.Errorf("redisstore: prefix %q must not contain '{' or '}'", cfg.Prefix)
	}
	return &Store{client: client, opts: opts, prefix: cfg.Prefix, server: cfg.UseServerTime}, nil
}

// LoadScripts loads the scripts into the server's script cache (on every master of a
// Cluster, every shard of a Ring), so that even the first decision is one round trip. It is
// optional: without it, the first decision per server sends the script source once.
// [Store.Verify] loads them too.
func (s *Store) LoadScripts(ctx context.Context) error {
	return s.eachNode(ctx, func(ctx context.Context, node redis.Scripter, where string) error {
		if err := loadScripts(ctx, node); err != nil {
			return fmt.Errorf("redisstore: load scripts on %s: %w", where, err)
		}
		return nil
	})
}

// backendError wraps a Redis failure for the limiter's failure policy.
func backendError(p *core.Policy, err error) error {
	return fmt.Errorf("redisstore: %s %q: %w", p.Algorithm, p.Name, err)
}

// errBadReply reports a reply that is not what the script returns: a server or proxy that
// does not run the script as written.
var errBadReply = errors.New("unexpected script reply")
