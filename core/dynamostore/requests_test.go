package dynamostore_test

import (
	"context"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/dynamostore"
	"github.com/tollgate-go/tollgate/core/storekit"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// TestRequestsPerDecision counts DynamoDB calls through the narrow client interface.
func TestRequestsPerDecision(t *testing.T) {
	ctx := context.Background()
	now := time.Now()

	t.Run("FixedWindow", func(t *testing.T) {
		c := &counting{API: nil}
		c.API, _ = sharedTable(t)
		s := newStore(t, c)
		p := core.NewFixedWindow(testenv.UniqueName("count-fw"), 20, time.Hour)
		allowed := 0
		const decisions = 50
		for i := range decisions {
			d, err := s.Take(ctx, "k", p, 1, now)
			if err != nil {
				t.Fatalf("take %d: %v", i, err)
			}
			if d.Allowed {
				allowed++
			}
		}
		t.Logf("fixed window: %d decisions (%d allowed, %d denied): %d UpdateItem, %d GetItem = %.2f requests per decision",
			decisions, allowed, decisions-allowed, c.updates.Load(), c.gets.Load(), float64(c.total())/decisions)
		if allowed != 20 || c.updates.Load() != decisions || c.gets.Load() != 0 {
			t.Fatalf("got %d allowed, %d updates, %d gets; want 20 allowed and exactly one UpdateItem per decision", allowed, c.updates.Load(), c.gets.Load())
		}
	})

	t.Run("SlidingWindow", func(t *testing.T) {
		c := &counting{}
		c.API, _ = sharedTable(t)
		s := newStore(t, c)
		p := core.NewSlidingWindow(testenv.UniqueName("count-sw"), 20, time.Hour)
		const decisions = 50
		var denied int64
		for i := range decisions {
			d, err := s.Take(ctx, "k", p, 1, now.Add(time.Duration(i)*time.Millisecond))
			if err != nil {
				t.Fatalf("take %d: %v", i, err)
			}
			if !d.Allowed {
				denied++
			}
		}
		// A denial needs the current count (its RetryAfter depends on it, and a count in
		// debt may be past the limit): real DynamoDB returns it with the failed condition
		// (ALL_OLD), dynalite does not, so here each denial reads it with a GetItem.
		t.Logf("sliding window: %d decisions in one window (%d denied): %d UpdateItem, %d GetItem (the previous window once, and one per denial on dynalite) = %.2f requests per decision",
			decisions, denied, c.updates.Load(), c.gets.Load(), float64(c.total())/decisions)
		if denied != decisions-20 || c.updates.Load() != decisions || c.gets.Load() != 1+denied {
			t.Fatalf("%d denied, %d updates and %d gets; want 30 denied, one UpdateItem per decision, one GetItem per window and one per denial", denied, c.updates.Load(), c.gets.Load())
		}
	})

	t.Run("Leases", func(t *testing.T) {
		c := &counting{}
		c.API, _ = sharedTable(t)
		s := newStore(t, c)
		p := core.NewConcurrency(testenv.UniqueName("count-cc"), 2, time.Minute)
		const rounds = 20
		for i := range rounds {
			id := fmt.Sprint("lease-", i)
			if d, err := s.Acquire(ctx, "k", p, id, now); err != nil || !d.Allowed {
				t.Fatalf("acquire %d: %+v, %v", i, d, err)
			}
			if err := s.Release(ctx, "k", p, id, now); err != nil {
				t.Fatalf("release %d: %v", i, err)
			}
		}
		// 20 acquires and 20 releases; the first acquire creates the map (2 updates and a
		// GetItem on dynalite, which does not return the item of a failed condition).
		calls := c.total()
		t.Logf("leases: %d acquire+release pairs: %d UpdateItem, %d GetItem = %.2f requests per operation",
			rounds, c.updates.Load(), c.gets.Load(), float64(calls)/(2*rounds))
		if calls != 2*rounds+2 {
			t.Fatalf("%d calls for %d acquires and releases; want one each, plus 2 to create the map", calls, 2*rounds)
		}
	})

	t.Run("CachedDenials", func(t *testing.T) {
		c := &counting{}
		c.API, _ = sharedTable(t)
		s := newStore(t, c)
		p := core.NewFixedWindow(testenv.UniqueName("count-deny"), 5, time.Hour)
		l, err := core.NewLimiter(core.Config{Store: s, Rules: []core.Rule{{Policy: p}}, Timeout: 5 * time.Second, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 6 { // 5 allowed, then the first denial reaches the store
			if _, err := l.AllowKey(ctx, "flood", 1); err != nil {
				t.Fatalf("take %d: %v", i, err)
			}
		}
		before := c.total()
		const flood = 1000
		for i := range flood {
			res, err := l.AllowKey(ctx, "flood", 1)
			if err != nil || res.Allowed {
				t.Fatalf("flood %d: %+v, %v; want a denial", i, res, err)
			}
		}
		extra := c.total() - before
		t.Logf("cached denials: %d denied requests after the limit: %d DynamoDB requests (%.3f per decision)", flood, extra, float64(extra)/flood)
		if extra != 0 {
			t.Fatalf("%d store calls for %d cached denials; want 0", extra, flood)
		}
	})

	t.Run("TokenBucketMixed", func(t *testing.T) {
		// Two application instances (two stores, each with its own cache) share 20 keys; each
		// key's traffic mostly goes through one instance, as with sticky load balancing, and
		// 20% through the other. Costs are 1 or 2; the clock advances randomly, so the
		// workload mixes full buckets, partial buckets and denials. Every decision is also
		// checked against core's pure GCRA.
		api, _ := sharedTable(t)
		ca, cb := &counting{API: api}, &counting{API: api}
		sa, sb := newStore(t, ca), newStore(t, cb)
		p := core.NewTokenBucket(testenv.UniqueName("count-tb"), 10, time.Second, 5)
		rng := rand.New(rand.NewSource(1))
		model := map[string]storekit.State{}
		clock := now
		const decisions = 2000
		allowed := 0
		for i := range decisions {
			clock = clock.Add(time.Duration(rng.Int63n(int64(20 * time.Millisecond))))
			k := rng.Intn(20)
			key := fmt.Sprintf("key-%d", k)
			cost := int64(1 + rng.Intn(2))
			s := sa
			if (k%2 == 0) != (rng.Intn(5) == 0) {
				s = sb
			}
			var want core.Decision
			model[key], want = storekit.Take(p, model[key], cost, clock.UnixNano())
			got, err := s.Take(ctx, key, p, cost, clock)
			if err != nil {
				t.Fatalf("decision %d: %v", i, err)
			}
			if got != want {
				t.Fatalf("decision %d (key %s cost %d): got %+v, want %+v", i, key, cost, got, want)
			}
			if got.Allowed {
				allowed++
			}
		}
		calls := ca.total() + cb.total()
		perDecision := float64(calls) / decisions
		t.Logf("token bucket, mixed workload: %d decisions (%d allowed, %d denied) over 2 instances: %d UpdateItem + %d GetItem = %.3f requests per decision",
			decisions, allowed, decisions-allowed, ca.updates.Load()+cb.updates.Load(), ca.gets.Load()+cb.gets.Load(), perDecision)
		if allowed == 0 || allowed == decisions {
			t.Fatalf("allowed %d of %d: the workload must mix grants and denials", allowed, decisions)
		}
		if perDecision > 1.2 {
			t.Fatalf("%.3f requests per token-bucket decision; want at most 1.2", perDecision)
		}
	})
}

// TestNewValidates checks that a bad configuration is an error, not a panic later.
func TestNewValidates(t *testing.T) {
	for name, cfg := range map[string]dynamostore.Config{
		"no table":          {},
		"negative cache":    {Table: "t", CacheSize: -1},
		"expiry is the key": {Table: "t", PartitionKey: "k", ExpiryAttribute: "k"},
		"key is data":       {Table: "t", PartitionKey: "tat"},
	} {
		if _, err := dynamostore.New(&fake{}, cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
	if _, err := dynamostore.New(nil, dynamostore.Config{Table: "t"}); err == nil {
		t.Errorf("New accepted a nil client")
	}
}

// gatedGets counts GetItems like counting, and holds each one at a gate that opens when
// `want` have arrived, or after a fail-safe half second: a store that reads the previous
// window once per goroutine sends all of its goroutines' reads into the gate, one that shares
// the read sends one.
type gatedGets struct {
	*counting
	want    int64
	arrived atomic.Int64
	gate    chan struct{}
	once    sync.Once
}

func (g *gatedGets) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if g.arrived.Add(1) == g.want {
		g.once.Do(func() { close(g.gate) })
	}
	select {
	case <-g.gate:
	case <-time.After(500 * time.Millisecond): // fail-safe: a shared read arrives alone
	}
	return g.counting.GetItem(ctx, in, o...)
}

// TestSlidingPreviousWindowReadOnce: 2 instances × 16 goroutines start deciding on one key of
// a sliding window at once. Each instance reads the previous window's count once (one GetItem
// shared by its goroutines, singleflight), not once per goroutine (32 reads before).
func TestSlidingPreviousWindowReadOnce(t *testing.T) {
	api, _ := sharedTable(t)
	const instances, goroutines = 2, 16
	p := core.NewSlidingWindow(testenv.UniqueName("prev-once"), 1000, time.Hour)
	now := time.Now()
	gates := make([]*gatedGets, instances)
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, instances*goroutines)
	for i := range gates {
		gates[i] = &gatedGets{counting: &counting{API: api}, want: goroutines, gate: make(chan struct{})}
		s := newStore(t, gates[i])
		for range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if d, err := s.Take(context.Background(), "k", p, 1, now); err != nil || !d.Allowed {
					errs <- fmt.Errorf("take: %+v, %v", d, err)
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var gets, updates int64
	for i, g := range gates {
		t.Logf("instance %d: %d goroutines: %d GetItem (the previous window), %d UpdateItem", i, goroutines, g.gets.Load(), g.updates.Load())
		if g.gets.Load() != 1 {
			t.Errorf("instance %d read the previous window %d times; want once", i, g.gets.Load())
		}
		gets += g.gets.Load()
		updates += g.updates.Load()
	}
	t.Logf("%d instances × %d goroutines: %d previous-window reads, %d updates", instances, goroutines, gets, updates)
}
