package dynamostore

import (
	"context"

	"github.com/tollgate-go/tollgate/core"
)

// slidingWindow decides with one UpdateItem on the current window's item, the previous
// window's weighted count being folded into the condition. The previous window's count is
// read once per key and window, then cached: once a window has passed nobody writes to it
// (an instance whose clock lags behind by d may still add to it during d; that write is not
// seen by instances that cached the count, which then underestimate the weighted count by at
// most that cost).
func (s *Store) slidingWindow(ctx context.Context, base string, p core.Policy, cost, now int64) (core.Decision, error) {
	start, end := p.WindowBounds(now)
	pk := windowKey(base, start)
	prevPK := windowKey(base, start-int64(p.Window))
	prev, ok := s.prevs.get(prevPK)
	if !ok {
		var err error
		if prev, err = s.getNumber(ctx, prevPK, attrCount); err != nil {
			return core.Decision{}, err
		}
		s.prevs.put(prevPK, prev)
	}
	weighted := p.SlidingWeight(prev, now)
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
			case cost == 1:
				// The condition failed, so curr >= limit - weighted; every successful
				// write kept curr <= limit - weighted as of its time, and the weighted
				// count only decreases with time, so curr is exactly limit - weighted.
				curr = p.Limit - weighted
			default:
				if curr, err = s.getNumber(ctx, pk, attrCount); err != nil {
					return core.Decision{}, err
				}
			}
			allowed = ok
		}
		_, d := p.TakeNanos(core.State{Window: start, Count: curr, Prev: prev}, cost, now)
		if cost > 0 && !allowed && d.Allowed && room >= 0 {
			// A read saw room that the write did not have: the item was reset in between.
			continue
		}
		return d, nil
	}
	return core.Decision{}, errContention
}
