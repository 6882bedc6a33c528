package dynamostore_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/dynamostore"
	"github.com/tollgate-go/tollgate/core/storetest"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// The settlement workload of every process: 16 goroutines × settleRequests requests on one
// key, each reserving settleEstimate and settling a real cost drawn from 0 to settleMaxCost,
// against a budget of settleLimit at one instant (nothing refills). 4 × 16 × 10 requests of
// 10 on average ask for about 4 times the budget, so it is spent and requests are denied.
const (
	settleLimit    = 1500
	settleEstimate = 10
	settleMaxCost  = 20
	settleRequests = 10
)

// settlePolicy is the policy of a settlement run: an hour's window, or a bucket that refills
// one unit an hour, of capacity limit.
func settlePolicy(alg, name string, limit int64) core.Policy {
	switch alg {
	case "sliding-window":
		return core.NewSlidingWindow(name, limit, time.Hour)
	case "token-bucket":
		return core.NewTokenBucket(name, 1, time.Hour, limit)
	}
	return core.NewFixedWindow(name, limit, time.Hour)
}

func settleWorkload(alg, name string, at time.Time, seed int64) storetest.SettleWorkload {
	return storetest.SettleWorkload{
		Policy: settlePolicy(alg, name, settleLimit), Key: "hot", Goroutines: goroutines,
		Requests: settleRequests, Estimate: settleEstimate, MaxCost: settleMaxCost, Seed: seed, At: at,
	}
}

// TestSettleAcrossProcesses: 4 OS processes × 16 goroutines reserve an estimate and settle
// the real cost (storetest.RunSettleWorkload) on one key of the shared dynalite, for each rate
// algorithm. The settled cost admitted stays within the limit plus the overshoot bound that
// core.Rule.Settle documents (64 callers in flight, each at most MaxCost - Estimate past its
// reservation), and the debt is honoured (storetest.CheckSettle).
func TestSettleAcrossProcesses(t *testing.T) {
	_, table := sharedTable(t)
	at := time.Now().Truncate(time.Hour).Add(time.Minute)
	for _, alg := range []string{"fixed-window", "sliding-window", "token-bucket"} {
		t.Run(alg, func(t *testing.T) {
			name := testenv.UniqueName("settle")
			outs := testenv.SpawnChildren(t, procs, "settle",
				"TG_TABLE="+table, "TG_POLICY="+name, "TG_ALG="+alg, "TG_PROCS="+strconv.Itoa(procs),
				"TG_NOW="+strconv.FormatInt(at.UnixNano(), 10))
			var total storetest.SettleCounts
			var api int64
			for i, out := range outs {
				c, err := storetest.ParseSettleCounts(out)
				if err != nil {
					t.Fatalf("child %d: %v", i, err)
				}
				var n int64
				for _, line := range strings.Split(out, "\n") {
					if _, err := fmt.Sscanf(line, "api-requests %d", &n); err == nil {
						api += n
					}
				}
				t.Logf("process %d: admitted %d, denied %d, settled cost %d, %d store calls, %d DynamoDB requests", i, c.Admitted, c.Denied, c.Settled, c.StoreRequests, n)
				total.Add(c)
			}
			t.Logf("%s: %d processes × %d goroutines: %d DynamoDB requests for %d store calls (%.2f per request)",
				alg, procs, goroutines, api, total.StoreRequests, float64(api)/float64(total.Admitted+total.Denied))
			s := newStore(t, nil)
			storetest.CheckSettle(t, "dynalite", s, settleWorkload(alg, name, at, 0), procs*goroutines, total)
		})
	}
}

// childSettle runs one process's share of TestSettleAcrossProcesses and prints its counts and
// the DynamoDB requests they took.
func childSettle() (string, error) {
	_, c, err := childStore()
	if err != nil {
		return "", err
	}
	api := &counting{API: c}
	s, err := dynamostore.New(api, dynamostore.Config{Table: os.Getenv("TG_TABLE")})
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := barrier(ctx, c); err != nil {
		return "", fmt.Errorf("barrier: %w", err)
	}
	before := api.total()
	w := settleWorkload(os.Getenv("TG_ALG"), os.Getenv("TG_POLICY"), time.Unix(0, envInt("TG_NOW")), envInt("TOLLGATE_CHILD_INDEX")+1)
	counts, err := storetest.RunSettleWorkload(ctx, s, w)
	return fmt.Sprintf("%s\napi-requests %d\n", counts, api.total()-before), err
}
