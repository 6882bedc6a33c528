package redisstore

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

var _ storekit.Resetter = (*Store)(nil)

// resetScript deletes the keys it is given: every key (policy name, key) may have. A script,
// not a DEL command, because the store's client is any [redis.Scripter] (a wrapper that counts
// or faults calls included); like every script of the store, its keys share one hash slot.
var resetScript = redis.NewScript(`return redis.call('DEL', unpack(KEYS))`)

// allSuffixes are the key suffixes of one (policy name, key): one per rate algorithm, and the
// two of the leases. ResetAt deletes them all.
var allSuffixes = []string{suffixFixed, suffixSliding, suffixGCRA, suffixLeases, suffixExpiry}

// ResetAt implements [storekit.Resetter]: it forgets key's state under p.Name in one script call
// (one round trip): the windows (the sliding window's previous count lives in the same hash),
// the token bucket's TAT and the leases, whatever p's algorithm, as core/memstore forgets every
// state kept under the name. The keys share the hash tag {<name>:<key>}, so one DEL is one
// hash slot, as Redis Cluster requires. now is not used: state is deleted, not rewritten.
//
// A decision that runs at the same time is ordered by Redis before or after the reset, never
// in between: its script is atomic. A lease acquired before the reset is gone after it; its
// holder's Extend then fails with [core.ErrLeaseNotFound] and its Release does nothing.
func (s *Store) ResetAt(ctx context.Context, key string, p core.Policy, _ time.Time) error {
	if err := p.Validate(); err != nil {
		return err
	}
	base := s.keyBase(p.Name, key, 3)
	keys := make([]string, len(allSuffixes))
	for i, suffix := range allSuffixes {
		// Each conversion copies base's bytes before the next append reuses its array.
		keys[i] = string(append(base, suffix...))
	}
	if err := resetScript.Run(ctx, s.client, keys).Err(); err != nil {
		return backendError(&p, err)
	}
	return nil
}
