package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ErrTTLAttribute is wrapped by [Store.Verify]'s error when the table's Time to Live is
// enabled on another attribute than the one the store writes expiries to: the store's items
// would never be deleted.
var ErrTTLAttribute = errors.New("dynamostore: Time to Live is enabled on another attribute")

// Verify checks, at startup, that the table is usable by this store, and says precisely what
// is wrong otherwise, naming the table, the region and endpoint, and the Config field:
//
//   - the table exists (DescribeTable), is ACTIVE or UPDATING, and has exactly the key schema
//     the store writes: a string (S) partition key named Config.PartitionKey and no sort key;
//   - the store may read it (a consistent GetItem of an item that does not exist);
//   - Time to Live (DescribeTimeToLive), when enabled, is on Config.ExpiryAttribute;
//     otherwise the error wraps [ErrTTLAttribute]. TTL that is not enabled passes: the store
//     is correct without it (every expiry that matters is checked by the store itself; TTL
//     only deletes old items), and local servers cannot enable it — dynalite answers
//     DescribeTimeToLive with DISABLED and UpdateTimeToLive with UnknownOperationException,
//     and a server answering UnknownOperationException to DescribeTimeToLive passes too.
//     [CreateTable] (or `tollgate dynamodb-create-table`) enables it on AWS.
//
// New does no I/O, so that building a store never blocks and works before the network does;
// Verify is the separate, explicit check that an application calls once at startup with a
// deadline (the examples do), and that a health check may call again. It needs
// dynamodb:DescribeTable and dynamodb:DescribeTimeToLive besides the store's own permissions.
func (s *Store) Verify(ctx context.Context) error {
	where := s.where()
	out, err := s.api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &s.table})
	var notFound *types.ResourceNotFoundException
	switch {
	case errors.As(err, &notFound):
		return fmt.Errorf("dynamostore: table %q does not exist in %s (Config.Table; create it with CreateTable or `tollgate dynamodb-create-table`): %w", s.table, where, err)
	case err != nil:
		return fmt.Errorf("dynamostore: DescribeTable %q in %s: %w", s.table, where, err)
	case out.Table == nil:
		return fmt.Errorf("dynamostore: DescribeTable %q in %s returned no table", s.table, where)
	}
	t := out.Table
	if err := s.checkSchema(t); err != nil {
		return err
	}
	switch t.TableStatus {
	case types.TableStatusActive, types.TableStatusUpdating, "":
	default:
		return fmt.Errorf("dynamostore: table %q in %s is %s, not ACTIVE", s.table, where, t.TableStatus)
	}
	if _, err := s.get(ctx, "tollgate-verify"); err != nil {
		return fmt.Errorf("dynamostore: table %q in %s cannot be read: %w", s.table, where, err)
	}
	ttl, err := s.api.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: &s.table})
	switch {
	case unknownOperation(err):
		return nil // dynalite: no TTL API, nothing to check
	case err != nil:
		return fmt.Errorf("dynamostore: DescribeTimeToLive %q in %s: %w", s.table, where, err)
	}
	d := ttl.TimeToLiveDescription
	if d == nil || aws.ToString(d.AttributeName) == "" || aws.ToString(d.AttributeName) == s.expAttr {
		return nil
	}
	if d.TimeToLiveStatus == types.TimeToLiveStatusEnabled || d.TimeToLiveStatus == types.TimeToLiveStatusEnabling {
		return fmt.Errorf("%w: table %q in %s has Time to Live on %q, but the store writes expiries to %q (Config.ExpiryAttribute)",
			ErrTTLAttribute, s.table, where, aws.ToString(d.AttributeName), s.expAttr)
	}
	return nil
}

// checkSchema reports a key schema other than the single string partition key the store
// writes, naming what the table has.
func (s *Store) checkSchema(t *types.TableDescription) error {
	attrTypes := map[string]types.ScalarAttributeType{}
	for _, a := range t.AttributeDefinitions {
		attrTypes[aws.ToString(a.AttributeName)] = a.AttributeType
	}
	var have []string
	for _, k := range t.KeySchema {
		name := aws.ToString(k.AttributeName)
		have = append(have, fmt.Sprintf("%s %q (%s)", k.KeyType, name, attrTypes[name]))
	}
	if len(t.KeySchema) == 1 && aws.ToString(t.KeySchema[0].AttributeName) == s.pkAttr &&
		t.KeySchema[0].KeyType == types.KeyTypeHash && attrTypes[s.pkAttr] == types.ScalarAttributeTypeS {
		return nil
	}
	return fmt.Errorf("%w: table %q in %s has the key schema [%s]; the store needs only a string (S) partition key named %q (Config.PartitionKey)",
		ErrTableMismatch, s.table, s.where(), strings.Join(have, ", "), s.pkAttr)
}

// where describes the region and endpoint the client talks to, for error messages.
func (s *Store) where() string {
	c, ok := s.api.(interface{ Options() dynamodb.Options })
	if !ok {
		return "the client's region"
	}
	o := c.Options()
	w := "region " + o.Region
	if o.Region == "" {
		w = "the default region"
	}
	if o.BaseEndpoint != nil {
		w += " at " + *o.BaseEndpoint
	}
	return w
}
