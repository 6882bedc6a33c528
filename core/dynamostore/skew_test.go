package dynamostore_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/backoff"
	"github.com/tollgate-go/tollgate/core/dynamostore"
	"github.com/tollgate-go/tollgate/core/storetest"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// skewPair returns two instances of the store on the shared table, each with its own client
// and caches, as two application instances would be.
func skewPair(t *testing.T) (a, b *dynamostore.Store) {
	t.Helper()
	ep := testenv.DynamoDBEndpoint(t)
	return newStore(t, newClient(t, ep, nil, backoff.Policy{})), newStore(t, newClient(t, ep, nil, backoff.Policy{}))
}

// TestSkew runs storetest.RunSkew on dynalite with two instances whose clocks are 2 s and
// 50 ms apart. DynamoDB keeps one item per window, so the lagging instance spends from its
// own (older) window's item: each window item admits at most Limit, which gives the bound
// RunSkew checks (see the package documentation, "Clock skew").
func TestSkew(t *testing.T) {
	a, b := skewPair(t)
	storetest.RunSkew(t, a, b, storetest.SkewOptions{Store: "dynamodb"})
}

// TestSkewWindowItems is the reproduction on DynamoDB: a window of 1 per 10 s, 20
// takes alternating between an instance 1 s before a boundary and one 1 s after it. At most 2
// may be allowed (one per window item), and no window item may hold more than the limit.
func TestSkewWindowItems(t *testing.T) {
	api, table := sharedTable(t)
	for _, alg := range []core.Algorithm{core.FixedWindow, core.SlidingWindow} {
		t.Run(alg.String(), func(t *testing.T) {
			a, b := skewPair(t)
			var p core.Policy
			if alg == core.FixedWindow {
				p = core.NewFixedWindow(testenv.UniqueName("skew-items-fw"), 1, 10*time.Second)
			} else {
				p = core.NewSlidingWindow(testenv.UniqueName("skew-items-sw"), 1, 10*time.Second)
			}
			boundary := time.Now().Truncate(10 * time.Second).Add(-time.Minute)
			clocks := [2]time.Time{boundary.Add(-time.Second), boundary.Add(time.Second)}
			stores := [2]*dynamostore.Store{a, b}
			ctx := context.Background()
			allowed := 0
			for i := range 20 {
				d, err := stores[i%2].Take(ctx, "k", p, 1, clocks[i%2])
				if err != nil {
					t.Fatalf("take %d: %v", i, err)
				}
				if d.Allowed {
					allowed++
				}
			}
			t.Logf("%v, limit 1 per 10 s, 20 takes from clocks 2 s apart across a boundary: %d allowed", alg, allowed)
			if allowed != 2 {
				t.Fatalf("%d allowed; want 2: one per window item", allowed)
			}
			for _, now := range clocks {
				pk := a.PartitionKey("k", p, now)
				out, err := api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
					Key: map[string]types.AttributeValue{dynamostore.DefaultPartitionKey: &types.AttributeValueMemberS{Value: pk}}})
				if err != nil {
					t.Fatal(err)
				}
				if c, ok := out.Item["n"].(*types.AttributeValueMemberN); !ok || c.Value != "1" {
					t.Fatalf("window item %s holds %v; want a count of 1 (the limit)", pk, out.Item["n"])
				}
			}
		})
	}
}
