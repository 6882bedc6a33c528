package s3store

import (
	"context"
	"fmt"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// Leases returns the leases stored for key under the concurrency policy p: each lease ID with
// its expiry in Unix nanoseconds, expired ones included until an Acquire drops them. It
// changes nothing: it is for operators (the `tollgate usage show` command). One GET, or a
// conditional GET when this process knows the object's ETag. Compare-and-swap mode only, as
// leases are.
func (s *Store) Leases(ctx context.Context, key string, p core.Policy) (storekit.Leases, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if p.Algorithm != core.Concurrency {
		return nil, fmt.Errorf("s3store: Leases: policy %q is %s, not a concurrency policy (%w)", p.Name, p.Algorithm, core.ErrInvalidPolicy)
	}
	if s.mode == Marker {
		return nil, fmt.Errorf("%w: policy %q is %s (%w)", ErrMarkerMode, p.Name, p.Algorithm, core.ErrInvalidPolicy)
	}
	var ls storekit.Leases
	_, err := s.update(ctx, key, p, func(o *object) (core.Decision, bool, error) {
		ls = o.leases()
		return core.Decision{}, false, nil
	})
	return ls, err
}
