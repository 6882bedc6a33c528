package s3store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/backoff"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// API is the subset of *s3.Client the store calls. Tests wrap it to count and fault calls;
// every call goes through the client's own retryer (build the client with [NewClient] or
// [backoff.LoadAWSConfig] so that throttling is retried with full-jitter backoff).
type API interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	// HeadBucket and DeleteObject are called by [Store.Verify] only.
	HeadBucket(ctx context.Context, in *s3.HeadBucketInput, optFns ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

var _ API = (*s3.Client)(nil)

// Mode selects how the store makes its writes atomic.
type Mode uint8

const (
	// CompareAndSwap (the zero value) keeps one state object per (policy, key) and updates it
	// with PutObject If-Match on the ETag it read (S3 conditional writes, November 2024). It
	// supports every core algorithm, including concurrency leases.
	CompareAndSwap Mode = iota
	// Marker needs only PutObject If-None-Match: * (create-only writes, August 2024, and most
	// S3-compatible servers): one empty object per admitted request, "slot k" of its window.
	// It supports fixed windows (and monthly quotas) with a cost of 0 or 1 only.
	Marker
)

// String names the mode.
func (m Mode) String() string {
	switch m {
	case CompareAndSwap:
		return "compare-and-swap"
	case Marker:
		return "marker"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// DefaultPrefix is Config.Prefix when it is empty.
const DefaultPrefix = "tollgate/"

// DefaultCacheSize is Config.CacheSize when it is zero.
const DefaultCacheSize = 10_000

// DefaultMaxAttempts bounds the compare-and-swap attempts of one decision when
// Config.Retry.MaxAttempts is zero. The decision's context deadline (the limiter's time
// budget) usually ends the loop first.
const DefaultMaxAttempts = 32

// Config configures a Store. Zero values are the documented defaults.
type Config struct {
	// Bucket holds the state objects. Required. Do not enable versioning on it: every
	// decision that spends writes a new version.
	Bucket string
	// Prefix is prepended to every object name; a lifecycle rule on it (see
	// [PutLifecycleRule]) deletes old state. It should end with '/'; at most MaxPrefix (918)
	// bytes of UTF-8. Optional. Default: DefaultPrefix.
	Prefix string
	// Mode selects compare-and-swap or marker objects. Optional. Default: CompareAndSwap.
	Mode Mode
	// CacheSize bounds the number of keys whose last known state (ETag and content, or the
	// marker boundary) this process remembers; a remembered key decides in one request.
	// Optional. Default: DefaultCacheSize. Negative: remember nothing (every decision
	// reads first).
	CacheSize int
	// Retry is the backoff between compare-and-swap attempts after a lost race (412, 409,
	// or 404 on If-Match), and between marker attempts after a 409. The context of each
	// decision bounds it too. Optional. Default: the zero backoff.Policy (full jitter, 25 ms
	// base, 2 s cap) with MaxAttempts DefaultMaxAttempts.
	Retry backoff.Policy
}

// Store is a [core.Store], [storekit.Adjuster] (compare-and-swap mode) and [core.ConcurrencyStore]
// on S3 conditional writes. Build it with
// [New]. Safe for concurrent use; decisions on one key in one process are serialised locally
// (they would only race each other on S3), while decisions on different keys run in parallel.
type Store struct {
	client API
	bucket string
	prefix string
	mode   Mode
	retry  backoff.Policy
	cache  *cache
}

var (
	_ core.Store            = (*Store)(nil)
	_ core.ConcurrencyStore = (*Store)(nil)
)

// ErrMarkerMode is wrapped by the error of a policy, a cost or an operation that marker mode
// does not support, beside core.ErrInvalidPolicy (a policy other than a fixed window, a
// lease, or an Adjust: settling a cost after the response, a refund) or
// core.ErrCostExceedsCapacity (a cost above 1), so that limiters treat it as the caller's
// mistake rather than a store failure.
var ErrMarkerMode = errors.New("s3store: marker mode supports fixed windows with cost 0 or 1 only")

// New validates cfg and returns a store that talks to S3 through client. It makes no call:
// call [Store.Verify] at startup to check the bucket and the mode.
func New(client API, cfg Config) (*Store, error) {
	if client == nil {
		return nil, errors.New("s3store: New needs a client (an *s3.Client from NewClient)")
	}
	if cfg.Bucket == "" {
		return nil, errors.New("s3store: Config.Bucket is required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if err := checkPrefix(cfg.Prefix); err != nil {
		return nil, err
	}
	switch cfg.Mode {
	case CompareAndSwap, Marker:
	default:
		return nil, fmt.Errorf("s3store: unknown mode %d", cfg.Mode)
	}
	if cfg.Retry.MaxAttempts == 0 {
		cfg.Retry.MaxAttempts = DefaultMaxAttempts
	}
	size := cfg.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	return &Store{
		client: client,
		bucket: cfg.Bucket,
		prefix: cfg.Prefix,
		mode:   cfg.Mode,
		retry:  cfg.Retry,
		cache:  newCache(max(size, 0)),
	}, nil
}

// Mode returns the store's mode.
func (s *Store) Mode() Mode { return s.mode }

// Take implements [core.Store]. In compare-and-swap mode it applies [storekit.Take] to the
// key's state object; in marker mode it claims the next slot of the window.
func (s *Store) Take(ctx context.Context, key string, p core.Policy, cost int64, now time.Time) (core.Decision, error) {
	if err := storekit.CheckTake(p, cost); err != nil {
		return core.Decision{}, err
	}
	if s.mode == Marker {
		return s.markerTake(ctx, key, p, cost, now)
	}
	n := now.UnixNano()
	return s.update(ctx, key, p, func(o *object) (core.Decision, bool, error) {
		st := o.state(p.Algorithm)
		next, d := storekit.Take(p, st, cost, n)
		// A denial or a cost-0 peek writes nothing, as in memstore: a peek can only roll a
		// window over or move a token bucket's TAT up to now, which the next take redoes.
		if !d.Allowed || cost == 0 || next == st {
			return d, false, nil
		}
		*o = object{Alg: p.Algorithm, State: next}
		return d, true, nil
	})
}

// Acquire implements [core.ConcurrencyStore] with [storekit.AcquireLease] on the key's lease
// object (compare-and-swap mode only).
func (s *Store) Acquire(ctx context.Context, key string, p core.Policy, lease string, now time.Time) (core.Decision, error) {
	if err := s.checkLease(p, lease); err != nil {
		return core.Decision{}, err
	}
	return s.update(ctx, key, p, func(o *object) (core.Decision, bool, error) {
		ls := o.leases()
		d := storekit.AcquireLease(ls, p, lease, now)
		if !d.Allowed {
			return d, false, nil
		}
		*o = object{Alg: core.Concurrency, Leases: ls}
		return d, true, nil
	})
}

// Release implements [core.ConcurrencyStore] with [storekit.ReleaseLease].
//
// Releasing a lease that is not held still writes the object (a new version, same leases),
// so that its ETag changes: an Acquire of that lease still on its way to S3 — sent before the
// caller gave up on it, delivered after this Release, the orphan a stalled store leaves —
// carries an If-Match on an older ETag and fails with 412 instead of holding a slot for the
// whole lease time. That costs one PUT (and a GET when the state is not cached) on a path
// that is rare in normal operation: a release of an expired lease, a second release, or the
// limiter releasing an acquire whose outcome it never learned.
func (s *Store) Release(ctx context.Context, key string, p core.Policy, lease string, now time.Time) error {
	if err := s.checkLease(p, lease); err != nil {
		return err
	}
	_, err := s.update(ctx, key, p, func(o *object) (core.Decision, bool, error) {
		ls := o.leases()
		storekit.ReleaseLease(ls, lease, now)
		*o = object{Alg: core.Concurrency, Leases: ls}
		return core.Decision{}, true, nil
	})
	return err
}

// Extend implements [core.ConcurrencyStore] with [storekit.ExtendLease].
func (s *Store) Extend(ctx context.Context, key string, p core.Policy, lease string, now time.Time) (core.Decision, error) {
	if err := s.checkLease(p, lease); err != nil {
		return core.Decision{}, err
	}
	return s.update(ctx, key, p, func(o *object) (core.Decision, bool, error) {
		ls := o.leases()
		d, err := storekit.ExtendLease(ls, p, lease, now)
		if err != nil {
			return d, false, fmt.Errorf("s3store: %w", err)
		}
		*o = object{Alg: core.Concurrency, Leases: ls}
		return d, true, nil
	})
}

func (s *Store) checkLease(p core.Policy, lease string) error {
	if err := storekit.CheckLease(p, lease); err != nil {
		return err
	}
	if s.mode == Marker {
		return fmt.Errorf("%w: policy %q is %s (%w)", ErrMarkerMode, p.Name, p.Algorithm, core.ErrInvalidPolicy)
	}
	// Lease IDs are keys of the state object's JSON, where invalid UTF-8 would be replaced
	// (two IDs could become one): storekit.CheckLease above admits printable ASCII only.
	return s.CheckPolicy(p)
}
