package dynamostore

import (
	"context"
	"fmt"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// slidingWindow decides with one UpdateItem on the current window's item, the previous
// window's weighted count being folded into the condition. The previous window's count is
// read once per key and window by this Store (see previous), then cached: once a window has
// passed nobody writes to it (an instance whose clock lags behind by d may still add to it
// during d; that write is not seen by instances that cached the count, which then
// underestimate the weighted count by at most that cost).
func (s *Store) slidingWindow(ctx context.Context, base string, p core.Policy, cost, now int64) (core.Decision, error) {
	start, end := p.WindowBounds(now)
	pk := windowKey(base, start)
	prev, err := s.previous(ctx, windowKey(base, start-int64(p.Window)))
	if err != nil {
		return core.Decision{}, err
	}
	weighted := storekit.SlidingWeight(p, prev, now)
	room := p.Limit - cost - weighted
	for range maxRounds {
		var curr int64
		allowed := false
		if cost == 0 || room < 0 {
			// A peek, or a cost the previous window alone denies: read the current count.
			n, err := s.getNumber(ctx, pk, attrCount)
			if err != nil {
				return core.Decision{}, err
			}
			curr = n
		} else {
			before, ok, known, err := s.spend(ctx, pk, cost, room, end+int64(p.Window))
			if err != nil {
				return core.Decision{}, err
			}
			switch {
			case ok || known:
				curr = before
			default:
				// The condition failed, so curr > limit - cost - weighted; the denial's
				// RetryAfter depends on how far past (a debt an Adjust charged counts in
				// full), so it needs the count.
				if curr, err = s.getNumber(ctx, pk, attrCount); err != nil {
					return core.Decision{}, err
				}
			}
			allowed = ok
		}
		_, d := storekit.Take(p, storekit.State{Window: start, Count: curr, Prev: prev}, cost, now)
		if cost > 0 && !allowed && d.Allowed && room >= 0 {
			// A read saw room that the write did not have: the item was reset in between.
			continue
		}
		return d, nil
	}
	// Reset (or refunded) between every failed write and its read: the last failed condition
	// proves curr > room at that instant, and the lowest such count gives the denial (see
	// lostRace).
	_, d := storekit.Take(p, storekit.State{Window: start, Count: room + 1, Prev: prev}, cost, now)
	return d, nil
}

// prevReadTimeout bounds the shared read of a previous window's count once the caller that
// started it has given up (see previous).
const prevReadTimeout = 5 * time.Second

// previous returns the final count of the past window item prevPK: from the cache, or from
// one GetItem shared by every goroutine of this Store that needs it at the same time
// (singleflight), so that a burst of decisions on a key at the start of a window costs one
// read, not one per goroutine. Each caller waits at most until its own context ends; the
// shared read is detached from the context of the caller that started it (bounded by
// prevReadTimeout), so that one caller's deadline does not fail the others.
func (s *Store) previous(ctx context.Context, prevPK string) (int64, error) {
	if prev, ok := s.prevs.get(prevPK); ok {
		return prev, nil
	}
	ch := s.prevFlight.DoChan(prevPK, func() (any, error) {
		if prev, ok := s.prevs.get(prevPK); ok {
			return prev, nil // read by a flight that ended just before this one began
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), prevReadTimeout)
		defer cancel()
		prev, err := s.getNumber(rctx, prevPK, attrCount)
		if err != nil {
			return int64(0), err
		}
		s.prevs.put(prevPK, prev)
		return prev, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return 0, r.Err
		}
		return r.Val.(int64), nil
	case <-ctx.Done():
		return 0, fmt.Errorf("dynamostore: reading the previous window: %w", ctx.Err())
	}
}
