package s3store

import (
	"encoding/json"
	"fmt"
	"maps"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// object is the JSON content of a compare-and-swap state object: the algorithm it belongs to,
// core's state for it, and a version. A few dozen bytes for rate policies; about 60 bytes per
// lease.
type object struct {
	// Alg is the policy's algorithm; state written under another algorithm (a policy whose
	// algorithm changed but whose name stayed) counts as absent, as in memstore.
	Alg core.Algorithm `json:"a"`
	// State is the rate algorithms' state.
	State storekit.State `json:"s,omitzero"`
	// Leases maps lease IDs to expiries (Concurrency).
	Leases storekit.Leases `json:"l,omitempty"`
	// Version counts the writes of the object: every write stores the version it replaced
	// plus one. S3's ETag of a plain PutObject is the MD5 of the content, so without it a
	// state that returns to earlier content (a lease acquired, then released) would get an
	// earlier ETag back, and a conditional write computed on that earlier state and delivered
	// late (its caller long gone) would pass its If-Match. With it, an ETag never repeats.
	Version int64 `json:"v,omitempty"`
}

// state returns the rate state for alg (zero if o belongs to another algorithm).
func (o *object) state(alg core.Algorithm) storekit.State {
	if o.Alg != alg {
		return storekit.State{}
	}
	return o.State
}

// leases returns a copy of the lease set, which the caller may modify.
func (o *object) leases() storekit.Leases {
	ls := storekit.Leases{}
	if o.Alg == core.Concurrency {
		maps.Copy(ls, o.Leases)
	}
	return ls
}

// maxObjectBytes bounds what the store reads back: MaxLeases leases of the longest IDs
// (4,096 × 792 bytes of JSON) and a little more, so anything larger is not ours.
const maxObjectBytes = 4 << 20

func decodeObject(name string, b []byte) (object, error) {
	var o object
	if err := json.Unmarshal(b, &o); err != nil {
		return object{}, fmt.Errorf("s3store: state object %s is not Tollgate state (reset it): %w", name, err)
	}
	return o, nil
}
