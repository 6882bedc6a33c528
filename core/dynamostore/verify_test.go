package dynamostore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/tollgate-go/tollgate/core/dynamostore"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// TestVerify runs the startup check against dynalite: a missing table and a table with
// another key schema are reported, naming the table, the endpoint and the Config field; a
// healthy table passes (dynalite reports TTL DISABLED and cannot enable it, which Verify
// tolerates).
func TestVerify(t *testing.T) {
	api, table := sharedTable(t)
	ep := testenv.DynamoDBEndpoint(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Tables whose key schema is not the store's: another name, another type, a sort key.
	mismatched := map[string][]types.KeySchemaElement{}
	for name, c := range map[string]struct {
		attrs []types.AttributeDefinition
		keys  []types.KeySchemaElement
	}{
		"id": {
			[]types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
			[]types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		},
		"number": {
			[]types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeN}},
			[]types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		},
		"sortkey": {
			[]types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}, {AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS}},
			[]types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange}},
		},
	} {
		tn := testenv.UniqueName("tollgate-verify-" + name)
		if _, err := api.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(tn), BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: c.attrs, KeySchema: c.keys}); err != nil {
			t.Fatalf("CreateTable %s: %v", tn, err)
		}
		t.Cleanup(func() {
			_, _ = api.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(tn)})
		})
		mismatched[tn] = c.keys
	}
	cases := []struct {
		name  string
		table string
		want  []string // substrings of the error; none for a healthy table
		is    error
	}{
		{"healthy", table, nil, nil},
		{"missing table", "nosuchtable", []string{`dynamostore: table "nosuchtable" does not exist in region us-east-1 at ` + ep, "Config.Table"}, nil},
	}
	for tn, keys := range mismatched {
		want := []string{`table "` + tn + `" in region us-east-1 at ` + ep + ` has the key schema [`, `the store needs only a string (S) partition key named "pk" (Config.PartitionKey)`}
		if len(keys) == 2 {
			want = append(want, `RANGE "sk" (S)`)
		}
		cases = append(cases, struct {
			name  string
			table string
			want  []string
			is    error
		}{"key schema " + tn, tn, want, dynamostore.ErrTableMismatch})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := dynamostore.New(api, dynamostore.Config{Table: c.table})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Verify(ctx)
			if c.want == nil {
				if err != nil {
					t.Fatalf("Verify on a healthy table: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify passed; want an error")
			}
			t.Logf("Verify: %v", err)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error does not wrap %v", c.is)
			}
		})
	}
}

// ttlAnswer answers DescribeTimeToLive with a scripted description (dynalite has no TTL API)
// and passes every other call to the real client.
type ttlAnswer struct {
	*dynamodb.Client
	desc *types.TimeToLiveDescription
	err  error
}

func (a ttlAnswer) DescribeTimeToLive(context.Context, *dynamodb.DescribeTimeToLiveInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error) {
	if a.err != nil {
		return nil, a.err
	}
	return &dynamodb.DescribeTimeToLiveOutput{TimeToLiveDescription: a.desc}, nil
}

// TestVerifyTTL covers the TTL statuses that DynamoDB reports and dynalite cannot.
func TestVerifyTTL(t *testing.T) {
	api, table := sharedTable(t)
	for _, c := range []struct {
		name string
		desc *types.TimeToLiveDescription
		want string // "" for no error
		err  error  // DescribeTimeToLive's error
	}{
		{"no TTL API", nil, "", &smithy.GenericAPIError{Code: "UnknownOperationException"}},
		{"access denied", nil, "DescribeTimeToLive", &smithy.GenericAPIError{Code: "AccessDeniedException"}},
		{"enabled", &types.TimeToLiveDescription{AttributeName: aws.String("exp"), TimeToLiveStatus: types.TimeToLiveStatusEnabled}, "", nil},
		{"enabling", &types.TimeToLiveDescription{AttributeName: aws.String("exp"), TimeToLiveStatus: types.TimeToLiveStatusEnabling}, "", nil},
		// The store is correct without TTL, and dynalite always answers DISABLED.
		{"disabled", &types.TimeToLiveDescription{TimeToLiveStatus: types.TimeToLiveStatusDisabled}, "", nil},
		{"no description", nil, "", nil},
		{"another attribute", &types.TimeToLiveDescription{AttributeName: aws.String("ttl"), TimeToLiveStatus: types.TimeToLiveStatusEnabled},
			`has Time to Live on "ttl", but the store writes expiries to "exp" (Config.ExpiryAttribute)`, nil},
		{"another attribute, being disabled", &types.TimeToLiveDescription{AttributeName: aws.String("ttl"), TimeToLiveStatus: types.TimeToLiveStatusDisabling}, "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := dynamostore.New(ttlAnswer{api, c.desc, c.err}, dynamostore.Config{Table: table})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Verify(context.Background())
			if c.want == "" {
				if err != nil {
					t.Fatalf("Verify: %v; want nil", err)
				}
				return
			}
			if c.err != nil {
				if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("Verify: %v; want the DescribeTimeToLive error", err)
				}
				return
			}
			if !errors.Is(err, dynamostore.ErrTTLAttribute) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Verify: %v; want ErrTTLAttribute saying %q", err, c.want)
			}
		})
	}
}
