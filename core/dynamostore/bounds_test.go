package dynamostore_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/dynamostore"
)

// TestBoundsAreInclusive: every documented bound admits a value exactly at it and refuses one
// past it — a key of MaxKeyBytes, key attribute names of 255 bytes (DynamoDB's bound), and
// lease IDs of 48 bytes written out (base64url; longer ones are stored hashed, as "~" and the
// base64url SHA-256).
func TestBoundsAreInclusive(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	for _, field := range []string{"PartitionKey", "ExpiryAttribute"} {
		for _, n := range []int{255, 256} {
			cfg := dynamostore.Config{Table: "t"}
			name := strings.Repeat("a", n)
			if field == "PartitionKey" {
				cfg.PartitionKey = name
			} else {
				cfg.ExpiryAttribute = name
			}
			_, err := dynamostore.New(&fake{}, cfg)
			if (err == nil) != (n == 255) {
				t.Errorf("Config.%s of %d bytes: %v; want accepted at 255, refused past it", field, n, err)
			}
		}
	}

	fw := core.NewFixedWindow("fw", 10, time.Minute)
	f := &fake{answers: []answer{{item: item("n", n(1))}}}
	s, err := dynamostore.New(f, dynamostore.Config{Table: "t", MaxKeyBytes: 16})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Take(ctx, strings.Repeat("k", 16), fw, 1, now); err != nil {
		t.Errorf("a key of exactly MaxKeyBytes: %v, want it taken", err)
	}
	if _, err := s.Take(ctx, strings.Repeat("k", 17), fw, 1, now); !errors.Is(err, core.ErrInvalidKey) {
		t.Errorf("a key past MaxKeyBytes: %v, want ErrInvalidKey", err)
	}

	sem := core.NewConcurrency("sem", 2, time.Minute)
	for _, c := range []struct {
		id     string
		hashed bool
	}{{strings.Repeat("x", 48), false}, {strings.Repeat("x", 49), true}} {
		f := &fake{answers: []answer{{}}}
		s, err := dynamostore.New(f, dynamostore.Config{Table: "t"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Acquire(ctx, "k", sem, c.id, now); err != nil {
			t.Fatalf("Acquire of a %d-byte ID: %v", len(c.id), err)
		}
		got := f.updates[0].ExpressionAttributeNames["#id"]
		if hashed := strings.HasPrefix(got, "~"); hashed != c.hashed || !c.hashed && got != base64.RawURLEncoding.EncodeToString([]byte(c.id)) {
			t.Errorf("a %d-byte lease ID is stored as %q; want it %s", len(c.id), got, map[bool]string{true: "hashed", false: "written out (base64url)"}[c.hashed])
		}
	}
}

// TestLongestPrefixAndName: a KeyPrefix of MaxKeyPrefix bytes and a policy name of
// core.MaxNameLen bytes make partition keys of exactly DynamoDB's 2,048 bytes: accepted.
func TestLongestPrefixAndName(t *testing.T) {
	s, err := dynamostore.New(&fake{}, dynamostore.Config{Table: "t", KeyPrefix: strings.Repeat("p", dynamostore.MaxKeyPrefix)})
	if err != nil {
		t.Fatalf("New with a KeyPrefix of MaxKeyPrefix bytes: %v", err)
	}
	for _, p := range []core.Policy{
		core.NewFixedWindow(strings.Repeat("n", core.MaxNameLen), 10, time.Minute),
		core.NewConcurrency(strings.Repeat("c", core.MaxNameLen), 10, time.Minute),
	} {
		if err := s.CheckPolicy(p); err != nil {
			t.Errorf("CheckPolicy of a %d-byte name with the longest prefix: %v", len(p.Name), err)
		}
	}
}
