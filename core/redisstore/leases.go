package redisstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// leasesScript returns the lease hash: lease id, then its exact expiry in nanoseconds, for
// each lease. A read-only script, because the store's client is any [redis.Scripter].
var leasesScript = redis.NewScript(`return redis.call('HGETALL', KEYS[1])`)

// Leases returns the leases stored for key under the concurrency policy p: each lease ID with
// its expiry in Unix nanoseconds (on the server's clock with Config.UseServerTime), expired
// ones included until an Acquire drops them. It changes nothing: it is for operators (the
// `tollgate usage show` command), one script call.
func (s *Store) Leases(ctx context.Context, key string, p core.Policy) (storekit.Leases, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if p.Algorithm != core.Concurrency {
		return nil, fmt.Errorf("redisstore: Leases: policy %q is %s, not a concurrency policy (%w)", p.Name, p.Algorithm, core.ErrInvalidPolicy)
	}
	v, err := leasesScript.Run(ctx, s.client, []string{s.redisKey(p.Name, key, suffixExpiry)}).Slice()
	if err != nil {
		return nil, backendError(&p, err)
	}
	if len(v)%2 != 0 {
		return nil, backendError(&p, errBadReply)
	}
	ls := make(storekit.Leases, len(v)/2)
	for i := 0; i < len(v); i += 2 {
		id, ok1 := v[i].(string)
		exp, ok2 := v[i+1].(string)
		n, err := strconv.ParseInt(exp, 10, 64)
		if !ok1 || !ok2 || err != nil {
			return nil, backendError(&p, errBadReply)
		}
		ls[id] = n
	}
	return ls, nil
}
