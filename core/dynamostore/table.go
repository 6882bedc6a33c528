package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/tollgate-go/tollgate/core/backoff"
)

// AdminAPI is the subset of *dynamodb.Client that [CreateTable] calls.
type AdminAPI interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	DescribeTimeToLive(ctx context.Context, in *dynamodb.DescribeTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

// TableOptions configures [CreateTable]. Zero values are the documented defaults; the names
// must match the store's [Config].
type TableOptions struct {
	// Name is the table's name. Required.
	Name string
	// PartitionKey is the name of the string partition key. Optional. Default:
	// DefaultPartitionKey.
	PartitionKey string
	// ExpiryAttribute is the attribute Time to Live is enabled on. Optional. Default:
	// DefaultExpiryAttribute.
	ExpiryAttribute string
}

// TTLStatus says what [CreateTable] found or did about Time to Live.
type TTLStatus string

// Values of TTLStatus.
const (
	// TTLEnabled: this call enabled TTL on the expiry attribute.
	TTLEnabled TTLStatus = "enabled"
	// TTLAlreadyEnabled: TTL was already enabled on the expiry attribute.
	TTLAlreadyEnabled TTLStatus = "already enabled"
	// TTLUnsupported: the server has no TTL API (dynalite answers
	// UnknownOperationException). The store is correct without TTL; expired items stay.
	TTLUnsupported TTLStatus = "unsupported by the server"
)

// TableResult reports what [CreateTable] did.
type TableResult struct {
	// Created is true when this call created the table, false when it existed.
	Created bool
	// TTL is the Time to Live status of the expiry attribute.
	TTL TTLStatus
}

// ErrTableMismatch is wrapped by [CreateTable]'s error when a table of that name exists with
// another key schema.
var ErrTableMismatch = errors.New("dynamostore: existing table has another key schema")

// CreateTable creates the store's table if it does not exist — on-demand billing
// (PAY_PER_REQUEST), a string partition key, no sort key — waits until it is ACTIVE, and
// enables Time to Live on the expiry attribute. It is idempotent: an existing table with the
// right key schema is fine, one with another schema is an error wrapping
// [ErrTableMismatch]. A server without the TTL API is tolerated (TTLUnsupported): the store
// never relies on TTL deletion. The wait is bounded by ctx.
func CreateTable(ctx context.Context, client AdminAPI, o TableOptions) (TableResult, error) {
	var res TableResult
	if o.Name == "" {
		return res, errors.New("dynamostore: TableOptions.Name is required")
	}
	if o.PartitionKey == "" {
		o.PartitionKey = DefaultPartitionKey
	}
	if o.ExpiryAttribute == "" {
		o.ExpiryAttribute = DefaultExpiryAttribute
	}
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(o.Name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(o.PartitionKey), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(o.PartitionKey), KeyType: types.KeyTypeHash}},
	})
	var inUse *types.ResourceInUseException
	switch {
	case err == nil:
		res.Created = true
	case errors.As(err, &inUse):
	default:
		return res, backendError("CreateTable", err)
	}
	if err := waitActive(ctx, client, o); err != nil {
		return res, err
	}
	res.TTL, err = enableTTL(ctx, client, o)
	return res, err
}

// waitActive polls DescribeTable with backoff until the table is ACTIVE and checks its key
// schema.
func waitActive(ctx context.Context, client AdminAPI, o TableOptions) error {
	poll := backoff.Policy{Base: 100 * time.Millisecond, Cap: 5 * time.Second}
	for attempt := 0; ; attempt++ {
		out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(o.Name)})
		if err != nil {
			return backendError("DescribeTable", err)
		}
		t := out.Table
		if len(t.KeySchema) != 1 || aws.ToString(t.KeySchema[0].AttributeName) != o.PartitionKey || t.KeySchema[0].KeyType != types.KeyTypeHash {
			return fmt.Errorf("%w: table %q must have only the partition key %q", ErrTableMismatch, o.Name, o.PartitionKey)
		}
		if t.TableStatus == types.TableStatusActive {
			return nil
		}
		if err := backoff.Sleep(ctx, poll.Window(attempt)); err != nil {
			return fmt.Errorf("dynamostore: table %q is %s: %w", o.Name, t.TableStatus, err)
		}
	}
}

func enableTTL(ctx context.Context, client AdminAPI, o TableOptions) (TTLStatus, error) {
	d, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(o.Name)})
	if unknownOperation(err) {
		return TTLUnsupported, nil
	}
	if err != nil {
		return "", backendError("DescribeTimeToLive", err)
	}
	if ttl := d.TimeToLiveDescription; ttl != nil && aws.ToString(ttl.AttributeName) == o.ExpiryAttribute &&
		(ttl.TimeToLiveStatus == types.TimeToLiveStatusEnabled || ttl.TimeToLiveStatus == types.TimeToLiveStatusEnabling) {
		return TTLAlreadyEnabled, nil
	}
	_, err = client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(o.Name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(o.ExpiryAttribute), Enabled: aws.Bool(true)},
	})
	switch {
	case unknownOperation(err):
		return TTLUnsupported, nil
	case err != nil:
		return "", backendError("UpdateTimeToLive", err)
	}
	return TTLEnabled, nil
}

// unknownOperation reports whether err says the server does not implement the operation
// (dynalite's answer to the TTL API).
func unknownOperation(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && (api.ErrorCode() == "UnknownOperationException" || api.ErrorCode() == "UnknownOperation")
}
