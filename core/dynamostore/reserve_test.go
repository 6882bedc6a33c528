package dynamostore_test

import (
	"context"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tollgate-go/tollgate/core/backoff"
	"github.com/tollgate-go/tollgate/core/dynamostore"
	"github.com/tollgate-go/tollgate/internal/reservetest"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// The children of this file are dispatched from init rather than from TestMain's table
// (main_test.go), so that file needs no change; testenv.RunChild exits the process.
func init() {
	if os.Getenv("TOLLGATE_TEST_CHILD") == "reserve" {
		testenv.RunChild(map[string]func() (string, error){"reserve": reserveChild})
	}
}

// TestReservationsAcrossProcesses runs the reservations workload in 4 processes × 16
// goroutines on one hot key of dynalite for each rate algorithm: never more than the policy
// allows over the run, at least that minus the documented under-admission bound
// (storetest.CheckReserve, which logs the reservations: line), and at most 0.05 store
// requests (every GetItem, UpdateItem and DeleteItem the client made) per admitted request.
func TestReservationsAcrossProcesses(t *testing.T) {
	_, table := sharedTable(t)
	for _, alg := range []string{"fixed-window", "sliding-window", "token-bucket"} {
		t.Run(alg, func(t *testing.T) {
			reservetest.Across(t, "dynalite", alg, false, "TG_TABLE="+table)
		})
	}
}

// TestReservationsKilledProcess: as TestReservationsAcrossProcesses with a fixed window, but
// the parent kills one of the 4 processes (SIGKILL) while the second window is being spent:
// with its 100th admission of that window the process goes idle, holding what is left of its
// current batch, and the parent kills it. That allowance is stranded (never
// spent, never given back); the fleet still admits at least the limit minus the
// under-admission bound, and never more than the limit.
func TestReservationsKilledProcess(t *testing.T) {
	_, table := sharedTable(t)
	reservetest.Across(t, "dynalite", "fixed-window", true, "TG_TABLE="+table)
}

// reserveChild is one process of a reservations run: a store on its own client, counting
// every call it makes (the client's retries would be more requests still: none happen against
// an unthrottled dynalite, whose failed conditions are never retried).
func reserveChild() (string, error) {
	c, err := dynamostore.NewClient(context.Background(), clientOptions(os.Getenv("TOLLGATE_DYNAMODB_ENDPOINT"), nil, backoff.Policy{MaxAttempts: 5}))
	if err != nil {
		return "", err
	}
	api := &counting{API: announcing{API: c, each: reservetest.Announce()}}
	s, err := dynamostore.New(api, dynamostore.Config{Table: os.Getenv("TG_TABLE")})
	if err != nil {
		return "", err
	}
	return reservetest.ChildRun(s, api.total)
}

// announcing calls each, when set, before each call of the store's.
type announcing struct {
	dynamostore.API
	each func()
}

func (a announcing) announce() {
	if a.each != nil {
		a.each()
	}
}

func (a announcing) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	a.announce()
	return a.API.GetItem(ctx, in, o...)
}

func (a announcing) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	a.announce()
	return a.API.UpdateItem(ctx, in, o...)
}

func (a announcing) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	a.announce()
	return a.API.DeleteItem(ctx, in, o...)
}
