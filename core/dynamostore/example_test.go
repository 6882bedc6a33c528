package dynamostore_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/dynamostore"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// A limiter whose state is shared by every instance through one DynamoDB table, falling back
// to a local in-memory limit (divided among 4 instances) while DynamoDB is unreachable.
// Region, credentials and endpoint come from the standard AWS environment
// (AWS_REGION, AWS_PROFILE or AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL_DYNAMODB for dynalite).
func Example() {
	ctx := context.Background()
	client, err := dynamostore.NewClient(ctx, dynamostore.ClientOptions{})
	if err != nil {
		log.Fatal(err)
	}
	// Usually done once by an operator: tollgate dynamodb-create-table -table tollgate
	if _, err := dynamostore.CreateTable(ctx, client, dynamostore.TableOptions{Name: "tollgate"}); err != nil {
		log.Fatal(err)
	}
	store, err := dynamostore.New(client, dynamostore.Config{Table: "tollgate"})
	if err != nil {
		log.Fatal(err)
	}
	// At startup: the table exists, with the key schema the store writes (names the table,
	// the region and the endpoint otherwise).
	if err := store.Verify(ctx); err != nil {
		log.Fatal(err)
	}
	limiter, err := core.NewLimiter(core.Config{
		Store: store,
		Rules: []core.Rule{
			{Policy: core.NewTokenBucket("burst", 10, time.Second, 20)},
			{Policy: core.NewFixedWindow("daily", 10_000, 24*time.Hour)},
		},
		Failure:           core.FailFallback,
		Fallback:          memstore.New(),
		FallbackInstances: 4,
	})
	if err != nil {
		log.Fatal(err)
	}
	res, err := limiter.AllowKey(ctx, "api-key-123", 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("allowed:", res.Allowed)
}

// Keys of any bytes become fixed-length partition keys: the policy's algorithm and name, the
// SHA-256 of the key, and the window's start. No call is made.
func ExampleStore_PartitionKey() {
	client, err := dynamostore.NewClient(context.Background(), dynamostore.ClientOptions{
		Region:      "us-east-1",
		LoadOptions: []func(*config.LoadOptions) error{config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("id", "secret", ""))},
	})
	if err != nil {
		log.Fatal(err)
	}
	store, err := dynamostore.New(client, dynamostore.Config{Table: "tollgate", KeyPrefix: "shop:"})
	if err != nil {
		log.Fatal(err)
	}
	at := time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)
	fmt.Println(store.PartitionKey("203.0.113.7", core.NewFixedWindow("per-ip", 100, time.Minute), at))
	fmt.Println(store.PartitionKey("203.0.113.7", core.NewTokenBucket("burst", 10, time.Second, 20), at))
	// Output:
	// shop:fw:per-ip:_sUlZaoM8Y9X189bOscoUDuJktLW99RtodEgEJCQKwI:1795512600000000000
	// shop:tb:burst:_sUlZaoM8Y9X189bOscoUDuJktLW99RtodEgEJCQKwI
}
