package s3store

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// TestMaxLeasesFitTheReadBound: MaxLeases leases with the longest lease IDs core accepts (128
// bytes), each byte one that JSON escapes to 6, encode within maxObjectBytes, so a full lease
// object is never mistaken for foreign data.
func TestMaxLeasesFitTheReadBound(t *testing.T) {
	o := object{Alg: core.Concurrency, Leases: storekit.Leases{}, Version: math.MaxInt64}
	for i := range MaxLeases {
		id := fmt.Sprintf("%04d", i)
		o.Leases[id+strings.Repeat("<", 128-len(id))] = math.MinInt64
	}
	b, err := json.Marshal(&o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d leases of 128-byte IDs: %d bytes of JSON (bound %d)", MaxLeases, len(b), maxObjectBytes)
	if len(b) > maxObjectBytes {
		t.Fatalf("%d bytes > maxObjectBytes %d", len(b), maxObjectBytes)
	}
}
