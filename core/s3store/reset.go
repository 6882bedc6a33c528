package s3store

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

var _ storekit.Resetter = (*Store)(nil)

// ResetAt implements [storekit.Resetter]: it forgets key's state under p.Name, so that the key
// starts afresh.
//
// In compare-and-swap mode the state object is not deleted but rewritten empty, under
// compare-and-swap like any decision (a GET first when this process does not know its ETag,
// then one If-Match PUT; nothing is written when nothing is stored): rate state, leases and
// whatever algorithm the name was last used with are gone. Rewriting keeps the object's
// version counting up, so an ETag never repeats (a delete would start it again, and a late
// conditional write that carried an old ETag could then pass); and every other process's
// cached ETag is now stale, so its next decision on the key loses its If-Match (or its
// conditional GET sees the change) and reads the fresh state: a reset holds across the fleet.
// A holder of a lease dropped by the reset gets [core.ErrLeaseNotFound] from Extend.
//
// In marker mode the current window's slot objects are deleted (this needs s3:DeleteObject):
// O(log limit) HEADs find them, then one DELETE per request the window admitted, 16 at a
// time from the highest down, so that the slots that exist stay (but for those 16) a prefix
// 0..j, the order every search relies on. Each slot admits once per existence, so a reset
// never lets a window admit more than a fresh one would after it. What it does not reach
// makes a window admit fewer: every other Store (another process, or another Store in this
// one) counts on from what it cached: one that saw the window full denies until it ends
// without asking S3 (that is what makes a full window free), one that counted m claims from
// slot m, so until the window ends each admits only what was left before the reset; only
// this Store and Stores that had not cached the window see the whole allowance. Slots are
// found up to the first missing one, so slots beyond a gap (left by a reset that raced
// admissions) stay and are skipped. A policy other than a fixed window is refused, as every
// marker-mode call refuses it. Compare-and-swap mode has none of these limits.
func (s *Store) ResetAt(ctx context.Context, key string, p core.Policy, now time.Time) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if s.mode == Marker {
		return s.markerReset(ctx, key, p, now)
	}
	_, err := s.update(ctx, key, p, func(o *object) (core.Decision, bool, error) {
		if o.State == (storekit.State{}) && len(o.Leases) == 0 {
			return core.Decision{}, false, nil // nothing to forget
		}
		*o = object{Alg: p.Algorithm}
		return core.Decision{}, true, nil
	})
	return err
}

// resetParallel bounds the slot deletions of a marker-mode reset in flight at once.
const resetParallel = 16

// markerReset deletes the slots of now's window, highest first.
func (s *Store) markerReset(ctx context.Context, key string, p core.Policy, now time.Time) error {
	if p.Algorithm != core.FixedWindow {
		return fmt.Errorf("%w: policy %q is %s (%w)", ErrMarkerMode, p.Name, p.Algorithm, core.ErrInvalidPolicy)
	}
	start, _ := p.WindowBounds(now.UnixNano())
	base := s.objectBase(p.Name, key)
	e, err := s.cache.acquire(ctx, base)
	if err != nil {
		return fmt.Errorf("s3store: waiting for this process's previous decision on the key: %w", err)
	}
	defer s.cache.release(base, e)
	// Forget first: whatever happens below, this process's next decision searches again.
	e.window, e.next, e.full = start, 0, false
	m, err := s.boundary(ctx, base, start, 0, p.Limit)
	if err != nil {
		return err
	}
	for hi := m; hi > 0; hi -= resetParallel {
		lo := max(hi-resetParallel, 0)
		errs := make([]error, hi-lo)
		var wg sync.WaitGroup
		for k := lo; k < hi; k++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := slotName(base, start, k)
				if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &name}); err != nil {
					errs[k-lo] = fmt.Errorf("s3store: reset %s: delete %s: %w", p.Name, name, err)
				}
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
	}
	return nil
}
