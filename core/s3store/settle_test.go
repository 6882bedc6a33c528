package s3store_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/backoff"
	"github.com/tollgate-go/tollgate/core/s3store"
	"github.com/tollgate-go/tollgate/core/storetest"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// The settlement workload of every process: settleGoroutines goroutines × settleRequests
// requests on one key, each reserving settleEstimate and settling a real cost drawn from 0
// to settleMaxCost, against a budget of settleLimit at one instant (nothing refills). 4 × 16
// × 8 requests of 10 on average ask for more than 3 times the budget, so it is spent and
// requests are denied.
const (
	settleGoroutines = 16
	settleLimit      = 1500
	settleEstimate   = 10
	settleMaxCost    = 20
	settleRequests   = 8
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
		Policy: settlePolicy(alg, name, settleLimit), Key: "one-hot-key", Goroutines: settleGoroutines,
		Requests: settleRequests, Estimate: settleEstimate, MaxCost: settleMaxCost, Seed: seed, At: at,
	}
}

// TestSettleAcrossProcesses: 4 OS processes × 16 goroutines reserve an estimate and settle
// the real cost (storetest.RunSettleWorkload) on one key of versitygw in compare-and-swap
// mode, for each rate algorithm. The settled cost admitted stays within the limit plus the
// overshoot bound that core.Rule.Settle documents (64 callers in flight, each at most
// MaxCost - Estimate past its reservation), and the debt is honoured (storetest.CheckSettle).
func TestSettleAcrossProcesses(t *testing.T) {
	b := versity(t)
	at := time.Now().Truncate(time.Hour).Add(time.Minute)
	for _, alg := range []string{"fixed-window", "sliding-window", "token-bucket"} {
		t.Run(alg, func(t *testing.T) {
			name := uniq("settle")
			outs := testenv.SpawnChildren(t, procs, "settle",
				"S3STORE_BUCKET="+b.bucket, "S3STORE_POLICY="+name, "S3STORE_ALG="+alg,
				fmt.Sprintf("S3STORE_NOW=%d", at.UnixNano()))
			var total storetest.SettleCounts
			var requests int64
			for i, out := range outs {
				c, err := storetest.ParseSettleCounts(out)
				if err != nil {
					t.Fatalf("child %d: %v", i, err)
				}
				var n int64
				for _, line := range strings.Split(out, "\n") {
					if _, err := fmt.Sscanf(line, "api-requests %d", &n); err == nil {
						requests += n
					}
				}
				t.Logf("process %d: admitted %d, denied %d, settled cost %d, %d store calls, %d S3 requests", i, c.Admitted, c.Denied, c.Settled, c.StoreRequests, n)
				total.Add(c)
			}
			t.Logf("%s: %d processes × %d goroutines: %d S3 requests for %d store calls (%.2f per request)",
				alg, procs, settleGoroutines, requests, total.StoreRequests, float64(requests)/float64(total.Admitted+total.Denied))
			s := newStore(t, b.client, s3store.Config{Bucket: b.bucket})
			storetest.CheckSettle(t, "versitygw", s, settleWorkload(alg, name, at, 0), procs*settleGoroutines, total)
		})
	}
}

// childSettle runs one process's share of TestSettleAcrossProcesses and prints its counts and
// the S3 requests they took.
func childSettle() (string, error) {
	s, api, err := childStore()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := barrier(ctx, api.API, os.Getenv("S3STORE_BUCKET"), os.Getenv("S3STORE_POLICY")); err != nil {
		return "", fmt.Errorf("barrier: %w", err)
	}
	before := api.total()
	w := settleWorkload(os.Getenv("S3STORE_ALG"), os.Getenv("S3STORE_POLICY"), time.Unix(0, envInt("S3STORE_NOW")), envInt("TOLLGATE_CHILD_INDEX")+1)
	counts, err := storetest.RunSettleWorkload(ctx, s, w)
	return fmt.Sprintf("%s\napi-requests %d\n", counts, api.total()-before), err
}

// barrier makes the children start together, so that their requests contend: each creates
// an object of its own under name and waits until all procs exist.
func barrier(ctx context.Context, api s3store.API, bucket, name string) error {
	key := func(i int) *string { return aws.String(fmt.Sprintf("barrier/%s/%d", name, i)) }
	if _, err := api.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &bucket, Key: key(int(envInt("TOLLGATE_CHILD_INDEX"))), Body: strings.NewReader(""),
	}); err != nil {
		return err
	}
	for i := 0; i < procs; {
		if _, err := api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: key(i)}); err == nil {
			i++
			continue
		}
		if err := backoff.Sleep(ctx, 5*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}
