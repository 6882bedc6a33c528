package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/singleflight"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// API is the subset of *dynamodb.Client the store calls. Tests wrap it to count and fault
// calls; a *dynamodb.Client built by [NewClient] satisfies it. DescribeTable and
// DescribeTimeToLive are called by [Store.Verify] only.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	DescribeTimeToLive(ctx context.Context, in *dynamodb.DescribeTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// Config configures a [Store]. Zero values are the documented defaults.
type Config struct {
	// Table is the table's name. Required.
	Table string
	// PartitionKey is the name of the table's string partition key. Optional. Default:
	// DefaultPartitionKey.
	PartitionKey string
	// ExpiryAttribute is the number attribute, in Unix seconds, that the table's Time to
	// Live is enabled on. Optional. Default: DefaultExpiryAttribute.
	ExpiryAttribute string
	// KeyPrefix is prepended to every partition key, so several applications can share one
	// table. At most MaxKeyPrefix (1,916) bytes of UTF-8. Optional. Default: none.
	KeyPrefix string
	// MaxKeyBytes is the longest key accepted; longer keys get an error wrapping
	// core.ErrInvalidKey. Keys are hashed, so this only bounds the hashing work. Optional.
	// Default: 1 MiB.
	MaxKeyBytes int
	// CacheSize bounds each local cache (last known token-bucket TATs, previous sliding
	// windows' counts), in entries. The caches only save round trips; they never change a
	// decision. Optional. Default: 10,000.
	CacheSize int
}

const (
	// DefaultPartitionKey is the partition key's name when [Config] and [TableOptions]
	// name none.
	DefaultPartitionKey = "pk"
	// DefaultExpiryAttribute is the TTL attribute's name when [Config] and [TableOptions]
	// name none.
	DefaultExpiryAttribute = "exp"
)

// TTLGrace is added to every item's expiry attribute beyond the last instant its state can
// affect a decision, so that clock skew between instances never lets TTL delete live state.
const TTLGrace = time.Hour

// MaxLeases is the largest concurrency limit the store accepts: all leases of a key live in
// one item, and DynamoDB items are at most 400 KB. A lease takes at most 64 bytes of name and
// about 12 of expiry, so 4,096 leases take about 311 KB (see the package documentation).
const MaxLeases = 4096

// Names of the data attributes. They are fixed so that operators can read items.
const (
	attrCount  = "n"   // fixed and sliding window: cost spent in the item's window
	attrTAT    = "tat" // token bucket: theoretical arrival time, Unix ns
	attrLeases = "h"   // concurrency: map of encoded lease ID → expiry, Unix ns
	// concurrency: the release watermark, the time (Unix ns) of the latest release of a
	// lease that was not held; a lease is granted only by an Acquire stamped after it
	attrReleased = "r"
)

// maxRounds bounds the compare-and-retry rounds of one decision. Each round that fails has
// learned a newer state written by another caller, so a handful always suffices in practice.
const maxRounds = 8

// errContention is returned when maxRounds were not enough.
var errContention = errors.New("dynamostore: state kept changing under contention; no decision")

// Store is a [core.Store], [storekit.Adjuster] and [core.ConcurrencyStore] on one DynamoDB table. Build it with
// [New]. Safe for concurrent use; share one Store per table in a process.
type Store struct {
	api     API
	table   string
	pkAttr  string
	expAttr string
	prefix  string
	maxKey  int
	tats    *cache // partition key → last known TAT (token bucket)
	prevs   *cache // partition key of a past window → its final count (sliding window)
	// prevFlight collapses concurrent reads of one past window's count into one GetItem.
	prevFlight singleflight.Group
}

var (
	_ core.Store            = (*Store)(nil)
	_ core.ConcurrencyStore = (*Store)(nil)
)

