package s3store

import (
	"context"
	"fmt"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

var _ storekit.Adjuster = (*Store)(nil)

// Adjust implements [storekit.Adjuster] in compare-and-swap mode: it applies
// [storekit.Adjust] to the key's state object under compare-and-swap, as Take does
// (one If-Match PUT on a key whose ETag this process knows; a GET first otherwise; a lost
// race re-reads and retries), so its decision is core's for the state it replaced. An
// adjustment that changes nothing (a refund of a key that spent nothing) is confirmed with a
// conditional GET instead.
//
// Marker mode cannot adjust: its slots are create-only objects, one per admitted request, so
// a charge cannot be added to them atomically nor a refund taken back. Adjust then returns an
// error wrapping [ErrMarkerMode] and core.ErrInvalidPolicy (see [Store.CheckAdjust]).
func (s *Store) Adjust(ctx context.Context, key string, p core.Policy, delta int64, now time.Time) (core.Decision, error) {
	if err := s.CheckAdjust(p); err != nil {
		return core.Decision{}, err
	}
	n := now.UnixNano()
	return s.update(ctx, key, p, func(o *object) (core.Decision, bool, error) {
		st := o.state(p.Algorithm)
		next, d := storekit.Adjust(p, st, delta, n)
		if next == st {
			return d, false, nil
		}
		*o = object{Alg: p.Algorithm, State: next}
		return d, true, nil
	})
}

// CheckAdjust reports whether [Store.Adjust] can apply to p: nil for a valid rate policy in
// compare-and-swap mode; an error wrapping core.ErrInvalidPolicy for a concurrency or invalid
// policy, and in marker mode, where nothing can be adjusted (settling a cost after the
// response, [core.Rule.Settle], and adapters' skip rules, which refund), an error that also
// wraps [ErrMarkerMode]. Call it at startup for the rules of a limiter that settles: the
// limiter itself only checks that the store implements [storekit.Adjuster], which a marker-mode
// Store does too (the mode is a setting of the same type).
func (s *Store) CheckAdjust(p core.Policy) error {
	if err := storekit.CheckAdjust(p); err != nil {
		return err
	}
	if s.mode == Marker {
		return fmt.Errorf("%w: policy %q: marker mode cannot adjust a spent cost (settling costs after the response, refunds): its slot objects are create-only; use compare-and-swap mode (%w)",
			ErrMarkerMode, p.Name, core.ErrInvalidPolicy)
	}
	return nil
}
