package dynamostore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/tollgate-go/tollgate/core/dynamostore"
)

// admin is a scripted AdminAPI: the table's status on each DescribeTable, its key schema,
// and its Time to Live description; it records what CreateTable and UpdateTimeToLive asked.
type admin struct {
	exists    bool
	statuses  []types.TableStatus // one per DescribeTable; the last repeats
	key       string              // the key schema's attribute
	ttlAttr   string
	ttlStatus types.TimeToLiveStatus
	created   *dynamodb.CreateTableInput
	ttlSet    *dynamodb.UpdateTimeToLiveInput
	describes int
}

func (a *admin) CreateTable(_ context.Context, in *dynamodb.CreateTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error) {
	if a.exists {
		return nil, &types.ResourceInUseException{Message: aws.String("table exists")}
	}
	a.created = in
	return &dynamodb.CreateTableOutput{}, nil
}

func (a *admin) DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	st := a.statuses[min(a.describes, len(a.statuses)-1)]
	a.describes++
	return &dynamodb.DescribeTableOutput{Table: &types.TableDescription{
		TableStatus: st,
		KeySchema:   []types.KeySchemaElement{{AttributeName: aws.String(a.key), KeyType: types.KeyTypeHash}},
	}}, nil
}

func (a *admin) DescribeTimeToLive(context.Context, *dynamodb.DescribeTimeToLiveInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error) {
	d := &types.TimeToLiveDescription{TimeToLiveStatus: a.ttlStatus}
	if a.ttlAttr != "" {
		d.AttributeName = aws.String(a.ttlAttr)
	}
	return &dynamodb.DescribeTimeToLiveOutput{TimeToLiveDescription: d}, nil
}

func (a *admin) UpdateTimeToLive(_ context.Context, in *dynamodb.UpdateTimeToLiveInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error) {
	a.ttlSet = in
	return &dynamodb.UpdateTimeToLiveOutput{}, nil
}

// TestCreateTableScripted: CreateTable creates the table with the partition key asked for
// (the default names when none), waits while it is CREATING, refuses a table whose key
// schema differs, and turns Time to Live on for the expiry attribute unless it is already
// enabled (or enabling) on that attribute.
func TestCreateTableScripted(t *testing.T) {
	ctx := context.Background()
	active := []types.TableStatus{types.TableStatusActive}

	a := &admin{statuses: []types.TableStatus{types.TableStatusCreating, types.TableStatusCreating, types.TableStatusActive}, key: dynamostore.DefaultPartitionKey}
	res, err := dynamostore.CreateTable(ctx, a, dynamostore.TableOptions{Name: "t"})
	if err != nil || !res.Created || res.TTL != dynamostore.TTLEnabled {
		t.Fatalf("a new table: %+v %v; want created and TTL enabled", res, err)
	}
	if a.describes != 3 {
		t.Errorf("DescribeTable called %d times, want 3 (CREATING twice, then ACTIVE)", a.describes)
	}
	if got := aws.ToString(a.created.KeySchema[0].AttributeName); got != dynamostore.DefaultPartitionKey {
		t.Errorf("created with partition key %q, want the default %q", got, dynamostore.DefaultPartitionKey)
	}
	if got := aws.ToString(a.ttlSet.TimeToLiveSpecification.AttributeName); got != dynamostore.DefaultExpiryAttribute {
		t.Errorf("TTL turned on for %q, want the default %q", got, dynamostore.DefaultExpiryAttribute)
	}

	a = &admin{statuses: active, key: "id"}
	res, err = dynamostore.CreateTable(ctx, a, dynamostore.TableOptions{Name: "t", PartitionKey: "id", ExpiryAttribute: "gone_at"})
	if err != nil || !res.Created || aws.ToString(a.created.KeySchema[0].AttributeName) != "id" || aws.ToString(a.ttlSet.TimeToLiveSpecification.AttributeName) != "gone_at" {
		t.Errorf("custom names: %+v %v; want the table keyed by id and TTL on gone_at", res, err)
	}

	a = &admin{exists: true, statuses: active, key: "other"}
	if _, err := dynamostore.CreateTable(ctx, a, dynamostore.TableOptions{Name: "t"}); !errors.Is(err, dynamostore.ErrTableMismatch) {
		t.Errorf("an existing table keyed by another attribute: %v, want ErrTableMismatch", err)
	}

	for _, st := range []types.TimeToLiveStatus{types.TimeToLiveStatusEnabled, types.TimeToLiveStatusEnabling} {
		a = &admin{exists: true, statuses: active, key: dynamostore.DefaultPartitionKey, ttlAttr: dynamostore.DefaultExpiryAttribute, ttlStatus: st}
		res, err = dynamostore.CreateTable(ctx, a, dynamostore.TableOptions{Name: "t"})
		if err != nil || res.Created || res.TTL != dynamostore.TTLAlreadyEnabled || a.ttlSet != nil {
			t.Errorf("TTL %s on the expiry attribute: %+v %v (UpdateTimeToLive %v); want already enabled and no update", st, res, err, a.ttlSet != nil)
		}
	}
	for _, c := range []struct {
		attr string
		st   types.TimeToLiveStatus
	}{{"other", types.TimeToLiveStatusEnabled}, {dynamostore.DefaultExpiryAttribute, types.TimeToLiveStatusDisabled}, {dynamostore.DefaultExpiryAttribute, types.TimeToLiveStatusDisabling}} {
		a = &admin{exists: true, statuses: active, key: dynamostore.DefaultPartitionKey, ttlAttr: c.attr, ttlStatus: c.st}
		res, err = dynamostore.CreateTable(ctx, a, dynamostore.TableOptions{Name: "t"})
		if err != nil || res.TTL != dynamostore.TTLEnabled || a.ttlSet == nil {
			t.Errorf("TTL %s on %q: %+v %v; want it turned on for the expiry attribute", c.st, c.attr, res, err)
		}
	}
}
