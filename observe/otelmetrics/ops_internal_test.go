package otelmetrics

import (
	"testing"

	"github.com/tollgate-go/tollgate/core"
)

// Every store operation the core names has its prebuilt attribute sets: when the core adds
// one past core.OpExtend, this fails until numOps covers it.
func TestOperationsCovered(t *testing.T) {
	for op := 1; op < numOps; op++ {
		if name := core.Op(op).String(); name == "none" {
			t.Errorf("core.Op(%d) is unnamed; numOps %d is too large", op, numOps)
		}
	}
	if name := core.Op(numOps).String(); name != "none" {
		t.Fatalf("core.Op(%d) is %q: the core added an operation; raise numOps", numOps, name)
	}
	if got := opIndex(core.Op(200)); got != int(core.OpNone) {
		t.Fatalf("opIndex of an unknown operation = %d, want OpNone", got)
	}
}
