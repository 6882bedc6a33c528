package storekit

import (
	"time"

	"github.com/tollgate-go/tollgate/core"
)

// ConcurrencyRetryAfter is the Retry-After hint of a concurrency denial when the earliest
// lease expiry is further away: holders usually release long before their lease expires.
const ConcurrencyRetryAfter = time.Second

// Leases maps lease IDs to their expiry in Unix nanoseconds: the state of a concurrency
// policy for one key. A lease whose expiry is at or before now is free.
type Leases map[string]int64

// AcquireLease grants lease id under p at now if fewer than p.Limit unexpired leases are held,
// removing expired leases first. Acquiring an id that is already held renews it (so a retried
// request is idempotent). It is the pure algorithm every concurrency store applies or mirrors.
func AcquireLease(ls Leases, p core.Policy, id string, now time.Time) core.Decision {
	n := now.UnixNano()
	var earliest int64
	for k, exp := range ls {
		if exp <= n {
			delete(ls, k)
		} else if earliest == 0 || exp < earliest {
			earliest = exp
		}
	}
	d := core.Decision{Limit: p.Limit, Policy: p}
	if _, held := ls[id]; held || int64(len(ls)) < p.Limit {
		ls[id] = n + int64(p.Lease)
		d.Allowed = true
	} else {
		d.RetryAfter = min(time.Duration(earliest-n), ConcurrencyRetryAfter)
	}
	d.Remaining = max(p.Limit-int64(len(ls)), 0)
	return d
}

// ReleaseLease frees lease id; it reports whether the lease was held and unexpired.
func ReleaseLease(ls Leases, id string, now time.Time) bool {
	exp, ok := ls[id]
	delete(ls, id)
	return ok && exp > now.UnixNano()
}

// ExtendLease renews an unexpired lease for another p.Lease from now. An expired or unknown
// lease returns [core.ErrLeaseNotFound]: its slot may already belong to someone else.
func ExtendLease(ls Leases, p core.Policy, id string, now time.Time) (core.Decision, error) {
	n := now.UnixNano()
	exp, ok := ls[id]
	if !ok || exp <= n {
		delete(ls, id)
		return core.Decision{Limit: p.Limit, Policy: p}, core.ErrLeaseNotFound
	}
	ls[id] = n + int64(p.Lease)
	held := int64(0)
	for _, e := range ls {
		if e > n {
			held++
		}
	}
	return core.Decision{Allowed: true, Limit: p.Limit, Remaining: max(p.Limit-held, 0), Policy: p}, nil
}

// Expiry returns the latest expiry among ls, after which the whole set is empty.
func (ls Leases) Expiry() int64 {
	var last int64
	for _, e := range ls {
		last = max(last, e)
	}
	return last
}
