package s3store_test

import (
	"os"
	"testing"

	"github.com/tollgate-go/tollgate/internal/reservetest"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// The children of this file are dispatched from init rather than from TestMain's table
// (exact_test.go), so that file needs no change; testenv.RunChild exits the process.
func init() {
	if os.Getenv("TOLLGATE_TEST_CHILD") == "reserve" {
		testenv.RunChild(map[string]func() (string, error){"reserve": reserveChild})
	}
}

// TestReservationsAcrossProcesses runs the reservations workload in 4 processes × 16
// goroutines on one hot key of versitygw in compare-and-swap mode for each rate algorithm:
// never more than the policy allows over the run, at least that minus the documented
// under-admission bound (storetest.CheckReserve, which logs the reservations: line), and at
// most 0.05 store requests (every GET, PUT and HEAD the client made, conditional ones and lost
// races included) per admitted request.
func TestReservationsAcrossProcesses(t *testing.T) {
	b := versity(t)
	for _, alg := range []string{"fixed-window", "sliding-window", "token-bucket"} {
		t.Run(alg, func(t *testing.T) {
			reservetest.Across(t, "versitygw", alg, false, "S3STORE_BUCKET="+b.bucket, "S3STORE_MODE=cas")
		})
	}
}

// TestReservationsKilledProcess: as TestReservationsAcrossProcesses with a fixed window, but
// the parent kills one of the 4 processes (SIGKILL) while the second window is being spent:
// with its 100th admission of that window the process goes idle, holding what is left of its
// current batch, and the parent kills it. That allowance is stranded (never spent, never
// given back); the fleet still admits at least the limit minus the under-admission bound,
// and never more than the limit.
func TestReservationsKilledProcess(t *testing.T) {
	b := versity(t)
	reservetest.Across(t, "versitygw", "fixed-window", true, "S3STORE_BUCKET="+b.bucket, "S3STORE_MODE=cas")
}

// reserveChild is one process of a reservations run: a store on its own client (childStore),
// counting every call it makes (the client's retries would be more requests still: none
// happen against versitygw on loopback, and a lost compare-and-swap is never retried by the
// client but by the store, each attempt a call counted here).
func reserveChild() (string, error) {
	s, api, err := childStore()
	if err != nil {
		return "", err
	}
	if each := reservetest.Announce(); each != nil {
		api.fail = func(string) error { each(); return nil } // called before each call
	}
	return reservetest.ChildRun(s, api.total)
}