// New returns a store on cfg.Table through client, or an error for a bad configuration. It
// makes no call: create the table first with [CreateTable], and call [Store.Verify] at
// startup to check it.
func New(client API, cfg Config) (*Store, error) {
	if client == nil {
		return nil, errors.New("dynamostore: a DynamoDB client is required (see NewClient)")
	}
	if cfg.Table == "" {
		return nil, errors.New("dynamostore: Config.Table is required")
	}
	if cfg.MaxKeyBytes < 0 || cfg.CacheSize < 0 {
		return nil, errors.New("dynamostore: MaxKeyBytes and CacheSize must not be negative")
	}
	if cfg.PartitionKey == "" {
		cfg.PartitionKey = DefaultPartitionKey
	}
	if cfg.ExpiryAttribute == "" {
		cfg.ExpiryAttribute = DefaultExpiryAttribute
	}
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	switch cfg.ExpiryAttribute {
	case cfg.PartitionKey, attrCount, attrTAT, attrLeases, attrReleased:
		return nil, fmt.Errorf("dynamostore: ExpiryAttribute %q collides with another attribute", cfg.ExpiryAttribute)
	}
	switch cfg.PartitionKey {
	case attrCount, attrTAT, attrLeases, attrReleased:
		return nil, fmt.Errorf("dynamostore: PartitionKey %q collides with a data attribute", cfg.PartitionKey)
	}
	if cfg.MaxKeyBytes == 0 {
		cfg.MaxKeyBytes = 1 << 20
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = 10000
	}
	return &Store{
		api:     client,
		table:   cfg.Table,
		pkAttr:  cfg.PartitionKey,
		expAttr: cfg.ExpiryAttribute,
		prefix:  cfg.KeyPrefix,
		maxKey:  cfg.MaxKeyBytes,
		tats:    newCache(cfg.CacheSize),
		prevs:   newCache(cfg.CacheSize),
	}, nil
}

// Take implements [core.Store]. See the package documentation for the round trips of each
// algorithm. Errors wrap core.ErrInvalidKey, core.ErrInvalidPolicy and the other core
// sentinels for bad input, and the SDK's error for a backend failure.
func (s *Store) Take(ctx context.Context, key string, p core.Policy, cost int64, now time.Time) (core.Decision, error) {
	if err := storekit.CheckTake(p, cost); err != nil {
		return core.Decision{}, err
	}
	if err := s.checkKey(key); err != nil {
		return core.Decision{}, err
	}
	n := now.UnixNano()
	base := s.baseKey(key, p)
	switch p.Algorithm {
	case core.FixedWindow:
		return s.fixedWindow(ctx, base, p, cost, n)
	case core.SlidingWindow:
		return s.slidingWindow(ctx, base, p, cost, n)
	default:
		return s.gcra(ctx, base, p, cost, n)
	}
}

func (s *Store) checkKey(key string) error {
	if len(key) > s.maxKey {
		return fmt.Errorf("dynamostore: %w: %d bytes > MaxKeyBytes %d", core.ErrInvalidKey, len(key), s.maxKey)
	}
	return nil
}

// itemKey returns the primary key of the item with partition key pk.
func (s *Store) itemKey(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{s.pkAttr: &types.AttributeValueMemberS{Value: pk}}
}

// get reads an item with a strongly consistent read; a missing item is a nil map.
func (s *Store) get(ctx context.Context, pk string) (map[string]types.AttributeValue, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &s.table,
		Key:            s.itemKey(pk),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("dynamostore: GetItem: %w", err)
	}
	return out.Item, nil
}

// getNumber reads one number attribute of an item (0 when the item or attribute is missing).
func (s *Store) getNumber(ctx context.Context, pk, attr string) (int64, error) {
	item, err := s.get(ctx, pk)
	if err != nil {
		return 0, err
	}
	return number(item, attr)
}

// num renders an int64 as a DynamoDB number.
func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// number reads attribute name of item as an int64; a missing attribute is 0.
func number(item map[string]types.AttributeValue, name string) (int64, error) {
	av, ok := item[name]
	if !ok {
		return 0, nil
	}
	n, ok := av.(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("dynamostore: attribute %q is a %T, not a number", name, av)
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("dynamostore: attribute %q: %w", name, err)
	}
	return v, nil
}

// ttl returns the expiry attribute's value for state that stops mattering at ns (Unix ns).
func ttl(ns int64) types.AttributeValue {
	sec := ns / int64(time.Second)
	if ns%int64(time.Second) > 0 {
		sec++
	}
	return num(sec + int64(TTLGrace/time.Second))
}

// conditionFailed reports whether err is a failed condition and returns the item as it was
// (nil when the server did not return it, or when there was no item).
func conditionFailed(err error) (item map[string]types.AttributeValue, failed bool) {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ccf.Item, true
	}
	return nil, false
}

// backendError wraps an SDK error of op.
func backendError(op string, err error) error {
	return fmt.Errorf("dynamostore: %s: %w", op, err)
}
