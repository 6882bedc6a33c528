package redisstore_test

import (
	"context"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate-go/tollgate/core/redisstore"
	"github.com/tollgate-go/tollgate/internal/reservetest"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// The children of this file are dispatched from init rather than from TestMain's table
// (redisstore_test.go), so that file needs no change; testenv.RunChild exits the process.
func init() {
	if os.Getenv("TOLLGATE_TEST_CHILD") == "reserve" {
		testenv.RunChild(map[string]func() (string, error){"reserve": reserveChild})
	}
}

// TestReservationsAcrossProcesses runs the reservations workload in 4 processes × 16
// goroutines on one hot key of redis-server for each rate algorithm: never more than the
// policy allows over the run, at least that minus the documented under-admission bound
// (storetest.CheckReserve, which logs the reservations: line), and at most 0.05 store
// requests (every command redis-server received, from a go-redis hook) per admitted request.
func TestReservationsAcrossProcesses(t *testing.T) {
	addr := testenv.RedisAddr(t)
	for _, alg := range []string{"fixed-window", "sliding-window", "token-bucket"} {
		t.Run(alg, func(t *testing.T) {
			reservetest.Across(t, "redis-server", alg, false, "TG_RES_ADDR="+addr, "TG_RES_PREFIX="+testenv.UniqueName("tg-reserve")+":")
		})
	}
}

// TestReservationsKilledProcess: as TestReservationsAcrossProcesses with a fixed window, but
// the parent kills one of the 4 processes (SIGKILL) while the second window is being spent:
// with its 100th admission of that window the process goes idle, holding what is left of its
// current batch, and the parent kills it. That allowance is stranded (never
// spent, never given back); the fleet still admits at least the limit minus the
// under-admission bound, and never more than the limit.
func TestReservationsKilledProcess(t *testing.T) {
	addr := testenv.RedisAddr(t)
	reservetest.Across(t, "redis-server", "fixed-window", true, "TG_RES_ADDR="+addr, "TG_RES_PREFIX="+testenv.UniqueName("tg-reserve-kill")+":")
}

// reserveChild is one process of a reservations run: a store on its own client, counting
// every command the client sends.
func reserveChild() (string, error) {
	c := redis.NewClient(&redis.Options{Addr: os.Getenv("TG_RES_ADDR"), PoolSize: reservetest.Goroutines,
		DisableIdentity: true, ContextTimeoutEnabled: true})
	defer c.Close()
	h := &requestHook{each: reservetest.Announce()}
	c.AddHook(h)
	s, err := redisstore.New(c, redisstore.Config{Prefix: os.Getenv("TG_RES_PREFIX")})
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.LoadScripts(ctx); err != nil { // so that every decision is one round trip
		return "", err
	}
	return reservetest.ChildRun(s, h.n.Load)
}

// requestHook counts the commands a go-redis client sends (each one round trip: the store
// never pipelines) and calls each, when set, before sending one.
type requestHook struct {
	n    atomic.Int64
	each func()
}

func (h *requestHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *requestHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		if h.each != nil {
			h.each()
		}
		return next(ctx, cmd)
	}
}

func (h *requestHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(int64(len(cmds)))
		for range cmds {
			if h.each != nil {
				h.each()
			}
		}
		return next(ctx, cmds)
	}
}
