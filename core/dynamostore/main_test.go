package dynamostore_test

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tollgate-go/tollgate/core/backoff"
	"github.com/tollgate-go/tollgate/core/dynamostore"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

func TestMain(m *testing.M) {
	testenv.RunChild(map[string]func() (string, error){
		"fixed-window": childFixedWindow,
		"semaphore":    childSemaphore,
		"settle":       childSettle,
	})
	code := m.Run()
	if shared.name != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, _ = shared.client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(shared.name)})
		cancel()
	}
	os.Exit(code)
}

// clientOptions returns the options of a client for a local server: static credentials, a
// fixed region, the given endpoint, and optionally an HTTP client (fault injection) and a
// retry policy.
func clientOptions(endpoint string, httpClient aws.HTTPClient, retry backoff.Policy) dynamostore.ClientOptions {
	o := dynamostore.ClientOptions{
		Region:   "us-east-1",
		Endpoint: endpoint,
		Retry:    retry,
		LoadOptions: []func(*config.LoadOptions) error{
			config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("tollgate", "tollgate", "")),
		},
	}
	o.HTTPClient = httpClient
	return o
}

func newClient(t testing.TB, endpoint string, httpClient aws.HTTPClient, retry backoff.Policy) *dynamodb.Client {
	t.Helper()
	c, err := dynamostore.NewClient(context.Background(), clientOptions(endpoint, httpClient, retry))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// shared is the table this test run creates on the shared dynalite; TestMain deletes it.
var shared struct {
	once   sync.Once
	err    error
	name   string
	client *dynamodb.Client
}

// sharedTable returns a client for the shared dynalite and the name of a table unique to
// this test run, created on first use.
func sharedTable(t testing.TB) (*dynamodb.Client, string) {
	t.Helper()
	ep := testenv.DynamoDBEndpoint(t)
	shared.once.Do(func() {
		c, err := dynamostore.NewClient(context.Background(), clientOptions(ep, nil, backoff.Policy{}))
		if err != nil {
			shared.err = err
			return
		}
		name := testenv.UniqueName("tollgate-dynamostore")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := dynamostore.CreateTable(ctx, c, dynamostore.TableOptions{Name: name}); err != nil {
			shared.err = err
			return
		}
		shared.name, shared.client = name, c
	})
	if shared.err != nil {
		t.Fatalf("shared table: %v", shared.err)
	}
	return shared.client, shared.name
}

// newStore returns a store on the shared table through api (the shared client when nil).
func newStore(t testing.TB, api dynamostore.API) *dynamostore.Store {
	t.Helper()
	c, table := sharedTable(t)
	if api == nil {
		api = c
	}
	s, err := dynamostore.New(api, dynamostore.Config{Table: table})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// counting wraps an API and counts the calls of each kind.
type counting struct {
	dynamostore.API
	gets, updates, deletes atomic.Int64
}

func (c *counting) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.gets.Add(1)
	return c.API.GetItem(ctx, in, o...)
}

func (c *counting) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.updates.Add(1)
	return c.API.UpdateItem(ctx, in, o...)
}

func (c *counting) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.deletes.Add(1)
	return c.API.DeleteItem(ctx, in, o...)
}

func (c *counting) total() int64 { return c.gets.Load() + c.updates.Load() + c.deletes.Load() }
