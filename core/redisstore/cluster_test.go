package redisstore_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/tollgate-go/tollgate/core/storetest"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// clusterClient returns a client of the shared 3-master Redis Cluster (scripts/servers.sh).
func clusterClient(t testing.TB) *redis.ClusterClient {
	t.Helper()
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: testenv.RedisClusterAddrs(t), DisableIdentity: true, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestCluster runs the store's conformance suites on a real Redis Cluster through a
// ClusterClient: rate and lease decisions equal core's, adjustments (settled costs, refunds)
// too, exact under concurrency, bad input refused, clock skew bounded. A script whose keys were in different hash slots would fail
// every call with CROSSSLOT; the test also checks, on the servers, that the keys of each
// (policy, key) share one slot while different keys spread over the masters.
func TestCluster(t *testing.T) {
	c := clusterClient(t)
	ctx := context.Background()
	prefix := testenv.UniqueName("tg-cluster") + ":"
	s := newPrefixed(t, c, prefix)
	if err := s.Verify(ctx); err != nil {
		t.Fatalf("Verify on the cluster: %v", err)
	}
	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, s, storetest.Options{})
		storetest.RunConcurrency(t, s, storetest.Options{})
	})
	t.Run("Adjust", func(t *testing.T) {
		storetest.RunAdjust(t, s, storetest.Options{})
	})
	t.Run("Skew", func(t *testing.T) {
		skewPrefix := testenv.UniqueName("tg-cluster-skew") + ":"
		storetest.RunSkew(t, newPrefixed(t, clusterClient(t), skewPrefix), newPrefixed(t, clusterClient(t), skewPrefix),
			storetest.SkewOptions{Store: "redis-cluster"})
	})
	t.Run("HashSlots", func(t *testing.T) {
		var mu sync.Mutex
		perMaster := map[string]int{}
		slots := map[string]map[int64]bool{} // "{…}" hash tag → slots of its keys
		err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			iter := m.Scan(ctx, 0, prefix+"*", 1000).Iterator()
			for iter.Next(ctx) {
				k := iter.Val()
				slot, err := m.ClusterKeySlot(ctx, k).Result()
				if err != nil {
					return err
				}
				tag := k[:strings.IndexByte(k, '}')+1]
				mu.Lock()
				perMaster[m.Options().Addr]++
				if slots[tag] == nil {
					slots[tag] = map[int64]bool{}
				}
				slots[tag][slot] = true
				mu.Unlock()
			}
			return iter.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		multi := 0
		for tag, ss := range slots {
			if len(ss) != 1 {
				t.Fatalf("the keys of %s are in %d hash slots; a script needs them in one", tag, len(ss))
			}
			multi++
		}
		t.Logf("keys left by the suites, per master: %v (%d hash tags, each in one slot)", perMaster, multi)
		if len(perMaster) < 2 {
			t.Fatalf("every key is on one master (%v): the hash tags do not spread keys over the cluster", perMaster)
		}
	})
}

// TestExactAcrossProcessesCluster is TestExactAcrossProcesses on the Redis Cluster: 4 OS
// processes × 16 goroutines, each with its own ClusterClient, on one key.
func TestExactAcrossProcessesCluster(t *testing.T) {
	exactAcross(t, "cluster", strings.Join(testenv.RedisClusterAddrs(t), ","))
}
