package storekit_test

import (
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// TestAdjustBefore1970: adjusting a key never seen (the zero State) on a clock before 1970
// starts from a full bucket at now, as Take does, not from a TAT at the epoch: a charge of one
// token leaves the TAT one interval after now, not decades of debt.
func TestAdjustBefore1970(t *testing.T) {
	p := core.NewTokenBucket("tb", 10, time.Second, 5) // interval 100 ms
	now := time.Date(1969, 7, 20, 20, 17, 0, 0, time.UTC)
	st, _ := storekit.Adjust(p, storekit.State{}, 1, now.UnixNano())
	if want := now.Add(100 * time.Millisecond).UnixNano(); st.TAT != want {
		t.Fatalf("TAT after a charge of 1: %d; want %d (now + one interval)", st.TAT, want)
	}
	if _, d := storekit.Take(p, st, 1, now.UnixNano()); !d.Allowed || d.Remaining != 3 {
		t.Fatalf("Take after the charge: %+v; want allowed with 3 of 5 left", d)
	}
	st, _ = storekit.Adjust(p, storekit.State{}, -1, now.UnixNano())
	if st.TAT != now.UnixNano() {
		t.Fatalf("TAT after a refund on a full bucket: %d; want now (%d)", st.TAT, now.UnixNano())
	}
}
