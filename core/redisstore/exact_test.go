package redisstore_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/redisstore"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

const (
	exactProcs      = 4
	exactGoroutines = 16
	exactAttempts   = 10 // per goroutine and policy: 640 attempts in all
)

// exactPolicies are what the processes compete for: 200 units each (8 leases).
func exactPolicies() []core.Policy {
	return []core.Policy{
		core.NewFixedWindow("exact-fw", 200, time.Hour),
		core.NewSlidingWindow("exact-sw", 200, time.Hour),
		core.NewTokenBucket("exact-tb", 1, time.Hour, 200),
		core.NewConcurrency("exact-sem", 8, time.Hour),
	}
}

// TestExactAcrossProcesses runs 4 OS processes × 16 goroutines against one key on
// redis-server, all at the same instant (no refill), and checks that exactly the limit was
// admitted in all.
func TestExactAcrossProcesses(t *testing.T) {
	exactAcross(t, "single", testenv.RedisAddr(t))
}

// exactAcross runs the exactness test against a single node or, with mode "cluster", a
// Redis Cluster whose masters are the comma-separated addrs.
func exactAcross(t *testing.T, mode, addrs string) {
	prefix := testenv.UniqueName("tg-exact") + ":"
	now := time.Now()
	outs := testenv.SpawnChildren(t, exactProcs, "exact", "TG_EXACT_MODE="+mode,
		"TG_EXACT_ADDR="+addrs, "TG_EXACT_PREFIX="+prefix, "TG_EXACT_NOW="+strconv.FormatInt(now.UnixNano(), 10))
	allowed := map[string]int64{}
	for i, out := range outs {
		t.Logf("process %d: %s", i, strings.ReplaceAll(strings.TrimSpace(out), "\n", "; "))
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var name string
			var a, d int64
			if _, err := fmt.Sscanf(line, "%s allowed=%d denied=%d", &name, &a, &d); err != nil {
				t.Fatalf("process %d printed %q: %v", i, line, err)
			}
			if a+d != exactGoroutines*exactAttempts {
				t.Fatalf("process %d, %s: %d decisions, want %d", i, name, a+d, exactGoroutines*exactAttempts)
			}
			allowed[name] += a
		}
	}
	for _, p := range exactPolicies() {
		t.Logf("%s: %d processes × %d goroutines × %d attempts: %d admitted, limit %d",
			p.Name, exactProcs, exactGoroutines, exactAttempts, allowed[p.Name], p.Capacity())
		if allowed[p.Name] != p.Capacity() {
			t.Errorf("%s: %d admitted across processes, want exactly %d", p.Name, allowed[p.Name], p.Capacity())
		}
	}
}

// exactChild is one process of TestExactAcrossProcesses.
func exactChild() (string, error) {
	var c redis.UniversalClient
	if os.Getenv("TG_EXACT_MODE") == "cluster" {
		c = redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(os.Getenv("TG_EXACT_ADDR"), ","),
			PoolSize: exactGoroutines, DisableIdentity: true, ContextTimeoutEnabled: true})
	} else {
		c = redis.NewClient(&redis.Options{Addr: os.Getenv("TG_EXACT_ADDR"), PoolSize: exactGoroutines, DisableIdentity: true, ContextTimeoutEnabled: true})
	}
	defer c.Close()
	s, err := redisstore.New(c, redisstore.Config{Prefix: os.Getenv("TG_EXACT_PREFIX")})
	if err != nil {
		return "", err
	}
	ns, err := strconv.ParseInt(os.Getenv("TG_EXACT_NOW"), 10, 64)
	if err != nil {
		return "", err
	}
	now := time.Unix(0, ns)
	idx := os.Getenv("TOLLGATE_CHILD_INDEX")
	var out strings.Builder
	for _, p := range exactPolicies() {
		var allowed, denied atomic.Int64
		var firstErr atomic.Value
		var wg sync.WaitGroup
		for g := 0; g < exactGoroutines; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < exactAttempts; i++ {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					var d core.Decision
					var err error
					if p.Algorithm == core.Concurrency {
						d, err = s.Acquire(ctx, "hot", p, fmt.Sprintf("p%s-g%d-%d", idx, g, i), now)
					} else {
						d, err = s.Take(ctx, "hot", p, 1, now)
					}
					cancel()
					if err != nil {
						firstErr.CompareAndSwap(nil, err)
						return
					}
					if d.Allowed {
						allowed.Add(1)
					} else {
						denied.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		if err, _ := firstErr.Load().(error); err != nil {
			return out.String(), fmt.Errorf("%s: %w", p.Name, err)
		}
		fmt.Fprintf(&out, "%s allowed=%d denied=%d\n", p.Name, allowed.Load(), denied.Load())
	}
	return out.String(), nil
}
