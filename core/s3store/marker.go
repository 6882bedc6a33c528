package s3store

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/backoff"
)

// markerTake decides a fixed-window take in marker mode.
//
// Each admitted request of a window creates one empty object, slot k, with If-None-Match: *,
// so a slot is won by exactly one request. Slots are claimed in order: a request claims slot
// k only after seeing slot k-1 exist (a HEAD, a 412 on it, or its own earlier claim), so the
// existing slots of a window are always 0..m-1 and existence is monotone in k. Hence:
//
//   - the count of the window is the boundary m, found by a galloping then binary search over
//     HEADs, O(log L) of them, or O(log d) from a cached lower bound d slots behind;
//   - a request is allowed iff the slot it won is below the limit L; a 412 means someone else
//     won that slot, so the request moves on (after its first 412, by searching again from
//     the next slot: the cache was stale; after later ones, to the next slot: true
//     contention); a 409 ConditionalRequestConflict leaves the slot's fate open, so the same
//     slot is tried again after a full-jitter delay (skipping it could leave a gap);
//   - at most L requests per window are allowed, by construction, whatever the contention.
//
// Under contention the slots order the requests: the request that won slot k is the
// (k+1)-th of its window, and its Remaining, L-k-1, is what core's algorithm returns for the
// (k+1)-th take of a serial sequence; a denial's RetryAfter (the end of the window) is exact
// because slots never disappear within a window. So decisions equal [storekit.Take] for
// cost 1 (slot k won: Remaining L-k-1; window full: denied with Remaining 0 and RetryAfter
// the end of the window) and for cost 0 (Remaining L-m). Larger costs would need several slots, which cannot be claimed atomically (a denial
// could then spend), so they are refused with an error wrapping core.ErrCostExceedsCapacity.
//
// Requests per decision: uncontended with a cached boundary, one PUT; a cold cache starts
// with a PUT at slot 0 and, if that fails, O(log L) HEADs and about one PUT more; a window
// known to be full costs none.
func (s *Store) markerTake(ctx context.Context, key string, p core.Policy, cost int64, now time.Time) (core.Decision, error) {
	if p.Algorithm != core.FixedWindow {
		return core.Decision{}, fmt.Errorf("%w: policy %q is %s (%w)", ErrMarkerMode, p.Name, p.Algorithm, core.ErrInvalidPolicy)
	}
	if cost > 1 {
		return core.Decision{}, fmt.Errorf("%w: cost %d under policy %q (%w)", ErrMarkerMode, cost, p.Name, core.ErrCostExceedsCapacity)
	}
	n := now.UnixNano()
	start, end := p.WindowBounds(n)
	base := s.objectBase(p.Name, key)
	e, err := s.cache.acquire(ctx, base)
	if err != nil {
		return core.Decision{}, fmt.Errorf("s3store: waiting for this process's previous decision on the key: %w", err)
	}
	defer s.cache.release(base, e)
	if e.window != start {
		e.window, e.next, e.full = start, 0, false
	}
	limit := p.Limit
	decide := func(count int64, allowed bool) core.Decision {
		d := core.Decision{Allowed: allowed, Limit: limit, Remaining: max(limit-count, 0), ResetAfter: time.Duration(end - n), Policy: p}
		if !allowed {
			d.RetryAfter = time.Duration(end - n)
		}
		return d
	}
	if e.full {
		return decide(limit, cost == 0), nil
	}
	if cost == 0 {
		m, err := s.boundary(ctx, base, start, e.next, limit)
		if err != nil {
			return core.Decision{}, err
		}
		e.next, e.full = m, m >= limit
		return decide(m, true), nil
	}
	k, searched, conflicts := e.next, false, 0
	for {
		if k >= limit {
			e.next, e.full = limit, true
			return decide(limit, false), nil
		}
		err := s.claim(ctx, slotName(base, start, k))
		switch {
		case err == nil:
			e.next = k + 1
			return decide(k+1, true), nil
		case isConflict(err):
			if conflicts+1 >= s.retry.MaxAttempts {
				return core.Decision{}, fmt.Errorf("s3store: %s slot %d: %w: %w", p.Name, k, backoff.ErrMaxAttempts, err)
			}
			if werr := backoff.Sleep(ctx, s.retry.Delay(conflicts)); werr != nil {
				return core.Decision{}, fmt.Errorf("s3store: %s slot %d: %w (after %w)", p.Name, k, werr, err)
			}
			conflicts++
		case lostRace(err):
			e.next = k + 1
			if searched {
				k++
				continue
			}
			searched = true
			if k, err = s.boundary(ctx, base, start, k+1, limit); err != nil {
				return core.Decision{}, err
			}
			e.next = k
		default:
			return core.Decision{}, err
		}
	}
}

// claim creates slot object name if it does not exist.
func (s *Store) claim(ctx context.Context, name string) error {
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           &name,
		Body:          bytes.NewReader(nil),
		ContentLength: aws.Int64(0),
		IfNoneMatch:   aws.String("*"),
	})
	if err != nil && !lostRace(err) {
		return fmt.Errorf("s3store: put %s: %w", name, err)
	}
	return err
}

// exists HEADs slot object name.
func (s *Store) exists(ctx context.Context, name string) (bool, error) {
	_, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &name})
	switch {
	case err == nil:
		return true, nil
	case isNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("s3store: head %s: %w", name, err)
}

// boundary returns the first missing slot of the window at or after lo (every slot below lo
// is known to exist), or limit when slots lo..limit-1 all exist: it gallops (lo, lo+1, lo+3,
// lo+7, …) to bracket the boundary, then bisects, so it costs O(log(m-lo)) HEADs.
func (s *Store) boundary(ctx context.Context, base string, window, lo, limit int64) (int64, error) {
	have, missing := lo-1, limit // slot have exists (or have < lo); slot missing does not (or = limit)
	for step := int64(1); ; step *= 2 {
		k := have + step
		if k >= limit {
			break
		}
		ok, err := s.exists(ctx, slotName(base, window, k))
		if err != nil {
			return 0, err
		}
		if !ok {
			missing = k
			break
		}
		have = k
	}
	for missing-have > 1 {
		k := have + (missing-have)/2
		ok, err := s.exists(ctx, slotName(base, window, k))
		if err != nil {
			return 0, err
		}
		if ok {
			have = k
		} else {
			missing = k
		}
	}
	return missing, nil
}
