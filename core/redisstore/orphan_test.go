package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// paused is a private redis-server that a test can freeze with SIGSTOP: the kernel still
// accepts connections and buffers what clients send, and the server applies all of it when
// it gets SIGCONT, as a real server does after a long GC-like stall, a VM pause or a swap
// storm. (Stop, by contrast, refuses connections.)
type paused struct {
	*testenv.Server
	pid int
}

// newPausable starts a private redis-server, reads its pid from INFO (testenv keeps the
// process to itself), and returns it with a client (context timeouts enabled) whose pool already holds conns idle connections, so that commands sent while the
// server is stopped go out at once instead of waiting on a connection handshake.
func newPausable(t *testing.T, conns int) (*paused, *redis.Client) {
	t.Helper()
	srv := testenv.StartRedis(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, DisableIdentity: true, ContextTimeoutEnabled: true, PoolSize: 4 * conns})
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	pid := 0
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			pid, _ = strconv.Atoi(v)
		}
	}
	if pid <= 0 {
		t.Fatalf("no process_id in INFO server:\n%s", info)
	}
	held := make([]*redis.Conn, conns)
	for i := range held {
		held[i] = c.Conn()
		if err := held[i].Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, cn := range held {
		_ = cn.Close() // back to the pool, ready
	}
	p := &paused{Server: srv, pid: pid}
	t.Cleanup(p.resume) // a failed test must not leave a stopped process behind
	return p, c
}

func (p *paused) pause() {
	if err := syscall.Kill(p.pid, syscall.SIGSTOP); err != nil {
		panic(fmt.Sprintf("SIGSTOP redis-server %d: %v", p.pid, err))
	}
	if err := testenv.WaitStopped(p.pid, 5*time.Second); err != nil {
		panic(err.Error())
	}
}

func (p *paused) resume() { _ = syscall.Kill(p.pid, syscall.SIGCONT) }

