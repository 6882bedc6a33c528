package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// Acquire implements [core.ConcurrencyStore], as [storekit.AcquireLease]: one script call, one
// round trip. The leases of a key are a sorted set of expiries (and a hash of their exact
// nanoseconds); expired leases are dropped first, so a crashed holder's slot comes back when
// its lease expires. With Config.UseServerTime, now is ignored.
func (s *Store) Acquire(ctx context.Context, key string, p core.Policy, lease string, now time.Time) (core.Decision, error) {
	ok, held, retry, err := s.lease(ctx, key, &p, "a", lease, now)
	if err != nil {
		return core.Decision{}, err
	}
	d := core.Decision{Allowed: ok, Limit: p.Limit, Remaining: max(p.Limit-held, 0), Policy: p}
	if !ok {
		d.RetryAfter = time.Duration(retry)
	}
	return d, nil
}

// Release implements [core.ConcurrencyStore], as [storekit.ReleaseLease]: releasing an unknown or
// expired lease is not an error.
func (s *Store) Release(ctx context.Context, key string, p core.Policy, lease string, now time.Time) error {
	_, _, _, err := s.lease(ctx, key, &p, "r", lease, now)
	return err
}

// Extend implements [core.ConcurrencyStore], as [storekit.ExtendLease]: an expired or unknown
// lease is an error wrapping [core.ErrLeaseNotFound].
func (s *Store) Extend(ctx context.Context, key string, p core.Policy, lease string, now time.Time) (core.Decision, error) {
	ok, held, _, err := s.lease(ctx, key, &p, "e", lease, now)
	if err != nil {
		return core.Decision{}, err
	}
	if !ok {
		return core.Decision{Limit: p.Limit, Policy: p}, fmt.Errorf("redisstore: %w", core.ErrLeaseNotFound)
	}
	return core.Decision{Allowed: true, Limit: p.Limit, Remaining: max(p.Limit-held, 0), Policy: p}, nil
}

// lease runs the semaphore script and returns its verdict, the leases held after it, and the
// retry hint in nanoseconds.
func (s *Store) lease(ctx context.Context, key string, p *core.Policy, op, lease string, now time.Time) (ok bool, held, retry int64, err error) {
	if err := storekit.CheckLease(*p, lease); err != nil {
		return false, 0, 0, err
	}
	_, nowArg, err := s.clock(now)
	if err != nil {
		return false, 0, 0, err
	}
	base := s.keyBase(p.Name, key, len(suffixLeases))
	// Two statements: Go may evaluate both appends, which share base's array, before either
	// conversion copies it.
	zkey := string(append(base, suffixLeases...))
	hkey := string(append(base, suffixExpiry...))
	keys := []string{zkey, hkey}
	v, err := semaphoreScript.Run(ctx, s.client, keys,
		nowArg, op, lease, p.Limit, int64(p.Lease), int64(storekit.ConcurrencyRetryAfter)).Slice()
	if err != nil {
		return false, 0, 0, backendError(p, err)
	}
	r := reply(v)
	verdict, ok1 := r.int(0)
	held, ok2 := r.int(1)
	retry, ok3 := r.int(2)
	if !ok1 || !ok2 || !ok3 {
		return false, 0, 0, backendError(p, errBadReply)
	}
	return verdict == 1, held, retry, nil
}
