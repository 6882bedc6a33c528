package testenv

import (
	"strings"
	"testing"
)

// RedisClusterAddrs returns the host:port of each master of the shared Redis Cluster that
// scripts/servers.sh starts (three masters, no replicas), from TOLLGATE_REDIS_CLUSTER_ADDRS.
// Like every endpoint here, a missing one fails the test under TOLLGATE_REQUIRE_SERVERS=1 and
// skips it otherwise.
func RedisClusterAddrs(t testing.TB) []string {
	t.Helper()
	return strings.Split(lookup(t, "TOLLGATE_REDIS_CLUSTER_ADDRS", "the Redis Cluster (3 redis-server masters)"), ",")
}