// TestOrphanLeases is issue 12's orphan reproduction on a real redis-server: limit 3, lease
// 30 s, the server stopped (SIGSTOP) during 3 acquires through a core.ConcurrencyLimiter with
// a 100 ms budget. Each acquire gives up, but its EVALSHA is already in the server's socket
// buffer and is applied when the server resumes: without the limiter's background release,
// each would hold a slot for 30 s. A control key takes 3 acquires straight on the store at the
// same time (no limiter, so no release): its leases stay held, which proves the stalled
// acquires really were applied late. The test measures how long after SIGCONT all 3 slots of
// the limiter's key are free again.
func TestOrphanLeases(t *testing.T) {
	const limit = 3
	const stall = 700 * time.Millisecond // the stop lasts the acquires' 100 ms and this
	srv, c := newPausable(t, 2*limit+2)
	prefix := testenv.UniqueName("tg-orphan") + ":"
	s := newPrefixed(t, c, prefix)
	ctx := context.Background()
	if err := s.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	policy := core.NewConcurrency("orphan", limit, 30*time.Second)
	lim, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{
		Store:  s,
		Policy: policy,
		// every acquire reaches the store
		Config: core.Config{Timeout: 100 * time.Millisecond, Failure: core.FailClosed, Breaker: core.BreakerConfig{Failures: -1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// held counts the unexpired leases of key, from the store's own layout (see keys.go).
	held := func(key string) int64 {
		t.Helper()
		zkey := prefix + "{orphan:" + key + "}:cz"
		n, err := c.ZCount(ctx, zkey, strconv.FormatInt(time.Now().UnixMilli(), 10), "+inf").Result()
		if err != nil {
			t.Fatalf("ZCOUNT %s: %v", zkey, err)
		}
		return n
	}

	// Every command the server runs goes to its slow log, in execution order, with its
	// arguments: that shows when each stalled acquire was applied and what released it.
	for _, kv := range [][2]string{{"slowlog-log-slower-than", "0"}, {"slowlog-max-len", "100000"}} {
		if err := c.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Do(ctx, "SLOWLOG", "RESET").Err(); err != nil {
		t.Fatal(err)
	}

	srv.pause()
	var wg sync.WaitGroup
	errs := make([]error, 2*limit)
	for i := 0; i < limit; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			lease, _, err := lim.AcquireKeyAt(ctx, "limited", time.Now())
			if lease != nil {
				err = errors.New("granted a lease while the server was stopped")
			}
			errs[i] = err
		}()
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			_, errs[limit+i] = s.Acquire(cctx, "control", policy, fmt.Sprint("control-", i), time.Now())
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil {
			t.Fatalf("acquire %d while the server was stopped: no error, want a timeout", i)
		}
	}
	if !errors.Is(errs[0], core.ErrStoreUnavailable) {
		t.Fatalf("limiter acquire: %v, want ErrStoreUnavailable (FailClosed)", errs[0])
	}
	// Stay stopped a while: the limiter's background releases time out too, and each leaves
	// its EVALSHA queued in the server beside the acquires, on other connections, in an order
	// the server does not promise to keep (the case a single release could lose).
	time.Sleep(stall)
	resumed := time.Now()
	srv.resume()

	deadline := resumed.Add(10 * time.Second) // a third of the lease time
	var (
		n, control int64
		order      applied
	)
	for {
		n, control = held("limited"), held("control")
		order = scriptLog(t, c, "{orphan:limited}")
		if n == 0 && control == limit && order.acquired == limit && order.orphaned() == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond) // polling a real server: nothing to wait on instead
	}
	took := time.Since(resumed)
	t.Logf("server's execution order for the limiter's key: %s", order.trace)
	t.Logf("orphan: store=redis limit=%d free_after_recovery=%d seconds_to_free=%.3f", limit, limit-n, took.Seconds())
	t.Logf("control (3 acquires straight on the store, never released): %d of %d slots held after recovery", control, limit)
	if control != limit {
		t.Fatalf("control key: %d leases held, want %d: the stalled acquires were not applied late, so this test proves nothing", control, limit)
	}
	if order.acquired != limit {
		t.Fatalf("the server applied %d of the limiter's %d stalled acquires, want all (they were in its socket buffers)", order.acquired, limit)
	}
	if o := order.orphaned(); o != 0 {
		t.Fatalf("%d stalled acquires were applied with no release after them", o)
	}
	if n != 0 {
		t.Fatalf("%d of %d slots still held %v after the server resumed (lease %v): orphan leases", n, limit, took, policy.Lease)
	}
	if took > 5*time.Second {
		t.Fatalf("slots free %v after the server resumed; want well under the lease time %v", took, policy.Lease)
	}
	// And the limiter works again: all 3 slots can be taken, a 4th cannot.
	for i := 0; i <= limit; i++ {
		lease, res, err := lim.AcquireKeyAt(ctx, "limited", time.Now())
		if err != nil || (lease != nil) != (i < limit) {
			t.Fatalf("acquire %d after recovery: lease %v, %+v, %v; want %d granted, then denied", i, lease != nil, res, err, limit)
		}
	}
}

// applied is what a private server's slow log says it ran on one key's leases.
type applied struct {
	acquired int             // acquires applied
	pending  map[string]bool // leases acquired with no release applied after the acquire
	trace    string          // the operations in execution order: "a:<lease> r:<lease> …"
}

func (a applied) orphaned() int { return len(a.pending) }

// scriptLog reads the semaphore script calls on keys containing tag from the server's slow
// log (which logs every command: slowlog-log-slower-than 0), oldest first.
func scriptLog(t *testing.T, c *redis.Client, tag string) applied {
	t.Helper()
	entries, err := c.SlowLogGet(context.Background(), -1).Result()
	if err != nil {
		t.Fatalf("SLOWLOG GET: %v", err)
	}
	a := applied{pending: map[string]bool{}}
	var trace []string
	for i := len(entries) - 1; i >= 0; i-- { // newest first in the reply
		args := entries[i].Args
		// EVALSHA sha 2 <leases key> <expiry key> now op lease …
		if len(args) < 8 || !strings.EqualFold(args[0], "evalsha") || !strings.Contains(args[3], tag) {
			continue
		}
		op, id := args[6], args[7]
		trace = append(trace, op+":"+id[:min(8, len(id))])
		switch op {
		case "a":
			a.acquired++
			a.pending[id] = true
		case "r":
			delete(a.pending, id)
		}
	}
	a.trace = strings.Join(trace, " ")
	return a
}
