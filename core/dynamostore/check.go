package dynamostore

import (
	"fmt"
	"unicode/utf8"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// DynamoDB's bounds that the store's configuration and policies must fit
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html).
const (
	// maxPartitionKeyBytes is the longest partition key value DynamoDB accepts.
	maxPartitionKeyBytes = 2048
	// maxKeyAttributeBytes is the longest name of a key attribute.
	maxKeyAttributeBytes = 255
	// keySuffixBytes is the most the store appends to KeyPrefix in a partition key: a tag
	// (2), ':', a policy name (core.MaxNameLen), ':', the key's hash (43), ':' and a window
	// start (at most 20).
	keySuffixBytes = 2 + 1 + core.MaxNameLen + 1 + 43 + 1 + 20
	// MaxKeyPrefix is the longest Config.KeyPrefix: a partition key is KeyPrefix and up to
	// 132 more bytes, within DynamoDB's 2,048.
	MaxKeyPrefix = maxPartitionKeyBytes - keySuffixBytes
)

var _ storekit.PolicyChecker = (*Store)(nil)

// CheckPolicy implements [storekit.PolicyChecker]: the limiters call it when they are built (and
// on every PolicyFunc answer), so that a policy the store cannot hold is refused up front
// instead of failing every request. It refuses a concurrency limit above [MaxLeases] (all
// leases of a key live in one item of at most 400 KB). Every other policy that
// [core.Policy.Validate] accepts fits: counts and times are int64 numbers, well within
// DynamoDB's 38 digits, and New bounds KeyPrefix so that every partition key fits. The error
// is a *core.PolicyError (wrapping core.ErrInvalidPolicy) naming the field and the bound.
func (s *Store) CheckPolicy(p core.Policy) error {
	if p.Algorithm == core.Concurrency && p.Limit > MaxLeases {
		return &core.PolicyError{Name: p.Name, Problem: fmt.Sprintf(
			"limit %d is above dynamostore.MaxLeases (%d): all leases of a key live in one DynamoDB item of at most 400 KB",
			p.Limit, MaxLeases)}
	}
	if n := len(s.prefix) + keySuffixBytes - core.MaxNameLen + len(p.Name); n > maxPartitionKeyBytes {
		// Unreachable through New and Validate; kept for a policy that skipped Validate.
		return &core.PolicyError{Name: p.Name, Problem: fmt.Sprintf(
			"name makes partition keys of %d bytes, over DynamoDB's %d", n, maxPartitionKeyBytes)}
	}
	return nil
}

// checkConfig refuses names that DynamoDB would refuse on every call.
func checkConfig(cfg Config) error {
	if len(cfg.KeyPrefix) > MaxKeyPrefix {
		return fmt.Errorf("dynamostore: Config.KeyPrefix is %d bytes; it must be at most %d (MaxKeyPrefix): a partition key is KeyPrefix and up to %d more bytes, and DynamoDB allows %d",
			len(cfg.KeyPrefix), MaxKeyPrefix, keySuffixBytes, maxPartitionKeyBytes)
	}
	if !utf8.ValidString(cfg.KeyPrefix) {
		return fmt.Errorf("dynamostore: Config.KeyPrefix must be valid UTF-8 (DynamoDB strings are)")
	}
	for _, f := range []struct{ field, v string }{{"PartitionKey", cfg.PartitionKey}, {"ExpiryAttribute", cfg.ExpiryAttribute}} {
		if len(f.v) > maxKeyAttributeBytes || !utf8.ValidString(f.v) {
			return fmt.Errorf("dynamostore: Config.%s must be valid UTF-8 of at most %d bytes (DynamoDB's bound for key and TTL attribute names); it is %d bytes",
				f.field, maxKeyAttributeBytes, len(f.v))
		}
	}
	return nil
}
