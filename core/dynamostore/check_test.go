package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/dynamostore"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// TestCheckPolicy: a concurrency limit above MaxLeases is refused when the limiter is built
// (it used to be accepted, then every acquire failed: ValidationException past 400 KB, which
// FailOpen turned into "admit all"), naming the field and the bound; the limits it can hold
// pass.
func TestCheckPolicy(t *testing.T) {
	s, err := dynamostore.New(&fake{}, dynamostore.Config{Table: "t"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		p    core.Policy
		want string // "" when accepted
	}{
		{core.NewConcurrency("c", 1, time.Minute), ""},
		{core.NewConcurrency("c", dynamostore.MaxLeases, time.Minute), ""},
		{core.NewConcurrency("c", dynamostore.MaxLeases+1, time.Minute), "limit 4097 is above dynamostore.MaxLeases (4096)"},
		{core.NewConcurrency("c", 5000, time.Minute), "limit 5000 is above dynamostore.MaxLeases (4096)"},
		{core.NewConcurrency("c", 20000, time.Minute), "limit 20000 is above dynamostore.MaxLeases (4096)"},
		{core.NewFixedWindow("f", 1<<62, time.Hour), ""},
		{core.NewSlidingWindow("s", 1<<62, time.Hour), ""},
		{core.NewTokenBucket("b", 1000, time.Second, 1<<20), ""},
		{core.NewMonthlyQuota("m", 1<<40), ""},
	} {
		t.Run(fmt.Sprintf("%v/%d", c.p.Algorithm, c.p.Limit), func(t *testing.T) {
			err := s.CheckPolicy(c.p)
			if c.want == "" {
				if err != nil {
					t.Fatalf("CheckPolicy(%+v): %v; want accepted", c.p, err)
				}
				return
			}
			if !errors.Is(err, core.ErrInvalidPolicy) || err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("CheckPolicy(%+v): %v; want an ErrInvalidPolicy saying %q", c.p, err, c.want)
			}
			_, err = core.NewConcurrencyLimiter(core.ConcurrencyConfig{Store: s, Policy: c.p})
			if err == nil || !strings.Contains(err.Error(), "ConcurrencyConfig.Policy") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("NewConcurrencyLimiter: %v; want refused, naming ConcurrencyConfig.Policy and the bound", err)
			}
			t.Logf("NewConcurrencyLimiter: %v", err)
			// The store refuses it on its own too, without a request.
			if _, err := s.Acquire(context.Background(), "k", c.p, "id", time.Now()); !errors.Is(err, core.ErrInvalidPolicy) {
				t.Fatalf("Acquire: %v; want ErrInvalidPolicy", err)
			}
		})
	}
	t.Run("PolicyFunc", func(t *testing.T) {
		cl, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{Store: s,
			PolicyFunc: func(context.Context, string) (core.Policy, error) {
				return core.NewConcurrency("plan", 5000, time.Minute), nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := cl.AcquireKeyAt(context.Background(), "k", time.Now()); err == nil || !strings.Contains(err.Error(), "MaxLeases") {
			t.Fatalf("a PolicyFunc answer above MaxLeases: %v; want refused naming MaxLeases", err)
		}
	})
}

// TestNewRefusesOversizedNames: a KeyPrefix (or attribute name) that DynamoDB would refuse
// on every call is refused by New, naming the field and the bound; the longest accepted
// prefix works against dynalite with the longest policy name, for every algorithm.
func TestNewRefusesOversizedNames(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  dynamostore.Config
		want string
	}{
		{"prefix one byte too long", dynamostore.Config{Table: "t", KeyPrefix: strings.Repeat("p", dynamostore.MaxKeyPrefix+1)}, "Config.KeyPrefix is 1917 bytes; it must be at most 1916"},
		{"prefix far too long", dynamostore.Config{Table: "t", KeyPrefix: strings.Repeat("p", 5000)}, "Config.KeyPrefix is 5000 bytes"},
		{"prefix not UTF-8", dynamostore.Config{Table: "t", KeyPrefix: "\xff"}, "Config.KeyPrefix must be valid UTF-8"},
		{"partition key name", dynamostore.Config{Table: "t", PartitionKey: strings.Repeat("k", 256)}, "Config.PartitionKey must be valid UTF-8 of at most 255 bytes"},
		{"expiry attribute name", dynamostore.Config{Table: "t", ExpiryAttribute: strings.Repeat("e", 256)}, "Config.ExpiryAttribute must be valid UTF-8 of at most 255 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := dynamostore.New(&fake{}, c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "dynamostore: ") {
				t.Fatalf("New: %v; want an error saying %q", err, c.want)
			}
		})
	}

	t.Run("longest prefix works", func(t *testing.T) {
		api, table := sharedTable(t)
		s, err := dynamostore.New(api, dynamostore.Config{Table: table, KeyPrefix: strings.Repeat("p", dynamostore.MaxKeyPrefix)})
		if err != nil {
			t.Fatalf("New with a %d-byte prefix: %v", dynamostore.MaxKeyPrefix, err)
		}
		name := testenv.UniqueName("n")
		name += strings.Repeat("x", core.MaxNameLen-len(name))
		ctx, now := context.Background(), time.Now()
		for _, p := range []core.Policy{
			core.NewFixedWindow(name, 5, time.Minute), core.NewSlidingWindow(name, 5, time.Minute),
			core.NewTokenBucket(name, 5, time.Minute, 5), core.NewMonthlyQuota(name, 5),
		} {
			if d, err := s.Take(ctx, "k", p, 1, now); err != nil || !d.Allowed {
				t.Fatalf("%v with the longest prefix and name: %+v, %v", p.Algorithm, d, err)
			}
			if pk := s.PartitionKey("k", p, now); len(pk) > 2048 {
				t.Fatalf("partition key of %d bytes", len(pk))
			}
		}
		if d, err := s.Acquire(ctx, "k", core.NewConcurrency(name, 2, time.Minute), "id", now); err != nil || !d.Allowed {
			t.Fatalf("Acquire with the longest prefix and name: %+v, %v", d, err)
		}
	})
}
