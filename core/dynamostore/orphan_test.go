package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/backoff"
	"github.com/tollgate-go/tollgate/core/dynamostore"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// heldLeases counts the unexpired leases in key's lease item, read directly from the table.
func heldLeases(ctx context.Context, api dynamostore.API, table string, s *dynamostore.Store, key string, p core.Policy, now time.Time) (int, error) {
	out, err := api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{dynamostore.DefaultPartitionKey: &types.AttributeValueMemberS{Value: s.PartitionKey(key, p, now)}}})
	if err != nil {
		return 0, err
	}
	h, _ := out.Item["h"].(*types.AttributeValueMemberM)
	if h == nil {
		return 0, nil
	}
	held := 0
	for _, v := range h.Value {
		if n, ok := v.(*types.AttributeValueMemberN); ok && n.Value > fmt.Sprint(now.UnixNano()) {
			held++
		}
	}
	return held, nil
}

func TestOrphanExplore(t *testing.T) {
	srv := testenv.StartDynalite(t)
	pz := newPausable(t, srv.Addr)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	c := newClient(t, srv.URL(), &http.Client{Transport: tr}, backoff.Policy{})
	probe := newClient(t, srv.URL(), nil, backoff.Policy{})
	table := testenv.UniqueName("tollgate-orphan")
	ctx := context.Background()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := dynamostore.CreateTable(cctx, c, dynamostore.TableOptions{Name: table}); err != nil {
		t.Fatal(err)
	}
	s, err := dynamostore.New(c, dynamostore.Config{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	const N = 3
	p := core.NewConcurrency("orphan-control", N, 30*time.Second)
	// control: direct acquires
	for i := range N {
		if _, err := s.Acquire(ctx, "warm", p, fmt.Sprint("w", i), time.Now()); err != nil {
			t.Fatal(err)
		}
		_ = s.Release(ctx, "warm", p, fmt.Sprint("w", i), time.Now())
	}
	pz.Stop()
	var wg sync.WaitGroup
	for i := range N {
		wg.Add(1)
		go func() {
			defer wg.Done()
			actx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			_, err := s.Acquire(actx, "warm", p, fmt.Sprint("late", i), time.Now())
			t.Logf("control acquire %d: %v", i, err)
		}()
	}
	wg.Wait()
	pz.Cont()
	start := time.Now()
	for time.Since(start) < 2*time.Second {
		held, err := heldLeases(ctx, probe, table, s, "warm", p, time.Now())
		t.Logf("%v: held %d %v", time.Since(start), held, err)
		time.Sleep(100 * time.Millisecond)
	}

	// limiter
	p2 := core.NewConcurrency("orphan-limiter", N, 30*time.Second)
	cl, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{Store: s, Policy: p2, Timeout: 200 * time.Millisecond, Failure: core.FailClosed})
	if err != nil {
		t.Fatal(err)
	}
	pz.Stop()
	for i := range N {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := cl.AcquireKeyAt(ctx, "k", time.Now())
			t.Logf("limiter acquire %d: %v (deadline %v)", i, err, errors.Is(err, core.ErrStoreUnavailable))
		}()
	}
	wg.Wait()
	time.Sleep(300 * time.Millisecond)
	pz.Cont()
	start = time.Now()
	for time.Since(start) < 2*time.Second {
		held, err := heldLeases(ctx, probe, table, s, "k", p2, time.Now())
		t.Logf("%v: held %d %v", time.Since(start), held, err)
		time.Sleep(20 * time.Millisecond)
	}
}
